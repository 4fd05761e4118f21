"""Qualification tests' storage: each person's latest result on a test project.

One row per (project, person): a retake's grade replaces the earlier one. The
skill a pass grants is written through ``workforce_store`` (skills are a person's,
not a workspace's).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, insert, select

from . import schema
from .database import Tx

Q = schema.qualification_results
U = schema.users


class QualificationResult(NamedTuple):
    """A person's grade on a test; ``retake_after``: when a failed test may be taken again."""

    user_id: str
    correct: int
    total: int
    passed: bool
    taken_at: int
    retake_after: int | None


class GradedPerson(NamedTuple):
    """A result with the e-mail of the person it grades (the results page lists people by e-mail)."""

    user_id: str
    email: str
    correct: int
    total: int
    passed: bool
    taken_at: int
    retake_after: int | None


_RESULT = [Q.c.user_id, Q.c.correct, Q.c.total, Q.c.passed, Q.c.taken_at, Q.c.retake_after]


def find_result(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> QualificationResult | None:
    row = tx.execute(
        select(*_RESULT).where(Q.c.workspace_id == workspace_id, Q.c.project_id == project_id, Q.c.user_id == user_id)
    ).first()
    return None if row is None else QualificationResult._make(row)


def replace_result(
    tx: Tx,
    project_id: str,
    *,
    workspace_id: str,
    user_id: str,
    correct: int,
    total: int,
    passed: bool,
    taken_at: int,
    retake_after: int | None,
) -> None:
    """The person's result on the test is this one (whatever it was before)."""
    tx.execute(delete(Q).where(Q.c.workspace_id == workspace_id, Q.c.project_id == project_id, Q.c.user_id == user_id))
    tx.execute(
        insert(Q).values(
            workspace_id=workspace_id,
            project_id=project_id,
            user_id=user_id,
            correct=correct,
            total=total,
            passed=passed,
            taken_at=taken_at,
            retake_after=retake_after,
        )
    )


def list_results(tx: Tx, project_id: str, *, workspace_id: str, user_id: str | None = None) -> list[GradedPerson]:
    """The test's results, oldest first (``user_id``: only that person's)."""
    query = (
        select(Q.c.user_id, U.c.email, *_RESULT[1:])
        .join(U, U.c.id == Q.c.user_id)
        .where(Q.c.workspace_id == workspace_id, Q.c.project_id == project_id)
    )
    if user_id is not None:
        query = query.where(Q.c.user_id == user_id)
    return [GradedPerson._make(row) for row in tx.execute(query.order_by(Q.c.taken_at)).all()]
