"""People's alerts (``services/alerts.py``): one row per person and alert, metadata only.

Person-level: keyed by ``user_id``, readable only by that person (row-level
security, ``storage/rls.py``); ``workspace_id`` says which workspace an alert is
about and is no foreign key, so an alert outlives its workspace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import func, insert, select, update

from . import schema
from .database import Tx

AL = schema.alerts


class Alert(NamedTuple):
    id: str
    workspace_id: str
    kind: str
    message: str
    subject: str | None
    created_at: int
    read_at: int | None


def insert_alerts(
    tx: Tx,
    workspace_id: str,
    recipients: Iterable[tuple[str, str]],
    *,
    kind: str,
    message: str,
    subject: str | None,
    now: int,
) -> None:
    """One alert per (person, alert id) in ``recipients``."""
    rows = [
        {
            "user_id": user_id,
            "id": alert_id,
            "workspace_id": workspace_id,
            "kind": kind,
            "message": message,
            "subject": subject,
            "created_at": now,
        }
        for user_id, alert_id in recipients
    ]
    if rows:
        tx.execute(insert(AL), rows)


def list_alerts(tx: Tx, user_id: str, *, unread_only: bool, limit: int) -> list[Alert]:
    """The person's alerts, newest first."""
    query = select(AL).where(AL.c.user_id == user_id)
    if unread_only:
        query = query.where(AL.c.read_at.is_(None))
    return [
        Alert(row.id, row.workspace_id, row.kind, row.message, row.subject, row.created_at, row.read_at)
        for row in tx.execute(query.order_by(AL.c.id.desc()).limit(limit)).all()
    ]


def count_unread(tx: Tx, user_id: str) -> int:
    return tx.execute(
        select(func.count()).select_from(AL).where(AL.c.user_id == user_id, AL.c.read_at.is_(None))
    ).scalar_one()


def mark_read(tx: Tx, user_id: str, alert_ids: Iterable[str] | None, now: int) -> int:
    """Mark the person's unread alerts read (these ids only, when given); returns how many changed."""
    query = update(AL).where(AL.c.user_id == user_id, AL.c.read_at.is_(None))
    if alert_ids is not None:
        query = query.where(AL.c.id.in_(list(alert_ids)))
    return tx.execute(query.values(read_at=now)).rowcount
