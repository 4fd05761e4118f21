"""Reading the wall state of one person and one workspace (the slice ``domain.walls.decide`` needs).

``lock_person`` serialises every wall decision of one person: on PostgreSQL a
``FOR UPDATE`` lock on their ``users`` row, on SQLite the database write lock the
transaction already holds. Two concurrent first accesses by one person to two
conflicting workspaces — on any number of server processes — therefore run one
after the other, and the second sees the history the first wrote.

These run on every data access, so they are driver-level statements (``fast.py``).
"""

from __future__ import annotations

from ..domain.walls import Affiliation, Declaration, Edge, Exclusion, History, combine
from .fast import Statement

LOCK_PERSON = Statement("SELECT id FROM users WHERE id = :user FOR UPDATE")
HISTORY = Statement("SELECT workspace_id, first_at, last_at, source FROM person_history WHERE user_id = :user")
# One indexed query for every holder of every wall touching a workspace (the primary key
# serves workspace_a, ix_conflict_declarations_workspace_b the other side); withdrawals whose
# instant has passed no longer hold, so nothing needs to run when a wall falls.
EDGES = Statement(
    "SELECT workspace_a, workspace_b, holder, cooling_off_ms, created_at, lifts_at FROM conflict_declarations "
    "WHERE workspace_a = :ws AND (lifts_at IS NULL OR lifts_at > :now) "
    "UNION ALL SELECT workspace_a, workspace_b, holder, cooling_off_ms, created_at, lifts_at "
    "FROM conflict_declarations WHERE workspace_b = :ws AND (lifts_at IS NULL OR lifts_at > :now)"
)
AFFILIATIONS = Statement("SELECT org, kind, since, until FROM affiliations WHERE user_id = :user ORDER BY id")
EXCLUSIONS = Statement("SELECT org, kind FROM workspace_exclusions WHERE workspace_id = :ws")
TOUCH = Statement("UPDATE person_history SET last_at = :now WHERE user_id = :user AND workspace_id = :ws")
BIND = Statement(
    "INSERT INTO person_history (user_id, workspace_id, first_at, last_at, source) "
    "VALUES (:user, :ws, :now, :now, 'access') ON CONFLICT (user_id, workspace_id) DO NOTHING"
)


def lock_person(tx, user_id: str) -> None:
    if not tx.db.is_sqlite:  # SQLite: the transaction already holds the database write lock
        LOCK_PERSON.run(tx, user=user_id)


def history_of(tx, user_id: str) -> dict[str, History]:
    return {ws: History(ws, first, last, source) for ws, first, last, source in HISTORY.rows(tx, user=user_id)}


def edges_of(tx, workspace_id: str, now: int | None = None) -> list[Edge]:
    """The walls standing around a workspace at ``now`` (the transaction's instant by default)."""
    now = tx.now if now is None else now
    return combine((Declaration(a, b, holder, cooling, since, lifts_at)
                    for a, b, holder, cooling, since, lifts_at in EDGES.rows(tx, ws=workspace_id, now=now)), now)


def affiliations_of(tx, user_id: str) -> list[Affiliation]:
    return [Affiliation(org, kind, since, until) for org, kind, since, until in AFFILIATIONS.rows(tx, user=user_id)]


def exclusions_of(tx, workspace_id: str) -> list[Exclusion]:
    return [Exclusion(org, kind or None) for org, kind in EXCLUSIONS.rows(tx, ws=workspace_id)]


def record_access(tx, user_id: str, workspace_id: str, now: int, *, new: bool) -> None:
    (BIND if new else TOUCH).run(tx, user=user_id, ws=workspace_id, now=now)
