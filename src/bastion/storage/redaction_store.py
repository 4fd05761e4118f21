"""Storage of need-to-know: per-task redaction records, held items, who was shown what.

(Canaries have their own module: storage/canaries_store.py.)

A redacted task's record (``task_redactions``) holds its findings with their
originals and the offset map of every changed field, sealed with the project's
data key: it is the task's only mapping from pseudonyms back to values (they are
numbered per task, so no project-wide vault exists to be compared against).

Every statement names ``workspace_id`` first (row-level security keys on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from sqlalchemy import Row, select, update

from . import schema
from .database import Tx
from .fast import Statement

R = schema.task_redactions
T = schema.tasks


# -- per-task records ---------------------------------------------------------------

_INSERT_RECORD = (
    "INSERT INTO task_redactions (workspace_id, id, project_id, record, created_at) "
    "SELECT {values} WHERE EXISTS (SELECT 1 FROM tasks WHERE workspace_id = :ws AND id = :id) "
    "AND NOT EXISTS (SELECT 1 FROM task_redactions WHERE workspace_id = :ws AND id = :id)"
)
INSERT_RECORD_IF_TASK = Statement(
    _INSERT_RECORD.format(values=":ws, :id, :project, :record, :now"),
    postgresql=_INSERT_RECORD.format(
        values="CAST(:ws AS varchar), CAST(:id AS varchar), CAST(:project AS varchar), CAST(:record AS bytea), "
        "CAST(:now AS bigint)"
    ),
)


def insert_records(tx: Tx, workspace_id: str, project_id: str, records: Mapping[str, bytes]) -> None:
    """Store sealed records for the tasks of a batch that were inserted (duplicates have no row)."""
    if records:
        INSERT_RECORD_IF_TASK.many(
            tx,
            [
                {"ws": workspace_id, "id": task_id, "project": project_id, "record": blob, "now": tx.now}
                for task_id, blob in records.items()
            ],
        )


def records_between(tx: Tx, workspace_id: str, project_id: str, first: str, last: str) -> list[tuple[str, bytes]]:
    return [
        tuple(r)
        for r in tx.execute(
            select(R.c.id, R.c.record).where(
                R.c.workspace_id == workspace_id, R.c.project_id == project_id, R.c.id >= first, R.c.id <= last
            )
        ).all()
    ]


def record_of(tx: Tx, workspace_id: str, task_id: str) -> bytes | None:
    return tx.execute(select(R.c.record).where(R.c.workspace_id == workspace_id, R.c.id == task_id)).scalar()


# -- task flags (held, canary) on the hot path -------------------------------------

TASK_FLAGS = Statement("SELECT held, is_canary, gold FROM tasks WHERE workspace_id = :ws AND id = :id")


def task_flags(tx: Tx, workspace_id: str, task_id: str) -> tuple[bool, bool, bytes | None]:
    row = TASK_FLAGS.one(tx, ws=workspace_id, id=task_id)
    if row is None:
        return False, False, None
    return bool(row[0]), bool(row[1]), row[2]


def held_tasks(tx: Tx, workspace_id: str, project_id: str, after: str, limit: int) -> Sequence[Row[str, int]]:
    """The project's held tasks after ``after`` in id order: (id, created_at)."""
    return tx.execute(
        select(T.c.id, T.c.created_at)
        .where(T.c.workspace_id == workspace_id, T.c.project_id == project_id, T.c.held.is_(True), T.c.id > after)
        .order_by(T.c.id)
        .limit(limit)
    ).all()


def release_task(tx: Tx, workspace_id: str, task_id: str, overlap: int) -> bool:
    """Un-hold a task; it enters the queue unless it already has all its annotations."""
    return bool(
        tx.execute(
            update(T)
            .where(T.c.workspace_id == workspace_id, T.c.id == task_id, T.c.held.is_(True))
            .values(held=False, done=T.c.annotation_count >= overlap)
        ).rowcount
    )


# -- who was shown what (for tracing) -------------------------------------------------


def viewers_of(tx: Tx, workspace_id: str, project_id: str, task_ids: list[str]) -> dict[str, set[str]]:
    """People shown each task: leases (every state), reads by id, reviews, listings whose page covered it.

    The record is the assignments table and the audit log (``task.shown``,
    ``task.read``, ``review.shown`` of its annotations, ``tasks.listed`` with the
    page's first and last ids), written in the same transaction as the showing.
    """
    import orjson

    A = schema.assignments
    E = schema.audit_events
    seen: dict[str, set[str]] = {t: set() for t in task_ids}
    if not task_ids:
        return seen
    for task_id, user_id in tx.execute(
        select(A.c.task_id, A.c.user_id).where(A.c.workspace_id == workspace_id, A.c.task_id.in_(task_ids))
    ).all():
        seen[task_id].add(user_id)
    for target, actor in tx.execute(
        select(E.c.target, E.c.actor).where(
            E.c.workspace_id == workspace_id, E.c.target.in_(task_ids), E.c.action.in_(("task.shown", "task.read"))
        )
    ).all():
        seen[target].add(actor)
    N = schema.annotations
    reviewed = dict(
        tx.execute(select(N.c.id, N.c.task_id).where(N.c.workspace_id == workspace_id, N.c.task_id.in_(task_ids))).all()
    )
    if reviewed:
        for target, actor in tx.execute(
            select(E.c.target, E.c.actor).where(
                E.c.workspace_id == workspace_id, E.c.target.in_(list(reviewed)), E.c.action == "review.shown"
            )
        ).all():
            seen[reviewed[target]].add(actor)
    low, high = min(task_ids), max(task_ids)
    for actor, leaf in tx.execute(
        select(E.c.actor, E.c.leaf).where(
            E.c.workspace_id == workspace_id, E.c.target == project_id, E.c.action == "tasks.listed"
        )
    ).all():
        details = orjson.loads(leaf).get("details") or {}
        first, last = details.get("first"), details.get("last")
        if not first or not last or last < low or first > high:
            continue
        for task_id in task_ids:
            if first <= task_id <= last:
                seen[task_id].add(actor)
    for users in seen.values():
        users.discard("system")
    return seen


class Showing(NamedTuple):
    """One time a person was shown a task: how (a lease and its state, a read, a review, a listing), and when."""

    user_id: str
    how: str  # lease:<state> | task.shown | task.read | review.shown | tasks.listed
    at: int


def showings_of(tx: Tx, workspace_id: str, project_id: str, task_id: str) -> list[Showing]:
    """Every recorded showing of one task, oldest first: the record ``viewers_of`` reads, with its times.

    A lease counts once (its row holds its latest state; the audit log's ``task.shown``
    holds each showing of it); a listing counts when its page's first and last ids
    enclose the task (the page holds nothing else of which rows it showed).
    """
    import orjson

    A = schema.assignments
    E = schema.audit_events
    N = schema.annotations
    out = [
        Showing(user_id, f"lease:{state}", at)
        for user_id, state, at in tx.execute(
            select(A.c.user_id, A.c.state, A.c.created_at).where(
                A.c.workspace_id == workspace_id, A.c.task_id == task_id
            )
        ).all()
    ]
    out += [
        Showing(actor, action, at)
        for actor, action, at in tx.execute(
            select(E.c.actor, E.c.action, E.c.at).where(
                E.c.workspace_id == workspace_id, E.c.target == task_id, E.c.action.in_(("task.shown", "task.read"))
            )
        ).all()
    ]
    annotation_ids = list(
        tx.execute(select(N.c.id).where(N.c.workspace_id == workspace_id, N.c.task_id == task_id)).scalars()
    )
    if annotation_ids:
        out += [
            Showing(actor, "review.shown", at)
            for actor, at in tx.execute(
                select(E.c.actor, E.c.at).where(
                    E.c.workspace_id == workspace_id, E.c.target.in_(annotation_ids), E.c.action == "review.shown"
                )
            ).all()
        ]
    for actor, at, leaf in tx.execute(
        select(E.c.actor, E.c.at, E.c.leaf).where(
            E.c.workspace_id == workspace_id, E.c.target == project_id, E.c.action == "tasks.listed"
        )
    ).all():
        details = orjson.loads(leaf).get("details") or {}
        first, last = details.get("first"), details.get("last")
        if first and last and first <= task_id <= last:
            out.append(Showing(actor, "tasks.listed", at))
    return sorted((s for s in out if s.user_id != "system"), key=lambda s: (s.at, s.user_id, s.how))


__all__ = [
    "Showing",
    "held_tasks",
    "insert_records",
    "record_of",
    "records_between",
    "release_task",
    "showings_of",
    "task_flags",
    "viewers_of",
]
