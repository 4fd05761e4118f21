"""The audit log of each workspace: appended in the action's transaction, Merkle-hashed, signed.

Every security-relevant action calls ``Unit.audit(...)``; the events are
appended (``services/_audit_append.py``, which ``context.py`` imports: this module
reads the log and imports ``context.py``) when the action's transaction is about to commit,
and commit or roll back with it: in place on SQLite, queued on PostgreSQL, where a fold gives
them their places (so no writer locks the log's head; every reader here folds first, in its own
write transaction). Appending one event costs a leaf hash, O(1) amortised node
hashes and one row; the head row keeps the tree's size and frontier.

Checkpoints (signed tree heads, C2SP signed-note format, Ed25519) are made
every ``_audit_append.CHECKPOINT_EVERY`` entries, on demand (reading the latest checkpoint
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
from typing import Any

import orjson

from ._audit_append import (
    NODE_LEVEL_STEP,
    PendingEvent,
    append_events,
    checkpoint_now,
    deployment_name,
    fold,
    fold_apart,
    load_head,
    signer,
)
from .context import Context, Unit
from ..access import Action, Actor
from ..audit import (
    checkpoint_origin,
    checkpoint_to_json,
    consistency_proof,
    hash_children,
    inclusion_proof,
    verifier_key_string,
    verify_log,
)
from ..audit.merkle import HASH_SIZE
from ..domain.errors import InvalidInput, NotFound
from ..storage import audit_store

MAX_PAGE = 5000


def public_key(rt) -> str:
    name, key = signer(rt)
    return verifier_key_string(name, key)


def sign_pending_checkpoints(rt) -> int:
    """Sign a checkpoint for every workspace whose log grew since its last one (server timer);
    what is queued is folded first."""
    fold_apart(rt)
    ctx = Context(rt, Actor.system())
    with ctx.read() as r:
        stale = audit_store.list_unsigned_workspace_ids(r.tx)
    for workspace_id in stale:
        with ctx.write() as w:
            checkpoint_now(w, workspace_id)
    return len(stale)


# -- reading -------------------------------------------------------------------


def _require(u: Unit, workspace_id: str) -> None:
    """Who may read the log; in a write unit, the queued entries are then folded (PostgreSQL), so the
    reader sees every entry committed before it asked."""
    u.access.require(Action.AUDIT_READ, workspace_id)
    if u.tx.write:
        fold(u, workspace_id)


def _record_read(w: Unit, workspace_id: str, what: str) -> None:
    """``audit.read`` in the log being read, unless its newest entry is already this person's (module docstring)."""
    last = audit_store.find_last_entry(w.tx, workspace_id)
    if last is not None and last.action == "audit.read" and last.actor == w.actor.user_id:
        return
    w.audit(workspace_id, "audit.read", None, what=what)


def list_entries(ctx: Context, workspace_id: str, *, after: int = -1, limit: int = 100) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
    with ctx.write() as r:
        _require(r, workspace_id)
        _record_read(r, workspace_id, "entries")
        rows = audit_store.list_leaves(r.tx, workspace_id, after=after, limit=limit + 1)
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
                rows = audit_store.list_leaves(r.tx, workspace_id, after=after, limit=MAX_PAGE)
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
        notes = audit_store.list_checkpoint_notes(r.tx, workspace_id)
    return [checkpoint_to_json(n) for n in notes]


class _StoredTree:
    """Subtree hashes from the database: stored nodes at levels 4, 8, …, leaves below."""

    def __init__(self, u: Unit, workspace_id: str) -> None:
        self.u = u
        self.ws = workspace_id

    def _level_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        if level == 0:
            return audit_store.list_leaf_hashes(self.u.tx, self.ws, start, end)
        return audit_store.list_node_hashes(self.u.tx, self.ws, level, start >> level, end >> level)

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
    return load_head(u, workspace_id).size


def inclusion(ctx: Context, workspace_id: str, seq: int, size: int | None = None) -> dict[str, Any]:
    with ctx.write() as r:
        _require(r, workspace_id)
        _record_read(r, workspace_id, "inclusion")
        head = _size(r, workspace_id)
        size = head if size is None else size
        if not 0 <= seq < size <= head:
            raise InvalidInput(f"need 0 <= seq < size <= {head} (the log's size)")
        proof = inclusion_proof(seq, size, _StoredTree(r, workspace_id))
        leaf = audit_store.get_leaf(r.tx, workspace_id, seq)
    return {
        "seq": seq,
        "tree_size": size,
        "entry": orjson.loads(leaf),
        "proof": [base64.b64encode(h).decode() for h in proof],
    }


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
    if not ctx.rt.db.is_sqlite:
        with ctx.write() as w:
            _require(w, workspace_id)  # folds what is queued
    with ctx.read() as r:
        _require(r, workspace_id)
        notes = audit_store.list_checkpoint_notes(r.tx, workspace_id)
        head = load_head(r, workspace_id)
    if not notes:
        with ctx.write() as w:
            note = checkpoint_now(w, workspace_id)
        notes = [note] if note else []
    if not notes:
        raise NotFound("this workspace's audit log is empty")
    lines = (line for chunk in iter_export(ctx, workspace_id) for line in chunk.splitlines())
    report = verify_log(
        lines,
        notes[-1],
        public_key(ctx.rt),
        checkpoints=notes[:-1],
        origin=checkpoint_origin(deployment_name(ctx.rt), workspace_id),
    )
    return report, head


def count_entries(ctx: Context, workspace_id: str) -> int:
    """Entries in the log, queued ones included (not folded here: counting writes nothing)."""
    with ctx.read() as r:
        _require(r, workspace_id)
        return audit_store.count_entries(r.tx, workspace_id)


__all__ = [
    "HASH_SIZE",
    "PendingEvent",
    "append_events",
    "checkpoint_now",
    "consistency",
    "count_entries",
    "deployment_name",
    "fold",
    "fold_apart",
    "inclusion",
    "iter_export",
    "latest_checkpoint",
    "list_checkpoints",
    "list_entries",
    "public_key",
    "sign_pending_checkpoints",
    "signer",
    "verify_stored",
]
