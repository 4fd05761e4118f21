"""Canaries' storage: the canary rows, their template tasks, and who was issued which.

A canary is a task row flagged ``is_canary`` (stored ``done``, so no queue query
ever picks it) plus a ``canaries`` row with its state (draft → approved →
retired). Each recipient gets one ``canary_issues`` row, which also keeps what
they submitted, sealed — a canary's answer is never an annotation.

Issuing and answering run inside the queue's next and submit calls, so they are
driver-level statements (``fast.py``); the owners' pages use SQLAlchemy Core.
Every function takes ``workspace_id`` (row-level security keys on it).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import insert, select, update

from . import schema
from .database import Tx
from .fast import Statement

C = schema.canaries
CI = schema.canary_issues
T = schema.tasks
P = schema.projects


class CanaryRow(NamedTuple):
    """One canary's row (its text is the template task's sealed payload: :func:`canary_text`)."""

    workspace_id: str
    id: str
    project_id: str
    state: str
    created_by: str | None
    created_at: int
    approved_by: str | None
    approved_at: int | None


class CanaryText(NamedTuple):
    """A canary's sealed template payload and the key of the project that sealed it."""

    payload: bytes
    key_id: str


class CanaryIssue(NamedTuple):
    """One recipient's issue of a canary; ``result`` is what they submitted, sealed (None until they answer)."""

    id: str
    issued_at: int
    answered_at: int | None
    result: bytes | None


class IssueCounts(NamedTuple):
    issued: int
    answered: int


_COLUMNS = (
    C.c.workspace_id,
    C.c.id,
    C.c.project_id,
    C.c.state,
    C.c.created_by,
    C.c.created_at,
    C.c.approved_by,
    C.c.approved_at,
)


# -- the canaries ---------------------------------------------------------------------


def find_canary(tx: Tx, canary_id: str, *, workspace_ids: Collection[str] | None) -> CanaryRow | None:
    """The canary, if it lies in one of ``workspace_ids`` (None: any workspace, for the local operator)."""
    query = select(*_COLUMNS).where(C.c.id == canary_id)
    if workspace_ids is not None:
        query = query.where(C.c.workspace_id.in_(list(workspace_ids) or [""]))
    row = tx.execute(query).first()
    return None if row is None else CanaryRow._make(row)


def get_canary(tx: Tx, canary_id: str, *, workspace_id: str) -> CanaryRow:
    return CanaryRow._make(
        tx.execute(select(*_COLUMNS).where(C.c.workspace_id == workspace_id, C.c.id == canary_id)).one()
    )


def canary_text(tx: Tx, canary: CanaryRow, *, workspace_id: str) -> CanaryText:
    payload = tx.execute(select(T.c.payload).where(T.c.workspace_id == workspace_id, T.c.id == canary.id)).scalar_one()
    key_id = tx.execute(
        select(P.c.key_id).where(P.c.workspace_id == workspace_id, P.c.id == canary.project_id)
    ).scalar_one()
    return CanaryText(payload, key_id)


def issue_counts(tx: Tx, canary_id: str, *, workspace_id: str) -> IssueCounts:
    rows = tx.execute(
        select(CI.c.id, CI.c.answered_at).where(CI.c.workspace_id == workspace_id, CI.c.canary_id == canary_id)
    ).all()
    return IssueCounts(len(rows), sum(1 for row in rows if row.answered_at))


def list_canary_ids(tx: Tx, project_id: str, *, workspace_id: str) -> list[str]:
    """A project's canaries, every state, by id."""
    return list(
        tx.execute(
            select(C.c.id).where(C.c.workspace_id == workspace_id, C.c.project_id == project_id).order_by(C.c.id)
        ).scalars()
    )


def traced_canary_ids(tx: Tx, project_id: str, *, workspace_id: str) -> list[str]:
    """The project's canaries that may have been issued (approved or retired: not drafts)."""
    return list(
        tx.execute(
            select(C.c.id).where(C.c.workspace_id == workspace_id, C.c.project_id == project_id, C.c.state != "draft")
        ).scalars()
    )


def insert_canary(
    tx: Tx,
    canary_id: str,
    *,
    workspace_id: str,
    project_id: str,
    dedupe_key: bytes,
    payload: bytes,
    created_by: str | None,
    now: int,
) -> None:
    """A draft canary: its template task (done, so never queued) and its row."""
    tx.execute(
        insert(T).values(
            workspace_id=workspace_id,
            id=canary_id,
            project_id=project_id,
            dedupe_key=dedupe_key,
            payload=payload,
            priority=0,
            done=True,
            is_canary=True,
            created_at=now,
        )
    )
    tx.execute(
        insert(C).values(
            workspace_id=workspace_id,
            id=canary_id,
            project_id=project_id,
            state="draft",
            created_by=created_by,
            created_at=now,
        )
    )


def approve_canary(tx: Tx, canary_id: str, *, workspace_id: str, user_id: str, now: int) -> None:
    tx.execute(
        update(C)
        .where(C.c.workspace_id == workspace_id, C.c.id == canary_id)
        .values(state="approved", approved_by=user_id, approved_at=now)
    )


def retire_canary(tx: Tx, canary_id: str, *, workspace_id: str) -> None:
    tx.execute(update(C).where(C.c.workspace_id == workspace_id, C.c.id == canary_id).values(state="retired"))


# -- issues (in the queue's next and submit calls) -------------------------------------

NEXT_CANARY = Statement(
    "SELECT c.id FROM canaries c WHERE c.workspace_id = :ws AND c.project_id = :project AND c.state = 'approved' "
    "AND NOT EXISTS (SELECT 1 FROM canary_issues i WHERE i.workspace_id = c.workspace_id AND i.canary_id = c.id "
    "AND i.user_id = :user) "
    "AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.workspace_id = c.workspace_id AND a.task_id = c.id "
    "AND a.user_id = :user) ORDER BY c.id LIMIT 1"
)
ISSUE_CANARY = Statement(
    "INSERT INTO canary_issues (workspace_id, id, project_id, canary_id, user_id, issued_at) "
    "VALUES (:ws, :id, :project, :canary, :user, :now)"
)
ANSWER_CANARY = Statement(
    "UPDATE canary_issues SET answered_at = :now, result = :result "
    "WHERE workspace_id = :ws AND canary_id = :canary AND user_id = :user AND answered_at IS NULL"
)
ISSUE_OF = Statement(
    "SELECT id, issued_at, answered_at, result FROM canary_issues WHERE workspace_id = :ws AND canary_id = :canary "
    "AND user_id = :user"
)


def next_canary(tx: Tx, project_id: str, user_id: str, *, workspace_id: str) -> str | None:
    """An approved canary of the project this person has neither been issued nor leased."""
    canary_id: str | None = NEXT_CANARY.scalar(tx, ws=workspace_id, project=project_id, user=user_id)
    return canary_id


def issue_canary(
    tx: Tx, issue_id: str, *, workspace_id: str, project_id: str, canary_id: str, user_id: str, now: int
) -> None:
    ISSUE_CANARY.run(tx, ws=workspace_id, id=issue_id, project=project_id, canary=canary_id, user=user_id, now=now)


def answer_canary(tx: Tx, canary_id: str, user_id: str, *, workspace_id: str, result: bytes, now: int) -> None:
    """Keep the recipient's first answer (sealed) on their issue."""
    ANSWER_CANARY.run(tx, ws=workspace_id, canary=canary_id, user=user_id, now=now, result=result)


def issue_of(tx: Tx, canary_id: str, user_id: str, *, workspace_id: str) -> CanaryIssue | None:
    row = ISSUE_OF.one(tx, ws=workspace_id, canary=canary_id, user=user_id)
    return None if row is None else CanaryIssue._make(row)


class AnsweredCanary(NamedTuple):
    """A canary a person answered (``result`` sealed under the issue's id: the answer as they submitted it)."""

    canary_id: str
    issue_id: str
    answered_at: int
    result: bytes


def list_answered(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> list[AnsweredCanary]:
    """The canaries of the project the person answered (a handful: one issue per canary and person)."""
    rows = tx.execute(
        select(CI.c.canary_id, CI.c.id, CI.c.answered_at, CI.c.result).where(
            CI.c.workspace_id == workspace_id,
            CI.c.project_id == project_id,
            CI.c.user_id == user_id,
            CI.c.answered_at.is_not(None),
        )
    ).all()
    return [AnsweredCanary._make(row) for row in rows]


def replace_answer(tx: Tx, canary_id: str, user_id: str, *, workspace_id: str, result: bytes | None) -> None:
    """The recipient's answer is now ``result`` (sealed); None takes it back (the canary is theirs to answer again)."""
    values: dict[str, bytes | None] = {"result": result}
    if result is None:
        values["answered_at"] = None
    tx.execute(
        update(CI)
        .where(CI.c.workspace_id == workspace_id, CI.c.canary_id == canary_id, CI.c.user_id == user_id)
        .values(**values)
    )


def recipients_of(tx: Tx, canary_ids: list[str], *, workspace_id: str) -> dict[str, list[str]]:
    """canary id -> the people it was issued to, in order of issue."""
    out: dict[str, list[str]] = {c: [] for c in canary_ids}
    if canary_ids:
        rows = tx.execute(
            select(CI.c.canary_id, CI.c.user_id)
            .where(CI.c.workspace_id == workspace_id, CI.c.canary_id.in_(canary_ids))
            .order_by(CI.c.id)
        ).all()
        for canary_id, user_id in rows:
            out[canary_id].append(user_id)
    return out


__all__ = [
    "AnsweredCanary",
    "CanaryIssue",
    "CanaryRow",
    "CanaryText",
    "IssueCounts",
    "answer_canary",
    "approve_canary",
    "canary_text",
    "find_canary",
    "get_canary",
    "insert_canary",
    "issue_canary",
    "issue_counts",
    "issue_of",
    "list_answered",
    "list_canary_ids",
    "next_canary",
    "recipients_of",
    "replace_answer",
    "retire_canary",
    "traced_canary_ids",
]
