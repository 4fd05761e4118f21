"""Questions a person asks the project's managers about a task, and their answers.

The text and the answer are sealed (services/questions.py opens them with the
project's key, under the question's id). The managers' list reads
``ix_questions_project`` by state, newest first (keyset); an asker's own list
reads ``ix_questions_asker``. Every function takes ``workspace_id``.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, insert, select, update

from . import schema
from .database import Tx

Q = schema.questions


class QuestionRow(NamedTuple):
    """One question (``text`` and ``answer`` sealed)."""

    workspace_id: str
    id: str
    project_id: str
    task_id: str
    asker_id: str
    text: bytes
    state: str
    answer: bytes | None
    answerer_id: str | None
    created_at: int
    answered_at: int | None
    seen_at: int | None


_COLUMNS = [getattr(Q.c, name) for name in QuestionRow._fields]


def insert_question(
    tx: Tx, question_id: str, *, workspace_id: str, project_id: str, task_id: str, asker_id: str, text: bytes, now: int
) -> None:
    tx.execute(
        insert(Q).values(
            workspace_id=workspace_id,
            id=question_id,
            project_id=project_id,
            task_id=task_id,
            asker_id=asker_id,
            text=text,
            state="open",
            created_at=now,
        )
    )


def find_question(tx: Tx, question_id: str, *, workspace_id: str) -> QuestionRow | None:
    row = tx.execute(select(*_COLUMNS).where(Q.c.workspace_id == workspace_id, Q.c.id == question_id)).first()
    return None if row is None else QuestionRow._make(row)


def list_project_questions(
    tx: Tx, project_id: str, *, workspace_id: str, state: str | None, before: str | None, limit: int
) -> list[QuestionRow]:
    """The project's questions (``state``: only those), newest first, older than ``before``."""
    query = select(*_COLUMNS).where(Q.c.workspace_id == workspace_id, Q.c.project_id == project_id)
    if state is not None:
        query = query.where(Q.c.state == state)
    if before:
        query = query.where(Q.c.id < before)
    return [QuestionRow._make(row) for row in tx.execute(query.order_by(Q.c.id.desc()).limit(limit)).all()]


def list_asked(tx: Tx, project_id: str, *, workspace_id: str, user_id: str, limit: int) -> list[QuestionRow]:
    """The person's questions in the project, newest first."""
    rows = tx.execute(
        select(*_COLUMNS)
        .where(Q.c.workspace_id == workspace_id, Q.c.project_id == project_id, Q.c.asker_id == user_id)
        .order_by(Q.c.id.desc())
        .limit(limit)
    ).all()
    return [QuestionRow._make(row) for row in rows]


def count_unseen_answers(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> int:
    """How many of the person's questions in the project were answered since they last looked."""
    return tx.execute(
        select(func.count()).where(
            Q.c.workspace_id == workspace_id,
            Q.c.project_id == project_id,
            Q.c.asker_id == user_id,
            Q.c.state == "answered",
            Q.c.seen_at.is_(None),
        )
    ).scalar_one()


def count_open(tx: Tx, project_id: str, *, workspace_id: str) -> int:
    """How many of the project's questions wait for an answer."""
    return tx.execute(
        select(func.count()).where(Q.c.workspace_id == workspace_id, Q.c.project_id == project_id, Q.c.state == "open")
    ).scalar_one()


def answer_question(tx: Tx, question_id: str, *, workspace_id: str, answer: bytes, answerer_id: str, now: int) -> bool:
    """Record the answer (a later answer replaces an earlier one, and the asker is told again)."""
    return bool(
        tx.execute(
            update(Q)
            .where(Q.c.workspace_id == workspace_id, Q.c.id == question_id)
            .values(state="answered", answer=answer, answerer_id=answerer_id, answered_at=now, seen_at=None)
        ).rowcount
    )


def mark_seen(tx: Tx, project_id: str, *, workspace_id: str, user_id: str, now: int) -> int:
    """The person has read the answers to their questions in the project; returns how many were new."""
    return tx.execute(
        update(Q)
        .where(
            Q.c.workspace_id == workspace_id,
            Q.c.project_id == project_id,
            Q.c.asker_id == user_id,
            Q.c.state == "answered",
            Q.c.seen_at.is_(None),
        )
        .values(seen_at=now)
    ).rowcount
