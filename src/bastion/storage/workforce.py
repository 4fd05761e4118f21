"""Reading the wall state of one person and one workspace (the slice ``domain.walls.decide`` needs).

``lock_person`` serialises every wall decision of one person: on PostgreSQL a
``FOR UPDATE`` lock on their ``users`` row, on SQLite the database write lock the
transaction already holds. Two concurrent first accesses by one person to two
conflicting workspaces — on any number of server processes — therefore run one
after the other, and the second sees the history the first wrote.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update

from ..domain.walls import Affiliation, Edge, Exclusion, History
from . import schema

C = schema.conflicts
HIS = schema.person_history
AFF = schema.affiliations
EXC = schema.workspace_exclusions


def lock_person(conn, user_id: str) -> None:
    query = select(schema.users.c.id).where(schema.users.c.id == user_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    conn.execute(query)


def history_of(conn, user_id: str) -> dict[str, History]:
    rows = conn.execute(select(HIS).where(HIS.c.user_id == user_id)).all()
    return {r.workspace_id: History(r.workspace_id, r.first_at, r.last_at, r.source) for r in rows}


def edges_of(conn, workspace_id: str) -> list[Edge]:
    rows = conn.execute(select(C).where(or_(C.c.workspace_a == workspace_id, C.c.workspace_b == workspace_id))).all()
    return [Edge(r.workspace_a, r.workspace_b, r.cooling_off_ms, r.created_at, r.source) for r in rows]


def affiliations_of(conn, user_id: str) -> list[Affiliation]:
    rows = conn.execute(select(AFF).where(AFF.c.user_id == user_id).order_by(AFF.c.id)).all()
    return [Affiliation(r.org, r.kind, r.since, r.until) for r in rows]


def exclusions_of(conn, workspace_id: str) -> list[Exclusion]:
    rows = conn.execute(select(EXC).where(EXC.c.workspace_id == workspace_id)).all()
    return [Exclusion(r.org, r.kind or None) for r in rows]


def record_access(conn, dialect, user_id: str, workspace_id: str, now: int, *, new: bool) -> None:
    if new:
        dialect.insert_ignore(conn, "person_history", ("user_id", "workspace_id", "first_at", "last_at", "source"),
                              [(user_id, workspace_id, now, now, "access")], ("user_id", "workspace_id"))
    else:
        conn.execute(update(HIS).where(HIS.c.user_id == user_id, HIS.c.workspace_id == workspace_id)
                     .values(last_at=now))
