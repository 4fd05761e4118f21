"""Chats in progress (``schema.chat_drafts``): one sealed transcript per (task, person); every
function takes ``workspace_id``, so another workspace's rows are never reached (services/chat.py)."""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, select

from . import schema
from .database import Tx

D = schema.chat_drafts
A = schema.assignments


def find_draft(tx: Tx, task_id: str, *, workspace_id: str, user_id: str) -> bytes | None:
    """The person's sealed draft of the task, or None."""
    return tx.execute(
        select(D.c.body).where(D.c.workspace_id == workspace_id, D.c.task_id == task_id, D.c.user_id == user_id)
    ).scalar_one_or_none()


def save_draft(
    tx: Tx, task_id: str, body: bytes, *, workspace_id: str, project_id: str, user_id: str, draft_id: str, now: int
) -> None:
    """Replace the person's draft of the task (a write transaction: nobody else writes between the two)."""
    delete_draft(tx, task_id, workspace_id=workspace_id, user_id=user_id)
    tx.execute(
        insert(D).values(
            workspace_id=workspace_id,
            task_id=task_id,
            user_id=user_id,
            id=draft_id,
            project_id=project_id,
            body=body,
            updated_at=now,
        )
    )


def delete_draft(tx: Tx, task_id: str, *, workspace_id: str, user_id: str) -> None:
    tx.execute(delete(D).where(D.c.workspace_id == workspace_id, D.c.task_id == task_id, D.c.user_id == user_id))


def holds_lease(tx: Tx, task_id: str, *, workspace_id: str, user_id: str, now: int) -> bool:
    """Whether the person holds a live lease on the task (leased, not expired by ``now``)."""
    row = tx.execute(
        select(A.c.id).where(
            and_(
                A.c.workspace_id == workspace_id,
                A.c.task_id == task_id,
                A.c.user_id == user_id,
                A.c.state == "leased",
                A.c.expires_at > now,
            )
        )
    ).first()
    return row is not None
