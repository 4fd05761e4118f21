"""Working time's storage (services/time_report.py): the timing of a workspace's annotations over a span.

Only metadata: who, which project, when, the active time claimed (checked at submit against the lease,
services/annotations.py) and the paste record. Never a result, never a task's data.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from . import schema
from .database import Tx

N = schema.annotations


class Timing(NamedTuple):
    """One annotation's timing."""

    id: str
    project_id: str
    user_id: str
    created_at: int
    lead_time_ms: int | None
    paste_count: int | None
    pasted_chars: int | None


_COLUMNS = [getattr(N.c, name) for name in Timing._fields]


def timings(
    tx: Tx,
    *,
    workspace_id: str,
    since: int,
    until: int,
    project_ids: list[str] | None = None,
    user_id: str | None = None,
) -> list[Timing]:
    """The workspace's annotations made in [since, until) (ms), in id order (ids sort by time)."""
    query = select(*_COLUMNS).where(N.c.workspace_id == workspace_id, N.c.created_at >= since, N.c.created_at < until)
    if project_ids is not None:
        query = query.where(N.c.project_id.in_(project_ids))
    if user_id is not None:
        query = query.where(N.c.user_id == user_id)
    return [Timing._make(row) for row in tx.execute(query.order_by(N.c.id))]


def project_lead_times(tx: Tx, *, workspace_id: str, project_id: str, until: int) -> list[int]:
    """A project's active times before ``until``: what its median is taken over."""
    query = select(N.c.lead_time_ms).where(
        N.c.workspace_id == workspace_id,
        N.c.project_id == project_id,
        N.c.created_at < until,
        N.c.lead_time_ms.is_not(None),
    )
    return [row[0] for row in tx.execute(query)]
