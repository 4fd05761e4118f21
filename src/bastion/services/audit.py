"""The audit log of each workspace: appended in the action's transaction, Merkle-hashed, signed.

Every security-relevant action calls ``Unit.audit(...)``; the events are
appended when the action's transaction is about to commit (so the head row of
the workspace's log is locked only for the commit itself) and commit or roll
back with it. Appending one event costs a leaf hash, O(1) amortised node
hashes and one row; the head row keeps the tree's size and frontier.

Checkpoints (signed tree heads, C2SP signed-note format, Ed25519) are made
every ``CHECKPOINT_EVERY`` entries, on demand (reading the latest checkpoint
signs one if the log has grown), and periodically by the server. They are what
a client saves and later checks the log against — offline, with nothing but the
published key (``bastion audit verify --file``).

Reading the log is itself recorded (``audit.read``, with what was read), once per
read request — except when the log's newest entry already is this person's
``audit.read``: then nothing happened since they last read it, and the record
stands for the repeat. A client polling an unchanged log therefore adds nothing,
and one paging through the log with small pages always reaches its end (a record
per page would keep adding entries behind it).

The trap: an entry's leaf is its canonical JSON, stored verbatim in ``leaf``.
Never rebuild leaves from the other columns when exporting; export ``leaf``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import func, select

from .. import ids
from ..access import Action
from ..audit import (
    AuditEntry,
    Frontier,
    checkpoint_origin,
    checkpoint_to_json,
    consistency_proof,
    hash_children,
    inclusion_proof,
    leaf_bytes,
    leaf_hash,
    sign_checkpoint,
    verifier_key_string,
    verify_log,
)
from ..audit.merkle import HASH_SIZE
from ..domain.errors import InvalidInput, NotFound
from ..storage import audit_store, schema
from .context import Context, Unit

E = schema.audit_events
H = schema.audit_heads
N = schema.audit_nodes
K = schema.audit_checkpoints
CHECKPOINT_EVERY = 1024
NODE_LEVEL_STEP = 4
MAX_PAGE = 5000


@dataclass(frozen=True, slots=True)
class PendingEvent:
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


def public_key(rt) -> str:
    name, key = signer(rt)
    return verifier_key_string(name, key)


def _timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def _load_head(u: Unit, workspace_id: str, *, lock: bool) -> Frontier:
    found = audit_store.head(u.tx, workspace_id, lock=lock)
    return Frontier() if found is None else Frontier.from_bytes(*found)


def append_events(u: Unit, events: list[PendingEvent]) -> None:
    """Append events to their workspaces' logs (called by the unit before commit)."""
    by_workspace: dict[str, list[PendingEvent]] = {}
    for event in events:
        by_workspace.setdefault(event.workspace_id, []).append(event)
    with u.audit_scope(by_workspace):
        for workspace_id in sorted(by_workspace):  # a fixed order: no lock-order deadlocks
            _append(u, workspace_id, by_workspace[workspace_id])


def _append(u: Unit, workspace_id: str, events: list[PendingEvent]) -> None:
    frontier = _load_head(u, workspace_id, lock=True)
    nodes = list(frontier.hashes)
    size = frontier.size
    rows, node_rows, checkpoints = [], [], []
    for event in events:
        entry = AuditEntry(
            seq=size, id=ids.new_id("aud"), at=_timestamp(event.at), workspace=workspace_id,
            actor=event.actor, action=event.action, target=event.target, details=event.details,
        )
        data = leaf_bytes(entry)
        node = leaf_hash(entry)
        rows.append({"workspace_id": workspace_id, "seq": size, "id": entry.id, "at": event.at,
                     "actor": event.actor, "action": event.action, "target": event.target,
                     "leaf": data, "leaf_hash": node})
        # Frontier append, keeping the completed subtrees at levels 4, 8, 12, …
        level, carry = 0, size
        while carry & 1:
            node = hash_children(nodes.pop(), node)
            level += 1
            carry >>= 1
            if level % NODE_LEVEL_STEP == 0:
                node_rows.append({"workspace_id": workspace_id, "level": level,
                                  "idx": ((size + 1) >> level) - 1, "hash": node})
        nodes.append(node)
        size += 1
        if size % CHECKPOINT_EVERY == 0:
            checkpoints.append((size, Frontier.from_hashes(size, nodes).root()))
    audit_store.INSERT_EVENT.many(u.tx, rows)
    if node_rows:
        audit_store.INSERT_NODE.many(u.tx, node_rows)
    audit_store.SET_HEAD.run(u.tx, ws=workspace_id, size=size, frontier=b"".join(nodes), now=u.now)
    for cp_size, root in checkpoints:
        _store_checkpoint(u, workspace_id, cp_size, root)


def _store_checkpoint(u: Unit, workspace_id: str, size: int, root: bytes) -> str:
    name, key = signer(u.rt)
    note = sign_checkpoint(key, name, checkpoint_origin(deployment_name(u.rt), workspace_id), size, root,
                           datetime.now(UTC))
    u.tx.dialect.insert_ignore(
        u.conn, "audit_checkpoints", ("workspace_id", "size", "note", "created_at"),
        [(workspace_id, size, note, u.now)], ("workspace_id", "size"),
    )
    # Another process may have signed this size first: the stored note is the one.
    return u.execute(select(K.c.note).where(K.c.workspace_id == workspace_id, K.c.size == size)).scalar_one()


def checkpoint_now(u: Unit, workspace_id: str) -> str | None:
    """Sign the current head unless it is already signed; returns the latest note."""
    with u.audit_scope((workspace_id,)):
        return _checkpoint_now(u, workspace_id)


def _checkpoint_now(u: Unit, workspace_id: str) -> str | None:
    frontier = _load_head(u, workspace_id, lock=False)
    latest = u.execute(
        select(K.c.size, K.c.note).where(K.c.workspace_id == workspace_id).order_by(K.c.size.desc()).limit(1)
    ).first()
    if frontier.size == 0:
        return latest.note if latest else None
    if latest is not None and latest.size >= frontier.size:
        return latest.note
    return _store_checkpoint(u, workspace_id, frontier.size, frontier.root())


def sign_pending_checkpoints(rt) -> int:
    """Sign a checkpoint for every workspace whose log grew since its last one (server timer)."""
    from ..access import Actor

    ctx = Context(rt, Actor.system())
    with ctx.read() as r:
        latest = (select(K.c.workspace_id, func.max(K.c.size).label("size")).group_by(K.c.workspace_id)).subquery()
        stale = r.execute(
            select(H.c.workspace_id).outerjoin(latest, latest.c.workspace_id == H.c.workspace_id)
            .where(H.c.size > func.coalesce(latest.c.size, 0))
        ).scalars().all()
    for workspace_id in stale:
        with ctx.write() as w:
            checkpoint_now(w, workspace_id)
    return len(stale)


# -- reading -------------------------------------------------------------------


def _require(u: Unit, workspace_id: str) -> None:
    u.access.require(Action.AUDIT_READ, workspace_id)


def _record_read(w: Unit, workspace_id: str, what: str) -> None:
    """``audit.read`` in the log being read, unless its newest entry is already this person's (module docstring)."""
    last = w.execute(select(E.c.actor, E.c.action).where(E.c.workspace_id == workspace_id)
                     .order_by(E.c.seq.desc()).limit(1)).first()
    if last is not None and last.action == "audit.read" and last.actor == w.actor.user_id:
        return
    w.audit(workspace_id, "audit.read", None, what=what)


def list_entries(ctx: Context, workspace_id: str, *, after: int = -1, limit: int = 100) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
    with ctx.write() as r:
        _require(r, workspace_id)
        _record_read(r, workspace_id, "entries")
        rows = r.execute(
            select(E.c.seq, E.c.leaf).where(E.c.workspace_id == workspace_id, E.c.seq > after)
            .order_by(E.c.seq).limit(limit + 1)
        ).all()
    items = [orjson.loads(row.leaf) for row in rows[:limit]]
    return {"items": items, "next_after": rows[limit - 1].seq if len(rows) > limit else None}


def iter_export(ctx: Context, workspace_id: str) -> Iterator[bytes]:
    """The log as JSON Lines, each line the stored leaf (authorised, and recorded, before the first byte)."""
    with ctx.write() as w:
        _require(w, workspace_id)
        _record_read(w, workspace_id, "export")

    def lines() -> Iterator[bytes]:
        after = -1
        while True:
            with ctx.read() as r:
                _require(r, workspace_id)
                rows = r.execute(
                    select(E.c.seq, E.c.leaf).where(E.c.workspace_id == workspace_id, E.c.seq > after)
                    .order_by(E.c.seq).limit(MAX_PAGE)
                ).all()
            if not rows:
                return
            yield b"".join(row.leaf + b"\n" for row in rows)
            after = rows[-1].seq

    return lines()


def latest_checkpoint(ctx: Context, workspace_id: str) -> dict[str, Any]:
    """The latest signed checkpoint (signing the current head first if it has grown)."""
    with ctx.write() as w:
        _require(w, workspace_id)
        _record_read(w, workspace_id, "checkpoint")
        w.flush_audit()  # the read is in the log first, so the checkpoint covers it (a poller stops growing it)
        note = checkpoint_now(w, workspace_id)
    if note is None:
        raise NotFound("this workspace's audit log is empty")
    return checkpoint_to_json(note)


def list_checkpoints(ctx: Context, workspace_id: str) -> list[dict[str, Any]]:
    with ctx.write() as r:
        _require(r, workspace_id)
        _record_read(r, workspace_id, "checkpoints")
        notes = r.execute(select(K.c.note).where(K.c.workspace_id == workspace_id).order_by(K.c.size)).scalars().all()
    return [checkpoint_to_json(n) for n in notes]


class _StoredTree:
    """Subtree hashes from the database: stored nodes at levels 4, 8, …, leaves below."""

    def __init__(self, u: Unit, workspace_id: str) -> None:
        self.u = u
        self.ws = workspace_id

    def _level_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        if level == 0:
            rows = self.u.execute(select(E.c.leaf_hash).where(
                E.c.workspace_id == self.ws, E.c.seq >= start, E.c.seq < end).order_by(E.c.seq)).scalars().all()
        else:
            rows = self.u.execute(select(N.c.hash).where(
                N.c.workspace_id == self.ws, N.c.level == level, N.c.idx >= start >> level,
                N.c.idx < end >> level).order_by(N.c.idx)).scalars().all()
        return list(rows)

    def subtree_hash(self, start: int, end: int) -> bytes:
        level = (end - start).bit_length() - 1
        base = level - level % NODE_LEVEL_STEP
        hashes = self._level_hashes(base, start, end)
        if len(hashes) != (end - start) >> base:
            raise NotFound("the audit log is missing entries for this proof")
        while len(hashes) > 1:
            hashes = [hash_children(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]


def _size(u: Unit, workspace_id: str) -> int:
    return _load_head(u, workspace_id, lock=False).size


def inclusion(ctx: Context, workspace_id: str, seq: int, size: int | None = None) -> dict[str, Any]:
    with ctx.write() as r:
        _require(r, workspace_id)
        _record_read(r, workspace_id, "inclusion")
        head = _size(r, workspace_id)
        size = head if size is None else size
        if not 0 <= seq < size <= head:
            raise InvalidInput(f"need 0 <= seq < size <= {head} (the log's size)")
        proof = inclusion_proof(seq, size, _StoredTree(r, workspace_id))
        leaf = r.execute(select(E.c.leaf).where(E.c.workspace_id == workspace_id, E.c.seq == seq)).scalar_one()
    return {"seq": seq, "tree_size": size, "entry": orjson.loads(leaf),
            "proof": [base64.b64encode(h).decode() for h in proof]}


def consistency(ctx: Context, workspace_id: str, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    with ctx.write() as r:
        _require(r, workspace_id)
        _record_read(r, workspace_id, "consistency")
        head = _size(r, workspace_id)
        new_size = head if new_size is None else new_size
        if not 0 < old_size <= new_size <= head:
            raise InvalidInput(f"need 0 < old_size <= new_size <= {head} (the log's size)")
        proof = consistency_proof(old_size, new_size, _StoredTree(r, workspace_id))
    return {"old_size": old_size, "new_size": new_size, "proof": [base64.b64encode(h).decode() for h in proof]}


def verify_stored(ctx: Context, workspace_id: str):
    """Verify a workspace's log in the database: every leaf, the head and every checkpoint."""
    with ctx.read() as r:
        _require(r, workspace_id)
        notes = r.execute(select(K.c.note).where(K.c.workspace_id == workspace_id).order_by(K.c.size)).scalars().all()
        head = _load_head(r, workspace_id, lock=False)
    if not notes:
        with ctx.write() as w:
            note = checkpoint_now(w, workspace_id)
        notes = [note] if note else []
    if not notes:
        raise NotFound("this workspace's audit log is empty")
    lines = (line for chunk in iter_export(ctx, workspace_id) for line in chunk.splitlines())
    report = verify_log(lines, notes[-1], public_key(ctx.rt), checkpoints=notes[:-1],
                        origin=checkpoint_origin(deployment_name(ctx.rt), workspace_id))
    return report, head


def count_entries(ctx: Context, workspace_id: str) -> int:
    with ctx.read() as r:
        _require(r, workspace_id)
        return r.execute(select(func.count()).select_from(E).where(E.c.workspace_id == workspace_id)).scalar_one()


__all__ = [
    "HASH_SIZE", "PendingEvent", "append_events", "checkpoint_now", "consistency", "inclusion",
    "iter_export", "latest_checkpoint", "list_checkpoints", "list_entries", "public_key", "verify_stored",
]
