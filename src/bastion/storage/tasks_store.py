"""Tasks' storage: bulk inserts of imported tasks, pages of a project's tasks, gold tasks, 'done'.

Payloads, predictions and gold answers stay sealed here (the services seal and
open them with the project's key). An import inserts whole batches: SQLite with
``executemany``, PostgreSQL with ``COPY`` into a staging table (``dialects.py``),
skipping rows whose ``(workspace_id, dedupe_key)`` is already there — so the rows
go in as plain tuples in ``NEW_TASK_COLUMNS`` order (a NamedTuple a row would
cost a Python call per task on the import path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import case, func, or_, select, update

from . import schema
from .database import Tx

T = schema.tasks

# The columns of a new task as ``insert_tasks`` takes them: ``workspace_id`` first and
# ``created_at`` last are added by it.
NEW_TASK_COLUMNS = (
    "id",
    "project_id",
    "dedupe_key",
    "payload",
    "predictions",
    "gold",
    "is_gold",
    "priority",
    "annotation_count",
    "lease_count",
    "done",
    "held",
)
_INSERT_COLUMNS = ("workspace_id", *NEW_TASK_COLUMNS, "created_at")
_UNIQUE = ("workspace_id", "dedupe_key")


class TaskRow(NamedTuple):
    """A task as its project's pages list it (``payload``, ``predictions``, ``gold``: sealed)."""

    workspace_id: str
    id: str
    project_id: str
    payload: bytes
    predictions: bytes | None
    gold: bytes | None
    is_gold: bool
    priority: int
    annotation_count: int
    done: bool
    created_at: int
    held: bool
    is_canary: bool


_TASK_ROW_COLUMNS = [getattr(T.c, name) for name in TaskRow._fields]


class GoldTask(NamedTuple):
    """A gold task's sealed payload and known answer."""

    id: str
    payload: bytes
    gold: bytes


def insert_tasks(tx: Tx, rows: Sequence[tuple[Any, ...]], *, workspace_id: str, now: int) -> int:
    """Insert new tasks (tuples in ``NEW_TASK_COLUMNS`` order), skipping duplicates; returns how many went in."""
    if not rows:
        return 0
    full = [(workspace_id, *row, now) for row in rows]
    return tx.dialect.insert_ignore(tx.conn, "tasks", _INSERT_COLUMNS, full, _UNIQUE)


def list_task_page(tx: Tx, project_id: str, *, workspace_id: str, after: str, limit: int) -> list[TaskRow]:
    """Up to ``limit`` of the project's tasks with ids after ``after``, in id order (canaries and held
    tasks are not among them)."""
    rows = tx.execute(
        select(*_TASK_ROW_COLUMNS)
        .where(
            T.c.workspace_id == workspace_id,
            T.c.project_id == project_id,
            T.c.is_canary.is_(False),
            T.c.held.is_(False),
            # Always a range on ix_tasks_project: without one PostgreSQL may walk
            # the workspace's primary key (every project's tasks) for the first page.
            T.c.id > after,
        )
        .order_by(T.c.id)
        .limit(limit)
    ).all()
    return [TaskRow._make(row) for row in rows]


def has_tasks(tx: Tx, project_id: str, *, workspace_id: str) -> bool:
    return (
        tx.execute(
            select(T.c.id).where(T.c.workspace_id == workspace_id, T.c.project_id == project_id).limit(1)
        ).first()
        is not None
    )


def list_gold_tasks(tx: Tx, project_id: str, *, workspace_id: str) -> list[GoldTask]:
    rows = tx.execute(
        select(T.c.id, T.c.payload, T.c.gold).where(
            T.c.workspace_id == workspace_id, T.c.project_id == project_id, T.c.is_gold.is_(True)
        )
    ).all()
    return [GoldTask._make(row) for row in rows]


def rederive_done(tx: Tx, project_id: str, *, workspace_id: str, overlap: int) -> int:
    """Mark the project's tasks done or open for a new overlap; returns how many queue tasks are done.

    Held items, canaries and gold tasks are stored done (out of the queue index),
    stay so, and are not counted.
    """
    scope = (T.c.workspace_id == workspace_id, T.c.project_id == project_id)
    apart = or_(T.c.held.is_(True), T.c.is_canary.is_(True), T.c.is_gold.is_(True))
    tx.execute(
        update(T).where(*scope).values(done=case((or_(T.c.annotation_count >= overlap, apart), True), else_=False))
    )
    return tx.execute(select(func.count()).select_from(T).where(*scope, T.c.done.is_(True), ~apart)).scalar_one()
