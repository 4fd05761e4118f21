"""The workforce dashboard's storage: counts and times of a workspace's work, never its content.

Every query here is an aggregate over clear metadata — ids, times, review states, gold
scores — and reads no sealed column. Each is bounded by an index, so the dashboard costs
the same at a million annotations as at a thousand (benchmarks/workforce.py):

* the recent annotations (throughput, forecast, who is active) by ``ix_annotations_recent``
  (workspace, created_at, project, user, gold_score): a range of the last hours, read from the
  index alone;
* accuracy on gold by ``ix_annotations_gold`` (only gold answers), review outcomes by
  ``ix_annotations_reviewed`` (only sampled annotations): each person's figures from a
  partial index, never the whole table;
* leases by ``ix_assignments_expiry`` (only leased rows) and the small ``review_leases``;
* projects and their counters by their keys.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.sql.expression import ColumnClause

from . import schema
from .database import Tx

N = schema.annotations
A = schema.assignments
RL = schema.review_leases
P = schema.projects
C = schema.project_counters
M = schema.memberships
U = schema.users

HOUR_MS = 3600 * 1000
# Written as literals, not bound parameters, so that the planners match the partial indexes' predicates
# (``state = 'leased'``, ``review_status != 'none'``) whatever the parameters would be.
LEASED: ColumnClause[str] = literal_column("'leased'")
NOT_SAMPLED: ColumnClause[str] = literal_column("'none'")


class ProjectFigures(NamedTuple):
    """A project's name, overlap, age and counters (summed over their shards)."""

    id: str
    name: str
    overlap: int
    created_at: int
    tasks: int
    done: int
    annotations: int


def list_projects(tx: Tx, workspace_id: str) -> list[ProjectFigures]:
    """The workspace's projects with their counters, oldest first."""
    sums = (
        select(
            C.c.project_id,
            func.sum(C.c.tasks).label("tasks"),
            func.sum(C.c.done).label("done"),
            func.sum(C.c.annotations).label("annotations"),
        )
        .where(C.c.workspace_id == workspace_id)
        .group_by(C.c.project_id)
        .subquery()
    )
    rows = tx.execute(
        select(P.c.id, P.c.name, P.c.overlap, P.c.created_at, sums.c.tasks, sums.c.done, sums.c.annotations)
        .outerjoin(sums, sums.c.project_id == P.c.id)
        .where(P.c.workspace_id == workspace_id)
        .order_by(P.c.id)
    ).all()
    return [
        ProjectFigures(
            r.id, r.name, r.overlap, r.created_at, int(r.tasks or 0), int(r.done or 0), int(r.annotations or 0)
        )
        for r in rows
    ]


class Member(NamedTuple):
    user_id: str
    email: str
    role: str


def list_members(tx: Tx, workspace_id: str) -> list[Member]:
    """The workspace's members with their e-mails and roles."""
    rows = tx.execute(
        select(M.c.user_id, U.c.email, M.c.role)
        .join(U, U.c.id == M.c.user_id)
        .where(M.c.workspace_id == workspace_id)
        .order_by(U.c.email)
    ).all()
    return [Member._make(row) for row in rows]


class HeldLeases(NamedTuple):
    """Leases a person holds now on one project: tasks to annotate, annotations to review."""

    user_id: str
    project_id: str
    tasks: int
    reviews: int


def list_live_leases(tx: Tx, workspace_id: str, project_ids: list[str], now: int) -> list[HeldLeases]:
    """Every unexpired task and review lease of these projects, counted per person and project.

    Task leases are read project by project from ``ix_assignments_expiry`` (workspace, project,
    expires_at; leased rows only): a range of the live ones, never the project's submitted assignments.
    """
    tasks: list[Any] = []
    for project_id in project_ids:
        tasks += tx.execute(
            select(A.c.user_id, A.c.project_id, func.count())
            .where(
                A.c.workspace_id == workspace_id,
                A.c.project_id == project_id,
                A.c.state == LEASED,
                A.c.expires_at > now,
            )
            .group_by(A.c.user_id, A.c.project_id)
        ).all()
    reviews = tx.execute(
        select(RL.c.reviewer_id, RL.c.project_id, func.count())
        .where(RL.c.workspace_id == workspace_id, RL.c.expires_at > now)
        .group_by(RL.c.reviewer_id, RL.c.project_id)
    ).all()
    held: dict[tuple[str, str], list[int]] = {}
    for user, project, n in tasks:
        held.setdefault((user, project), [0, 0])[0] += int(n)
    for user, project, n in reviews:
        held.setdefault((user, project), [0, 0])[1] += int(n)
    return [HeldLeases(u, p, t, r) for (u, p), (t, r) in sorted(held.items())]


class RecentWork(NamedTuple):
    """A person's annotations on one project since a time, and their latest."""

    user_id: str
    project_id: str
    annotations: int
    last_at: int


def list_recent_work(tx: Tx, workspace_id: str, since: int) -> list[RecentWork]:
    """Per person and project: annotations made at or after ``since`` (gold answers included) and the latest."""
    rows = tx.execute(
        select(N.c.user_id, N.c.project_id, func.count(), func.max(N.c.created_at))
        .where(N.c.workspace_id == workspace_id, N.c.created_at >= since)
        .group_by(N.c.user_id, N.c.project_id)
    ).all()
    return [RecentWork(u, p, int(n), int(last)) for u, p, n, last in rows]


class HourCount(NamedTuple):
    """Annotations of one project in one hour (``hour``: whole hours since ``since``); gold answers apart."""

    project_id: str
    hour: int
    annotations: int
    gold_answers: int


def hourly_counts(tx: Tx, workspace_id: str, since: int) -> list[HourCount]:
    """Per project and hour since ``since``: annotations made (all) and how many were gold answers."""
    hour = ((N.c.created_at - since) // HOUR_MS).label("hour")
    rows = tx.execute(
        select(N.c.project_id, hour, func.count(), func.count(N.c.gold_score))
        .where(N.c.workspace_id == workspace_id, N.c.created_at >= since)
        .group_by(N.c.project_id, hour)
    ).all()
    return [HourCount(p, int(h), int(n), int(g)) for p, h, n, g in rows]


class GoldTally(NamedTuple):
    """A person's gold answers: how many, how many fully right (score ≥ ``correct_at``), the mean score."""

    user_id: str
    answers: int
    correct: int
    mean_score: float


def gold_tallies(tx: Tx, workspace_id: str, correct_at: float) -> list[GoldTally]:
    """Each person's gold answers over the workspace's history (``ix_annotations_gold``)."""
    rows = tx.execute(
        select(
            N.c.user_id,
            func.count(),
            func.sum(case((N.c.gold_score >= correct_at, 1), else_=0)),
            func.avg(N.c.gold_score),
        )
        .where(N.c.workspace_id == workspace_id, N.c.gold_score.is_not(None))
        .group_by(N.c.user_id)
    ).all()
    return [GoldTally(u, int(n), int(k or 0), float(mean)) for u, n, k, mean in rows]


def review_tallies(tx: Tx, workspace_id: str) -> dict[str, dict[str, int]]:
    """user id -> review status -> annotations, for annotations sampled for review (``ix_annotations_reviewed``)."""
    rows = tx.execute(
        select(N.c.user_id, N.c.review_status, func.count())
        .where(N.c.workspace_id == workspace_id, N.c.review_status != NOT_SAMPLED)
        .group_by(N.c.user_id, N.c.review_status)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for user, status, n in rows:
        out.setdefault(user, {})[status] = int(n)
    return out
