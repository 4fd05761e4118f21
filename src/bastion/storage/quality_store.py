"""Quality's storage: a project's annotations as agreement and aggregation read them, members' emails, pauses.

The annotations come in one query with the task's gold flag and sealed gold
answer, ordered by (task, annotation id) so that every per-task figure sees
its ratings in a stable order; results and gold answers stay sealed here —
the service opens them with the project's key. Pauses (``annotator_pauses``)
are written by the submit path (an annotator's accuracy on gold fell below the
project's bar) and lifted here.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, select

from . import schema
from .database import Tx

N = schema.annotations
T = schema.tasks
PZ = schema.annotator_pauses
U = schema.users
M = schema.memberships


class SealedAnnotation(NamedTuple):
    """One annotation of a project with its task's gold facts; ``result`` and ``gold`` still sealed."""

    id: str
    task_id: str
    user_id: str
    result: bytes
    gold_score: float | None
    lead_time_ms: int | None
    created_at: int
    review_status: str
    is_gold: bool
    gold: bytes | None


def list_annotations(tx: Tx, workspace_id: str, project_id: str) -> list[SealedAnnotation]:
    """Every annotation of the project, by task then id."""
    rows = tx.execute(
        select(
            N.c.id,
            N.c.task_id,
            N.c.user_id,
            N.c.result,
            N.c.gold_score,
            N.c.lead_time_ms,
            N.c.created_at,
            N.c.review_status,
            T.c.is_gold,
            T.c.gold,
        )
        .join(T, (T.c.workspace_id == N.c.workspace_id) & (T.c.id == N.c.task_id))
        .where(N.c.workspace_id == workspace_id, N.c.project_id == project_id)
        .order_by(N.c.task_id, N.c.id)
    ).all()
    return [SealedAnnotation._make(row) for row in rows]


def member_emails(tx: Tx, workspace_id: str) -> dict[str, str]:
    """user id -> email of the workspace's members (the report names people by email)."""
    rows = tx.execute(select(U.c.id, U.c.email).join(M, M.c.user_id == U.c.id).where(M.c.workspace_id == workspace_id))
    return {user_id: email for user_id, email in rows}


class Pause(NamedTuple):
    """An annotator stopped on a project by the auto-pause rule, and why."""

    user_id: str
    paused_at: int
    reason: str


def list_pauses(tx: Tx, workspace_id: str, project_id: str) -> list[Pause]:
    rows = tx.execute(
        select(PZ.c.user_id, PZ.c.paused_at, PZ.c.reason)
        .where(PZ.c.workspace_id == workspace_id, PZ.c.project_id == project_id)
        .order_by(PZ.c.paused_at, PZ.c.user_id)
    )
    return [Pause._make(row) for row in rows]


def delete_pause(tx: Tx, workspace_id: str, project_id: str, user_id: str) -> bool:
    """Lift the person's pause on the project; False when they were not paused."""
    gone = tx.execute(
        delete(PZ).where(PZ.c.workspace_id == workspace_id, PZ.c.project_id == project_id, PZ.c.user_id == user_id)
    ).rowcount
    return bool(gone)
