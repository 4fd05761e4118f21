"""Working time's storage (services/time_report.py): the timing of a workspace's annotations over a span.

Only metadata: who, which project, when, the active time claimed (checked at submit against the lease,
services/annotations.py) and the paste record. Never a result, never a task's data.
"""

from __future__ import annotations

from typing import NamedTuple

from .database import Tx
from .fast import Statement


class Timing(NamedTuple):
    """One annotation's timing."""

    id: str
    project_id: str
    user_id: str
    created_at: int
    lead_time_ms: int | None
    paste_count: int | None
    pasted_chars: int | None


_TIMINGS = (
    "SELECT id, project_id, user_id, created_at, lead_time_ms, paste_count, pasted_chars FROM annotations "
    "WHERE workspace_id = :ws AND created_at >= :since AND created_at < :until{} ORDER BY id"
)
# On the driver's cursor (storage/fast.py): a span may hold hundreds of thousands of rows, and wrapping each
# in SQLAlchemy's Row costs more than reading it.
TIMINGS = Statement(_TIMINGS.format(""))
TIMINGS_OF_PROJECT = Statement(_TIMINGS.format(" AND project_id = :project"))


def timings(tx: Tx, *, workspace_id: str, since: int, until: int, project_id: str | None = None) -> list[Timing]:
    """The workspace's annotations made in [since, until) (ms), in id order (ids sort by time); plain
    tuples in ``Timing``'s order."""
    if project_id is None:
        return TIMINGS.rows(tx, ws=workspace_id, since=since, until=until)  # type: ignore[return-value]
    return TIMINGS_OF_PROJECT.rows(tx, ws=workspace_id, since=since, until=until, project=project_id)  # type: ignore[return-value]
