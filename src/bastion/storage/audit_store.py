"""The audit log's rows, on the hot path (every audited action appends here; see ``fast.py``)."""

from __future__ import annotations

from .fast import Statement

HEAD = Statement("SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws")
HEAD_FOR_UPDATE = Statement(
    "SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws",
    postgresql="SELECT size, frontier FROM audit_heads WHERE workspace_id = :ws FOR UPDATE",
)
NEW_HEAD = Statement(
    "INSERT INTO audit_heads (workspace_id, size, frontier, updated_at) VALUES (:ws, 0, :empty, :now) "
    "ON CONFLICT (workspace_id) DO NOTHING"
)
SET_HEAD = Statement("UPDATE audit_heads SET size = :size, frontier = :frontier, updated_at = :now "
                     "WHERE workspace_id = :ws")
INSERT_EVENT = Statement(
    "INSERT INTO audit_events (workspace_id, seq, id, at, actor, action, target, leaf, leaf_hash) "
    "VALUES (:workspace_id, :seq, :id, :at, :actor, :action, :target, :leaf, :leaf_hash)"
)
INSERT_NODE = Statement(
    "INSERT INTO audit_nodes (workspace_id, level, idx, hash) VALUES (:workspace_id, :level, :idx, :hash)"
)


def head(tx, workspace_id: str, *, lock: bool) -> tuple[int, bytes] | None:
    row = (HEAD_FOR_UPDATE if lock else HEAD).one(tx, ws=workspace_id)
    if row is None and lock:
        NEW_HEAD.run(tx, ws=workspace_id, empty=b"", now=tx.now)
        row = HEAD_FOR_UPDATE.one(tx, ws=workspace_id)
    return None if row is None else (row[0], bytes(row[1]))
