"""Tasks' storage: bulk inserts of imported tasks, pages of a project's tasks, gold tasks, 'done'.

Payloads, predictions and gold answers stay sealed here (the services seal and
open them with the project's key). An import inserts whole batches: SQLite in one
``INSERT … SELECT … FROM json_each`` a batch, PostgreSQL with ``COPY`` into a staging table (``dialects.py``),
skipping rows whose ``(workspace_id, dedupe_key)`` is already there — so the rows
go in as plain tuples in ``NEW_TASK_COLUMNS`` order (a NamedTuple a row would
cost a Python call per task on the import path).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import case, delete, func, or_, select, update

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
    "import_id",
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


# -- tasks after import: pick by a filter, change, delete ----------------------------------
# Off the hot paths: an owner or manager changes or deletes a bounded set of tasks
# (services/task_changes.py). Canaries are never among them (they are not the project's
# tasks); held tasks and gold tasks are.

A = schema.annotations
R = schema.reviews
S = schema.assignments
_CHUNK = 500  # ids per IN list: well under any driver's limit on bound parameters


class TaskFilter(NamedTuple):
    """Which of a project's tasks a bulk change is for; every given condition must hold.

    ``dedupe_keys``: the keyed hashes of external ids (the service makes them with the
    project's key: external ids are not stored in clear).
    """

    ids: tuple[str, ...] | None = None
    dedupe_keys: tuple[bytes, ...] | None = None
    priority_min: int | None = None
    priority_max: int | None = None
    has_annotations: bool | None = None
    is_gold: bool | None = None


class PickedTask(NamedTuple):
    """A task picked for a change: its sealed payload and what the project's counters count of it."""

    id: str
    payload: bytes
    is_gold: bool
    held: bool
    done: bool


def pick_tasks(tx: Tx, project_id: str, *, workspace_id: str, where: TaskFilter, limit: int) -> list[PickedTask]:
    """Up to ``limit`` of the project's tasks that match ``where``, in id order (canaries never)."""
    query = select(T.c.id, T.c.payload, T.c.is_gold, T.c.held, T.c.done).where(
        T.c.workspace_id == workspace_id, T.c.project_id == project_id, T.c.is_canary.is_(False)
    )
    if where.ids is not None:
        query = query.where(T.c.id.in_(where.ids))
    if where.dedupe_keys is not None:
        query = query.where(T.c.dedupe_key.in_(where.dedupe_keys))
    if where.priority_min is not None:
        query = query.where(T.c.priority >= where.priority_min)
    if where.priority_max is not None:
        query = query.where(T.c.priority <= where.priority_max)
    if where.has_annotations is not None:
        query = query.where((T.c.annotation_count > 0) if where.has_annotations else (T.c.annotation_count == 0))
    if where.is_gold is not None:
        query = query.where(T.c.is_gold.is_(where.is_gold))
    return [PickedTask._make(row) for row in tx.execute(query.order_by(T.c.id).limit(limit)).all()]


def set_priority(tx: Tx, task_ids: Sequence[str], *, workspace_id: str, priority: int) -> None:
    """Give the tasks a new priority (a raise bumps the queue's epoch: the trigger in queue_store.py)."""
    for start in range(0, len(task_ids), _CHUNK):
        chunk = task_ids[start : start + _CHUNK]
        tx.execute(update(T).where(T.c.workspace_id == workspace_id, T.c.id.in_(chunk)).values(priority=priority))


def set_sealed(tx: Tx, changes: Sequence[tuple[str, dict[str, bytes | None]]], *, workspace_id: str) -> None:
    """Replace sealed columns (``payload``, ``predictions``) of tasks: ``(task id, {column: sealed})``."""
    for task_id, values in changes:
        tx.execute(update(T).where(T.c.workspace_id == workspace_id, T.c.id == task_id).values(**values))


class Dependents(NamedTuple):
    """What goes with a set of tasks when they are deleted (by cascade)."""

    annotations: int
    assignments: int
    reviews: int


def count_dependents(tx: Tx, task_ids: Sequence[str], *, workspace_id: str) -> Dependents:
    """Annotations, assignments and reviews of the tasks, counted before they are deleted."""
    annotations = assignments = reviews = 0
    for start in range(0, len(task_ids), _CHUNK):
        chunk = task_ids[start : start + _CHUNK]
        annotations += tx.execute(
            select(func.count()).select_from(A).where(A.c.workspace_id == workspace_id, A.c.task_id.in_(chunk))
        ).scalar_one()
        assignments += tx.execute(
            select(func.count()).select_from(S).where(S.c.workspace_id == workspace_id, S.c.task_id.in_(chunk))
        ).scalar_one()
        reviews += tx.execute(
            select(func.count()).select_from(R).where(R.c.workspace_id == workspace_id, R.c.task_id.in_(chunk))
        ).scalar_one()
    return Dependents(annotations, assignments, reviews)


def delete_tasks(tx: Tx, task_ids: Sequence[str], *, workspace_id: str) -> int:
    """Delete the tasks; their annotations, reviews, assignments and need-to-know records go by cascade."""
    deleted = 0
    for start in range(0, len(task_ids), _CHUNK):
        chunk = task_ids[start : start + _CHUNK]
        deleted += tx.execute(delete(T).where(T.c.workspace_id == workspace_id, T.c.id.in_(chunk))).rowcount
    return deleted


def iter_payloads(tx: Tx, project_id: str, *, workspace_id: str) -> Iterator[tuple[str, bytes]]:
    """Every task's sealed payload in the project, as ``(id, payload)`` (to find which tasks name a file)."""
    for row in tx.execute(
        select(T.c.id, T.c.payload).where(T.c.workspace_id == workspace_id, T.c.project_id == project_id)
    ):
        yield row.id, row.payload


def count_listed_tasks(tx: Tx, project_id: str, *, workspace_id: str) -> int:
    """How many tasks ``list_task_page`` walks through (no canaries, no held tasks)."""
    return int(
        tx.execute(
            select(func.count())
            .select_from(T)
            .where(
                T.c.workspace_id == workspace_id,
                T.c.project_id == project_id,
                T.c.is_canary.is_(False),
                T.c.held.is_(False),
            )
        ).scalar_one()
    )


def sealed_predictions(tx: Tx, task_ids: Sequence[str], *, workspace_id: str) -> dict[str, bytes | None]:
    """The tasks' sealed predictions by id (None: none); ids not found are left out."""
    found: dict[str, bytes | None] = {}
    for start in range(0, len(task_ids), _CHUNK):
        chunk = task_ids[start : start + _CHUNK]
        rows = tx.execute(select(T.c.id, T.c.predictions).where(T.c.workspace_id == workspace_id, T.c.id.in_(chunk)))
        found.update({row.id: row.predictions for row in rows})
    return found


def iter_predictions(tx: Tx, project_id: str, *, workspace_id: str) -> Iterator[tuple[str, bytes]]:
    """``(task id, sealed predictions)`` of the project's tasks that have predictions, in id order."""
    rows = tx.execute(
        select(T.c.id, T.c.predictions)
        .where(T.c.workspace_id == workspace_id, T.c.project_id == project_id, T.c.predictions.is_not(None))
        .order_by(T.c.id)
    )
    for row in rows:
        yield row.id, row.predictions
