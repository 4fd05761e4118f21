"""Annotations' storage off the submit path: a task's annotations, a person's answers in a project.

Results stay sealed here (the services open them with the project's key). The
submit path's statements (insert, count, gold statistics) are in ``queue_store.py``;
the review queue's in ``review_store.py``.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, select

from . import schema
from .database import Tx

N = schema.annotations


class AnnotationRow(NamedTuple):
    """One annotation (``result`` sealed)."""

    workspace_id: str
    id: str
    project_id: str
    task_id: str
    user_id: str
    result: bytes
    lead_time_ms: int | None
    review_status: str  # none | pending | accepted | rejected | corrected
    gold_score: float | None
    created_at: int


_COLUMNS = [getattr(N.c, name) for name in AnnotationRow._fields]


class Answer(NamedTuple):
    """A person's sealed answer to one task."""

    task_id: str
    id: str
    result: bytes


def list_task_annotations(
    tx: Tx, task_id: str, *, workspace_id: str, user_id: str | None = None
) -> list[AnnotationRow]:
    """The task's annotations in id order (``user_id``: only that person's)."""
    query = select(*_COLUMNS).where(N.c.workspace_id == workspace_id, N.c.task_id == task_id)
    if user_id is not None:
        query = query.where(N.c.user_id == user_id)
    return [AnnotationRow._make(row) for row in tx.execute(query.order_by(N.c.id)).all()]


def list_other_annotation_ids(tx: Tx, task_id: str, *, workspace_id: str, besides: str) -> list[str]:
    """The ids of the task's annotations other than ``besides``."""
    return list(
        tx.execute(select(N.c.id).where(N.c.workspace_id == workspace_id, N.c.task_id == task_id, N.c.id != besides))
        .scalars()
        .all()
    )


def list_answers(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> list[Answer]:
    """Every answer the person gave in the project."""
    rows = tx.execute(
        select(N.c.task_id, N.c.id, N.c.result).where(
            N.c.workspace_id == workspace_id, N.c.project_id == project_id, N.c.user_id == user_id
        )
    ).all()
    return [Answer._make(row) for row in rows]


def delete_answers(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> int:
    """Remove every answer the person gave in the project; returns how many there were."""
    return tx.execute(
        delete(N).where(N.c.workspace_id == workspace_id, N.c.project_id == project_id, N.c.user_id == user_id)
    ).rowcount
