"""Appending to the audit logs and signing their heads: what a service call's ``Unit`` runs before it commits.

Split from ``services/audit.py`` so that ``services/context.py`` can import it at
module level: ``audit.py`` (reading the log) takes a ``Context`` and imports
``context.py``; this module takes the ``Unit`` it is given and imports nothing of
``context.py`` (only its name, for type checking).

Appending (``append_events``): the events of one transaction, grouped by workspace. An entry's
place in the tree (its ``seq``, part of its leaf) is given under the log's head lock, one log at a
time, in a fixed order of workspaces (no lock-order deadlocks):

* **SQLite** has one writer, so the writing transaction appends in place: the head row is read
  (``audit_store.lock_head``), each entry costs a leaf hash, O(1) amortised node hashes and one row.
* **PostgreSQL** writers run side by side, and a head locked by each of them until its commit
  made every audited write of a workspace wait for the one before (two round trips each). There a
  writer only *queues* its entries (``audit_queue``, numbered by the database in insert order, sent
  with the COMMIT: no lock, no round trip of its own). ``fold`` — one transaction, under the head's
  lock — reads the queue in order, gives each entry its ``seq``, writes entries, nodes and head, and
  deletes what it folded; the feed's queued events are numbered in the same transaction
  (``events.fold_feed``). Who folds: every reader of the log or the feed before it reads, waiting
  for a fold in progress (so a reader sees everything committed before it asked); the checkpoint
  signer, likewise; and, without waiting (a fold in progress is left to run), the server's folder
  thread (``BASTION_AUDIT_FOLD_MS``) and a write that announced a feed event, right after its commit
  (so its deliveries exist when it answers, unless a fold was running). An entry queued by a
  transaction that commits after a fold began is simply folded by the next one.

Each entry is checked when it is queued (its leaf is built once with a stand-in place), so a
value the log cannot hold fails the writing transaction, never the folder. The completed subtrees at
levels 4, 8, 12, … are stored so proofs need O(log n) reads; every ``CHECKPOINT_EVERY`` entries a
checkpoint (a signed tree head, C2SP signed-note format, Ed25519) is signed, in the transaction
that appends or folds that entry.

The trap: an entry's leaf is its canonical JSON, stored verbatim; nothing rebuilds
it from the other columns (the folder builds each leaf once, from the queued entry).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import orjson

from .. import ids
from ..audit import AuditEntry, Frontier, checkpoint_origin, hash_children, leaf_bytes, leaf_hash, sign_checkpoint
from ..storage import audit_store
from ..storage.audit_store import NewEntry, NewNode, QueuedEntry

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
    """Append events to their workspaces' logs (called by the unit before commit): in place on
    SQLite, queued for the folder on PostgreSQL (module docstring)."""
    by_workspace: dict[str, list[PendingEvent]] = {}
    for event in events:
        by_workspace.setdefault(event.workspace_id, []).append(event)
    in_place = u.tx.db.is_sqlite
    with u.audit_scope(by_workspace):
        for workspace_id in sorted(by_workspace):  # a fixed order: no lock-order deadlocks
            batch = [(ids.new_id("aud"), event) for event in by_workspace[workspace_id]]
            if in_place:
                _extend(u, workspace_id, audit_store.lock_head(u.tx, workspace_id), batch)
            else:
                _queue(u, workspace_id, batch)


def _entry(workspace_id: str, seq: int, entry_id: str, event: PendingEvent) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        id=entry_id,
        at=_timestamp(event.at),
        workspace=workspace_id,
        actor=event.actor,
        action=event.action,
        target=event.target,
        details=event.details,
    )


_ord_lock = threading.Lock()
_last_ord = 0


def queue_ords(count: int) -> range:
    """``count`` queue positions: this process's clock in microseconds, strictly increasing here (what a
    transaction queues keeps its order; another process's entries of the same moment sort by id)."""
    global _last_ord
    with _ord_lock:
        first = max(_last_ord + 1, time.time_ns() // 1000)
        _last_ord = first + count - 1
    return range(first, first + count)


def _queue(u: Unit, workspace_id: str, batch: list[tuple[str, PendingEvent]]) -> None:
    rows = []
    for ord_, (entry_id, event) in zip(queue_ords(len(batch)), batch, strict=True):
        leaf_bytes(_entry(workspace_id, 0, entry_id, event))  # checked now: the folder must not meet it first
        details = orjson.dumps(event.details).decode()
        rows.append(QueuedEntry(ord_, entry_id, event.at, event.actor, event.action, event.target, details))
    audit_store.queue_entries(u.tx, workspace_id, rows)


def _extend(
    u: Unit, workspace_id: str, head: audit_store.Head, batch: list[tuple[str, PendingEvent]]
) -> audit_store.Head:
    """Append ``batch`` to the log whose head (locked) is ``head``; returns the new head."""
    frontier = Frontier.from_bytes(head.size, head.frontier)
    nodes = list(frontier.hashes)
    size = frontier.size
    rows, node_rows, checkpoints = [], [], []
    for entry_id, event in batch:
        entry = _entry(workspace_id, size, entry_id, event)
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
    frontier_bytes = b"".join(nodes)
    audit_store.insert_entries(u.tx, workspace_id, rows)
    audit_store.insert_nodes(u.tx, workspace_id, node_rows)
    audit_store.set_head(u.tx, workspace_id, size=size, frontier=frontier_bytes, now=u.now)
    for cp_size, root in checkpoints:
        _store_checkpoint(u, workspace_id, cp_size, root)
    return audit_store.Head(size, frontier_bytes)


FOLD_BATCH = 5000  # queued entries (and feed events: events.fold_feed) read at a time


def fold(u: Unit, workspace_id: str, *, wait: bool = True) -> int:
    """Give the log's queued entries their places, and the feed's queued events their numbers, in
    this (write) transaction, under the head's lock, which it then holds to the commit. Returns how
    many entries it folded; nothing is queued on SQLite, where this is a no-op.

    ``wait=False``: when another fold holds the head, leave it (0) rather than queue behind it — for
    folds that only keep the queue short (after a commit, the server's timer), never for a reader,
    which must see what was committed before it asked."""
    if u.tx.db.is_sqlite:
        return 0
    from .events import fold_feed  # events.py imports context.py, which imports this module

    folded = 0
    with u.audit_scope((workspace_id,)):
        head = audit_store.lock_head(u.tx, workspace_id) if wait else audit_store.try_lock_head(u.tx, workspace_id)
        if head is None:
            return 0
        while True:
            queued = audit_store.list_queued(u.tx, workspace_id, FOLD_BATCH)
            if not queued:
                break
            batch = [
                (q.id, PendingEvent(workspace_id, q.at, q.actor, q.action, q.target, orjson.loads(q.details)))
                for q in queued
            ]
            head = _extend(u, workspace_id, head, batch)
            audit_store.delete_queued(u.tx, workspace_id, [q.id for q in queued])
            folded += len(queued)
            if len(queued) < FOLD_BATCH:
                break
        fold_feed(u, workspace_id)
    return folded


def fold_apart(rt, workspace_ids=None, *, wait: bool = True) -> int:
    """Fold these workspaces' queues (None: every workspace with something queued), each in a
    transaction of its own, as the operator (``wait``: as ``fold``). Returns the entries folded; 0
    on SQLite."""
    if rt.db.is_sqlite:
        return 0
    from .context import Context
    from ..access import Actor

    ctx = Context(rt, Actor.system())
    if workspace_ids is None:
        with ctx.read() as r:
            workspace_ids = audit_store.list_queued_workspace_ids(r.tx)
    folded = 0
    for workspace_id in sorted(set(workspace_ids)):
        with ctx.write() as w:
            folded += fold(w, workspace_id, wait=wait)
    return folded


def fold_after_commit(rt, workspace_ids) -> None:
    """``fold_apart`` for a write that has committed and announced feed events, so that they have their
    numbers and deliveries when it answers. It does not queue behind a fold in progress (``wait=False``:
    under load, writers waiting on each other's folds is what queueing is for avoiding); what that fold
    began too early to see is left to the next one (another write's, the server's within
    ``BASTION_AUDIT_FOLD_MS``, or a reader's). The change stands whatever happens here, so a failure is
    logged and left likewise."""
    try:
        fold_apart(rt, workspace_ids, wait=False)
    except Exception:
        logging.getLogger("bastion.audit").exception("folding after a commit failed; the folder will retry")


def _store_checkpoint(u: Unit, workspace_id: str, size: int, root: bytes) -> str:
    name, key = signer(u.rt)
    note = sign_checkpoint(
        key, name, checkpoint_origin(deployment_name(u.rt), workspace_id), size, root, datetime.now(UTC)
    )
    # Another process may have signed this size first: the stored note is the one.
    return audit_store.store_checkpoint(u.tx, workspace_id, size, note, u.now)


def checkpoint_now(u: Unit, workspace_id: str) -> str | None:
    """Sign the current head (everything queued folded first) unless it is already signed; returns
    the latest note."""
    fold(u, workspace_id)  # before the scope below: a nested one would close it on leaving
    with u.audit_scope((workspace_id,)):
        frontier = load_head(u, workspace_id)
        latest = audit_store.find_latest_checkpoint(u.tx, workspace_id)
        if frontier.size == 0:
            return latest.note if latest else None
        if latest is not None and latest.size >= frontier.size:
            return latest.note
        return _store_checkpoint(u, workspace_id, frontier.size, frontier.root())
