"""Authors of imported annotations: members found by e-mail or id, external annotators, and the bulk writes.

An external annotator (``external_annotators``) is a handle of one workspace backed
by a ``users`` row that cannot sign in: no password, inactive, its e-mail column
``"<handle> (<workspace id>)"`` — whitespace no e-mail address has, so it never
collides with a person's and ``domain.users.is_external_email`` recognises it.

The writes of an attributed import (annotations, the assignments that make them
count toward overlap, reviews) are batch ``executemany`` statements: one round
trip per batch, not per annotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select

from . import schema
from .database import Tx
from .fast import Statement

U = schema.users
M = schema.memberships
X = schema.external_annotators


def member_ids_by_email(tx: Tx, workspace_id: str, emails: Iterable[str]) -> dict[str, str]:
    """e-mail -> user id of those of these e-mails that belong to members of the workspace."""
    wanted = sorted(set(emails))
    if not wanted:
        return {}
    rows = tx.execute(
        select(U.c.email, U.c.id)
        .join(M, M.c.user_id == U.c.id)
        .where(M.c.workspace_id == workspace_id, U.c.email.in_(wanted))
    ).all()
    return {email: user_id for email, user_id in rows}


def known_author_ids(tx: Tx, workspace_id: str, user_ids: Iterable[str]) -> set[str]:
    """Those of these user ids that are members or external annotators of the workspace."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    members = select(M.c.user_id).where(M.c.workspace_id == workspace_id, M.c.user_id.in_(wanted))
    external = select(X.c.user_id).where(X.c.workspace_id == workspace_id, X.c.user_id.in_(wanted))
    return set(tx.execute(members.union(external)).scalars().all())


def external_ids(tx: Tx, workspace_id: str, handles: Iterable[str]) -> dict[str, str]:
    """handle -> user id of the workspace's external annotators among these handles."""
    wanted = sorted(set(handles))
    if not wanted:
        return {}
    rows = tx.execute(select(X.c.handle, X.c.user_id).where(X.c.workspace_id == workspace_id, X.c.handle.in_(wanted)))
    return {handle: user_id for handle, user_id in rows}


def external_handles(tx: Tx, workspace_id: str) -> dict[str, str]:
    """user id -> handle of every external annotator of the workspace (reports name them by handle)."""
    rows = tx.execute(select(X.c.user_id, X.c.handle).where(X.c.workspace_id == workspace_id))
    return {user_id: handle for user_id, handle in rows}


def insert_externals(tx: Tx, workspace_id: str, people: Sequence[tuple[str, str, str]], *, now: int) -> None:
    """New external annotators: ``(user id, handle, users.email)`` each; a users row that cannot sign in."""
    if not people:
        return
    tx.execute(
        insert(U),
        [
            {
                "id": user_id,
                "email": email,
                "name": handle,
                "password_hash": None,
                "is_admin": False,
                "is_active": False,
                "created_at": now,
            }
            for user_id, handle, email in people
        ],
    )
    tx.execute(
        insert(X),
        [
            {"workspace_id": workspace_id, "handle": handle, "user_id": user_id, "created_at": now}
            for user_id, handle, _ in people
        ],
    )


INSERT_ANNOTATIONS = Statement(
    "INSERT INTO annotations (workspace_id, id, project_id, task_id, user_id, result, lead_time_ms, review_status, "
    "gold_score, created_at) VALUES (:ws, :id, :project, :task, :user, :result, :lead, :review, :gold_score, "
    ":created_at)"
)
INSERT_ASSIGNMENTS = Statement(
    "INSERT INTO assignments (workspace_id, id, project_id, task_id, user_id, state, expires_at, created_at, "
    "updated_at) VALUES (:ws, :id, :project, :task, :user, :state, :created_at, :created_at, :created_at)"
)
INSERT_REVIEWS = Statement(
    "INSERT INTO reviews (workspace_id, id, project_id, task_id, annotation_id, reviewer_id, decision, comment, "
    "correction, created_at) VALUES (:ws, :id, :project, :task, :annotation, :reviewer, :decision, :comment, "
    ":correction, :created_at)"
)


def existing_task_ids(tx: Tx, workspace_id: str, task_ids: Sequence[str]) -> set[str]:
    """Those of these (just inserted or skipped) task ids that are stored: a batch that had duplicates."""
    rows = tx.execute(
        select(schema.tasks.c.id)
        .where(schema.tasks.c.workspace_id == workspace_id)
        .where(schema.tasks.c.id.in_(list(task_ids)))
    )
    return set(rows.scalars().all())


def insert_many(tx: Tx, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
    """One ``executemany`` of a statement above (nothing when there are no rows)."""
    if rows:
        statement.many(tx, rows)
