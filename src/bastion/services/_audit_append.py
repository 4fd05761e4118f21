"""Appending to the audit logs and signing their heads: what a service call's ``Unit`` runs before it commits.

Split from ``services/audit.py`` so that ``services/context.py`` can import it at
module level: ``audit.py`` (reading the log) takes a ``Context`` and imports
``context.py``; this module takes the ``Unit`` it is given and imports nothing of
``context.py`` (only its name, for type checking).

Appending (``append_events``): the events of one transaction, grouped by
workspace, each workspace's log extended in a fixed order (no lock-order
deadlocks). Per log: its head row is locked (``audit_store.lock_head``), each entry
costs a leaf hash, O(1) amortised node hashes and one row; on PostgreSQL the rows and the
new head are sent with the COMMIT (``Statement.defer``), so the lock is held for two round
trips (the lock itself, the commit) whatever the transaction did before; the completed subtrees
at levels 4, 8, 12, … are stored so proofs need O(log n) reads; every
``CHECKPOINT_EVERY`` entries a checkpoint (a signed tree head, C2SP signed-note
format, Ed25519) is signed.

The trap: an entry's leaf is its canonical JSON, stored verbatim; nothing rebuilds
it from the other columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .. import ids
from ..audit import AuditEntry, Frontier, checkpoint_origin, hash_children, leaf_bytes, leaf_hash, sign_checkpoint
from ..storage import audit_store
from ..storage.audit_store import NewEntry, NewNode

if TYPE_CHECKING:  # the type only: context.py imports this module
    from .context import Unit

CHECKPOINT_EVERY = 1024
NODE_LEVEL_STEP = 4


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event recorded by ``Unit.audit``, appended to its workspace's log just before the commit."""

    workspace_id: str
    at: int
    actor: str
    action: str
    target: str | None
    details: dict


def deployment_name(rt) -> str:
    """The key name / origin prefix: the public URL's host, else 'bastion'."""
    if rt.settings.public_url:
        host = urlsplit(rt.settings.public_url).hostname
        if host:
            return host
    return "bastion"


def signer(rt):
    return rt.keyring.audit_signer(deployment_name(rt))


def _timestamp(ms: int) -> str:
    """``2026-12-06T09:30:00.123000Z``: an entry's time, part of its leaf (so its format is fixed).

    Every audited write formats one: ``time.gmtime`` and one ``strftime`` instead of an
    aware ``datetime`` built, replaced and formatted (the same string, in less than half the time)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}000Z"


def load_head(u: Unit, workspace_id: str) -> Frontier:
    """The log's tree as of this transaction (no lock)."""
    found = audit_store.find_head(u.tx, workspace_id)
    return Frontier() if found is None else Frontier.from_bytes(found.size, found.frontier)


def append_events(u: Unit, events: list[PendingEvent]) -> None:
    """Append events to their workspaces' logs (called by the unit before commit)."""
    by_workspace: dict[str, list[PendingEvent]] = {}
    for event in events:
        by_workspace.setdefault(event.workspace_id, []).append(event)
    with u.audit_scope(by_workspace):
        for workspace_id in sorted(by_workspace):  # a fixed order: no lock-order deadlocks
            _append(u, workspace_id, by_workspace[workspace_id])


def _append(u: Unit, workspace_id: str, events: list[PendingEvent]) -> None:
    head = audit_store.lock_head(u.tx, workspace_id)
    frontier = Frontier.from_bytes(head.size, head.frontier)
    nodes = list(frontier.hashes)
    size = frontier.size
    rows, node_rows, checkpoints = [], [], []
    for event in events:
        entry = AuditEntry(
            seq=size,
            id=ids.new_id("aud"),
            at=_timestamp(event.at),
            workspace=workspace_id,
            actor=event.actor,
            action=event.action,
            target=event.target,
            details=event.details,
        )
        data = leaf_bytes(entry)
        node = leaf_hash(entry)
        rows.append(NewEntry(size, entry.id, event.at, event.actor, event.action, event.target, data, node))
        # Frontier append, keeping the completed subtrees at levels 4, 8, 12, …
        level, carry = 0, size
        while carry & 1:
            node = hash_children(nodes.pop(), node)
            level += 1
            carry >>= 1
            if level % NODE_LEVEL_STEP == 0:
                node_rows.append(NewNode(level, ((size + 1) >> level) - 1, node))
        nodes.append(node)
        size += 1
        if size % CHECKPOINT_EVERY == 0:
            checkpoints.append((size, Frontier.from_hashes(size, nodes).root()))
    audit_store.insert_entries(u.tx, workspace_id, rows)
    audit_store.insert_nodes(u.tx, workspace_id, node_rows)
    audit_store.set_head(u.tx, workspace_id, size=size, frontier=b"".join(nodes), now=u.now)
    for cp_size, root in checkpoints:
        _store_checkpoint(u, workspace_id, cp_size, root)


def _store_checkpoint(u: Unit, workspace_id: str, size: int, root: bytes) -> str:
    name, key = signer(u.rt)
    note = sign_checkpoint(
        key, name, checkpoint_origin(deployment_name(u.rt), workspace_id), size, root, datetime.now(UTC)
    )
    # Another process may have signed this size first: the stored note is the one.
    return audit_store.store_checkpoint(u.tx, workspace_id, size, note, u.now)


def checkpoint_now(u: Unit, workspace_id: str) -> str | None:
    """Sign the current head unless it is already signed; returns the latest note."""
    with u.audit_scope((workspace_id,)):
        frontier = load_head(u, workspace_id)
        latest = audit_store.find_latest_checkpoint(u.tx, workspace_id)
        if frontier.size == 0:
            return latest.note if latest else None
        if latest is not None and latest.size >= frontier.size:
            return latest.note
        return _store_checkpoint(u, workspace_id, frontier.size, frontier.root())
