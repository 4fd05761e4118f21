"""The audit log's rows: entries, the head of each workspace's tree, stored subtree hashes, checkpoints,
and (PostgreSQL) the queue of entries waiting for their place.

Appending runs with every audited action, so its statements are driver-level
(``fast.py``). On SQLite the one writer appends in place: ``lock_head`` reads the workspace's
head row (creating it on the log's first entry), then the entries, the completed subtree hashes and
the new head are written. On PostgreSQL a writer only queues its entries (``queue_entries``, sent
with the COMMIT); the folder (services/_audit_append.py) locks the head (``FOR UPDATE``), reads the
queue in order, writes the entries, nodes and head and deletes what it folded (deferred, sent with
its COMMIT). Reading (pages of the log, proofs, checkpoints) is plain SQLAlchemy Core.

The trap: ``leaf`` is the entry's canonical JSON, the Merkle leaf itself; pages of
the log return it verbatim and nothing here rebuilds it from the other columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select

from . import schema
from .database import Tx
from .fast import Statement
from ..domain.errors import NotFound

E = schema.audit_events
H = schema.audit_heads
N = schema.audit_nodes
K = schema.audit_checkpoints
Q = schema.audit_queue

HEAD = Statement("SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws")
HEAD_FOR_UPDATE = Statement(
    "SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws",
    postgresql="SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws FOR UPDATE",
)
HEAD_SKIP_LOCKED = Statement(
    "SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws",
    postgresql="SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws FOR UPDATE SKIP LOCKED",
)
NEW_HEAD = Statement(
    "INSERT INTO audit_heads (workspace_id, size, frontier, updated_at) VALUES (:ws, 0, :empty, :now) "
    "ON CONFLICT (workspace_id) DO NOTHING"
)
SET_HEAD = Statement(
    "UPDATE audit_heads SET size = :size, frontier = :frontier, updated_at = :now WHERE workspace_id = :ws"
)
INSERT_EVENT = Statement(
    "INSERT INTO audit_events (workspace_id, seq, id, at, actor, action, target, leaf, leaf_hash) "
    "VALUES (:workspace_id, :seq, :id, :at, :actor, :action, :target, :leaf, :leaf_hash)"
)
QUEUE_ENTRY = Statement(  # PostgreSQL only
    "INSERT INTO audit_queue (workspace_id, ord, id, at, actor, action, target, details) "
    "VALUES (:workspace_id, :ord, :id, :at, :actor, :action, :target, :details)"
)
LIST_QUEUED = Statement(
    "SELECT ord, id, at, actor, action, target, details FROM audit_queue WHERE workspace_id = :ws "
    "ORDER BY ord, id LIMIT :limit"
)
DELETE_QUEUED = Statement(
    "SELECT 1",  # never run on SQLite: nothing is queued there
    postgresql="DELETE FROM audit_queue WHERE workspace_id = :ws AND id = ANY(:ids)",
)
QUEUED_WORKSPACES = Statement(
    "SELECT DISTINCT workspace_id FROM audit_queue",
    postgresql="SELECT workspace_id FROM audit_queue UNION SELECT workspace_id FROM event_queue",
)
INSERT_NODE = Statement(
    "INSERT INTO audit_nodes (workspace_id, level, idx, hash) VALUES (:workspace_id, :level, :idx, :hash)"
)


class Head(NamedTuple):
    size: int
    frontier: bytes  # the completed subtrees' roots, concatenated


class Leaf(NamedTuple):
    seq: int
    leaf: bytes


class Checkpoint(NamedTuple):
    size: int
    note: str


class NewEntry(NamedTuple):
    seq: int
    id: str
    at: int
    actor: str
    action: str
    target: str | None
    leaf: bytes  # canonical JSON of the entry
    leaf_hash: bytes


class QueuedEntry(NamedTuple):
    ord: int  # the queueing process's clock (µs), strictly increasing within a process
    id: str
    at: int
    actor: str
    action: str
    target: str | None
    details: str  # JSON


class NewNode(NamedTuple):
    level: int
    idx: int
    hash: bytes


class LastEntry(NamedTuple):
    actor: str
    action: str


# -- appending (every audited action) ------------------------------------------------------


def find_head(tx: Tx, workspace_id: str) -> Head | None:
    """The head as of this transaction, without a lock (None: the log has no entry yet)."""
    row = HEAD.one(tx, ws=workspace_id)
    return None if row is None else Head(row[0], bytes(row[1]))


def lock_head(tx: Tx, workspace_id: str) -> Head:
    """The head, locked until the transaction ends (made, empty, on the log's first entry)."""
    row = HEAD_FOR_UPDATE.one(tx, ws=workspace_id)
    if row is None:
        NEW_HEAD.run(tx, ws=workspace_id, empty=b"", now=tx.now)
        row = HEAD_FOR_UPDATE.one_row(tx, ws=workspace_id)
    return Head(row[0], bytes(row[1]))


def try_lock_head(tx: Tx, workspace_id: str) -> Head | None:
    """``lock_head`` unless another transaction holds the head (None then; PostgreSQL)."""
    row = HEAD_SKIP_LOCKED.one(tx, ws=workspace_id)
    if row is not None:
        return Head(row[0], bytes(row[1]))
    if HEAD.one(tx, ws=workspace_id) is not None:
        return None  # there, and locked
    return lock_head(tx, workspace_id)


def insert_entries(tx: Tx, workspace_id: str, entries: Sequence[NewEntry]) -> None:
    """Sent with the COMMIT (or the transaction's next statement): ``Statement.defer``."""
    INSERT_EVENT.defer_many(
        tx,
        [
            {
                "workspace_id": workspace_id,
                "seq": e.seq,
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "leaf": e.leaf,
                "leaf_hash": e.leaf_hash,
            }
            for e in entries
        ],
    )


def insert_nodes(tx: Tx, workspace_id: str, nodes: Sequence[NewNode]) -> None:
    if nodes:
        INSERT_NODE.defer_many(
            tx, [{"workspace_id": workspace_id, "level": n.level, "idx": n.idx, "hash": n.hash} for n in nodes]
        )


def set_head(tx: Tx, workspace_id: str, *, size: int, frontier: bytes, now: int) -> None:
    SET_HEAD.defer(tx, ws=workspace_id, size=size, frontier=frontier, now=now)


# -- the queue (PostgreSQL) ------------------------------------------------------------------------


def queue_entries(tx: Tx, workspace_id: str, rows: Sequence[QueuedEntry]) -> None:
    """Sent with the COMMIT (``defer``)."""
    QUEUE_ENTRY.defer_many(tx, [{"workspace_id": workspace_id, **row._asdict()} for row in rows])


def list_queued(tx: Tx, workspace_id: str, limit: int) -> list[QueuedEntry]:
    """The oldest ``limit`` queued entries of the log that this transaction sees, in insert order."""
    return [QueuedEntry._make(row) for row in LIST_QUEUED.rows(tx, ws=workspace_id, limit=limit)]


def delete_queued(tx: Tx, workspace_id: str, entry_ids: Sequence[str]) -> None:
    """Exactly the folded ones: one queued earlier but committed later is still to come."""
    if entry_ids:
        DELETE_QUEUED.defer(tx, ws=workspace_id, ids=list(entry_ids))


def list_queued_workspace_ids(tx: Tx) -> list[str]:
    """Workspaces with entries or feed events waiting to be folded."""
    return sorted(row[0] for row in QUEUED_WORKSPACES.rows(tx))


# -- checkpoints ------------------------------------------------------------------------------


def store_checkpoint(tx: Tx, workspace_id: str, size: int, note: str, now: int) -> str:
    """Keep a signed note for ``size``; returns the stored one (another process may have signed it first)."""
    tx.dialect.insert_ignore(
        tx.conn,
        "audit_checkpoints",
        ("workspace_id", "size", "note", "created_at"),
        [(workspace_id, size, note, now)],
        ("workspace_id", "size"),
    )
    stored: str = tx.execute(select(K.c.note).where(K.c.workspace_id == workspace_id, K.c.size == size)).scalar_one()
    return stored


def find_latest_checkpoint(tx: Tx, workspace_id: str) -> Checkpoint | None:
    row = tx.execute(
        select(K.c.size, K.c.note).where(K.c.workspace_id == workspace_id).order_by(K.c.size.desc()).limit(1)
    ).first()
    return None if row is None else Checkpoint(row.size, row.note)


def list_checkpoint_notes(tx: Tx, workspace_id: str) -> list[str]:
    """Every signed note of the log, oldest first."""
    return list(tx.execute(select(K.c.note).where(K.c.workspace_id == workspace_id).order_by(K.c.size)).scalars().all())


def list_unsigned_workspace_ids(tx: Tx) -> list[str]:
    """Workspaces whose log grew since its latest checkpoint (the local operator: every workspace)."""
    latest = (select(K.c.workspace_id, func.max(K.c.size).label("size")).group_by(K.c.workspace_id)).subquery()
    return list(
        tx.execute(
            select(H.c.workspace_id)
            .outerjoin(latest, latest.c.workspace_id == H.c.workspace_id)
            .where(H.c.size > func.coalesce(latest.c.size, 0))
        )
        .scalars()
        .all()
    )


# -- reading entries and proofs ------------------------------------------------------------------


def find_last_entry(tx: Tx, workspace_id: str) -> LastEntry | None:
    row = tx.execute(
        select(E.c.actor, E.c.action).where(E.c.workspace_id == workspace_id).order_by(E.c.seq.desc()).limit(1)
    ).first()
    return None if row is None else LastEntry(row.actor, row.action)


def list_leaves(tx: Tx, workspace_id: str, *, after: int, limit: int) -> list[Leaf]:
    """Entries after ``seq`` ``after``, in order: their sequence numbers and stored leaves."""
    rows = tx.execute(
        select(E.c.seq, E.c.leaf)
        .where(E.c.workspace_id == workspace_id, E.c.seq > after)
        .order_by(E.c.seq)
        .limit(limit)
    ).all()
    return [Leaf(row.seq, row.leaf) for row in rows]


def get_leaf(tx: Tx, workspace_id: str, seq: int) -> bytes:
    leaf: bytes | None = tx.execute(select(E.c.leaf).where(E.c.workspace_id == workspace_id, E.c.seq == seq)).scalar()
    if leaf is None:
        raise NotFound("no audit entry with this seq")
    return leaf


def list_leaf_hashes(tx: Tx, workspace_id: str, start: int, end: int) -> list[bytes]:
    """The leaf hashes of entries ``start`` to ``end`` (exclusive), in order."""
    return list(
        tx.execute(
            select(E.c.leaf_hash)
            .where(E.c.workspace_id == workspace_id, E.c.seq >= start, E.c.seq < end)
            .order_by(E.c.seq)
        )
        .scalars()
        .all()
    )


def list_node_hashes(tx: Tx, workspace_id: str, level: int, start: int, end: int) -> list[bytes]:
    """The stored subtree hashes at ``level`` with indexes ``start`` to ``end`` (exclusive), in order."""
    return list(
        tx.execute(
            select(N.c.hash)
            .where(N.c.workspace_id == workspace_id, N.c.level == level, N.c.idx >= start, N.c.idx < end)
            .order_by(N.c.idx)
        )
        .scalars()
        .all()
    )


def count_entries(tx: Tx, workspace_id: str) -> int:
    """Entries in the log, the queued ones included."""
    counts = [
        tx.execute(select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)).scalar_one()
        for table in (E, Q)
    ]
    return sum(counts)


def list_head_sizes(tx: Tx) -> list[tuple[str, int]]:
    """(workspace id, entries in its log) for every workspace: the heads' sizes (/metrics)."""
    return [(row[0], int(row[1])) for row in tx.execute(select(H.c.workspace_id, H.c.size)).all()]
