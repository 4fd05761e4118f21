"""The workforce's rows: walls (conflict declarations, sector groups), people's history,
affiliations, workspaces' exclusions, skills.

The first part is the slice ``domain.walls.decide`` needs about one person and one
workspace, read on every data access (``access.Access.require_content``), so its
statements are driver-level (``fast.py``). ``lock_person`` serialises every wall
decision of one person: on PostgreSQL a ``FOR UPDATE`` lock on their ``users`` row,
on SQLite the database write lock the transaction already holds. Two concurrent
first accesses by one person to two conflicting workspaces — on any number of
server processes — therefore run one after the other, and the second sees the
history the first wrote. Take it before any other row lock (the order every path
keeps: person, then tasks).

The rest (managing walls, groups, ties, skills) is plain SQLAlchemy Core.

Walls are stored one row per holder (``conflict_declarations``); ``list_edges``
combines them (``domain.walls.combine``). A withdrawal whose ``lifts_at`` has passed
no longer holds: reads filter it, and the pair's next change deletes it
(``delete_lapsed_declarations``), so nothing needs to run when a wall falls.
Person-level rows (history, affiliations, skills) span workspaces by nature and
hold no client content.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Row, delete, insert, or_, select, update

from . import schema
from .database import Tx
from .fast import Statement, together
from .integrity import refused_as
from ..domain.errors import Conflict, NotFound
from ..domain.walls import Affiliation, Declaration, Edge, Exclusion, History, combine

D = schema.conflict_declarations
G = schema.conflict_groups
GM = schema.conflict_group_members
HIS = schema.person_history
AFF = schema.affiliations
EXC = schema.workspace_exclusions
SK = schema.skills

# -- the wall decision's reads (every data access) ------------------------------------

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


def lock_person(tx: Tx, user_id: str, *, defer: bool = False) -> None:
    """``defer``: the lock goes with the transaction's next statement (``Statement.defer``), which
    the server runs once it is granted — the same order, one round trip fewer."""
    if not tx.db.is_sqlite:  # SQLite: the transaction already holds the database write lock
        if defer:
            LOCK_PERSON.defer_apart(tx, user=user_id)  # a lock, no write
        else:
            LOCK_PERSON.run(tx, user=user_id)


def list_history(tx: Tx, user_id: str) -> dict[str, History]:
    """The person's history, by workspace."""
    return {ws: History(ws, first, last, source) for ws, first, last, source in HISTORY.rows(tx, user=user_id)}


def list_edges(tx: Tx, workspace_id: str, now: int | None = None) -> list[Edge]:
    """The walls standing around a workspace at ``now`` (the transaction's instant by default)."""
    now = tx.now if now is None else now
    return combine(
        (
            Declaration(a, b, holder, cooling, since, lifts_at)
            for a, b, holder, cooling, since, lifts_at in EDGES.rows(tx, ws=workspace_id, now=now)
        ),
        now,
    )


def list_affiliations(tx: Tx, user_id: str) -> list[Affiliation]:
    return [Affiliation(org, kind, since, until) for org, kind, since, until in AFFILIATIONS.rows(tx, user=user_id)]


def list_exclusions(tx: Tx, workspace_id: str) -> list[Exclusion]:
    return [Exclusion(org, kind or None) for org, kind in EXCLUSIONS.rows(tx, ws=workspace_id)]


class WallInputs(NamedTuple):
    """What ``domain.walls.decide`` needs about one person and one workspace."""

    history: dict[str, History]
    edges: list[Edge]
    affiliations: list[Affiliation]
    exclusions: list[Exclusion]


def wall_reads(user_id: str, workspace_id: str, now: int) -> list[tuple[Statement, dict[str, Any]]]:
    """The reads of ``wall_inputs`` (for a ``fast.prefetch`` that asks them with others)."""
    return [
        (HISTORY, {"user": user_id}),
        (EDGES, {"ws": workspace_id, "now": now}),
        (AFFILIATIONS, {"user": user_id}),
        (EXCLUSIONS, {"ws": workspace_id}),
    ]


def wall_inputs(tx: Tx, user_id: str, workspace_id: str, now: int, *, lock: bool) -> WallInputs:
    """The person's history and affiliations and the workspace's walls and exclusions, in one round trip
    (PostgreSQL's pipeline; SQLite: one by one). ``lock``: the person's lock first, in the same batch —
    the server takes it before running the reads, as if sent apart."""
    calls: list[tuple[Statement, dict[str, Any]]] = (
        [(LOCK_PERSON, {"user": user_id})] if lock and not tx.db.is_sqlite else []
    )
    calls += wall_reads(user_id, workspace_id, now)
    history, edges, affiliations, exclusions = (done.rows for done in together(tx, calls)[-4:])
    return WallInputs(
        {ws: History(ws, first, last, source) for ws, first, last, source in history},
        combine(
            (Declaration(a, b, holder, cooling, since, lifts) for a, b, holder, cooling, since, lifts in edges), now
        ),
        [Affiliation(org, kind, since, until) for org, kind, since, until in affiliations],
        [Exclusion(org, kind or None) for org, kind in exclusions],
    )


def record_access(tx: Tx, user_id: str, workspace_id: str, now: int, *, new: bool) -> None:
    """Bind the person to the workspace (``new``: their first access), or refresh their last access there."""
    # Sent with the next statement; no read ahead (``fast.prefetch``) reads person_history after this.
    (BIND if new else TOUCH).defer_apart(tx, user=user_id, ws=workspace_id, now=now)


# -- history entered by hand, and everyone's on a pair ------------------------------------


class HistoryRecord(NamedTuple):
    user_id: str
    workspace_id: str
    first_at: int
    last_at: int
    source: str
    approved_by: str | None

    @property
    def history(self) -> History:
        return History(self.workspace_id, self.first_at, self.last_at, self.source)


def _history_record(row: Row[Any]) -> HistoryRecord:
    return HistoryRecord(row.user_id, row.workspace_id, row.first_at, row.last_at, row.source, row.approved_by)


def list_history_records(tx: Tx, user_id: str) -> list[HistoryRecord]:
    """The person's history, oldest first, with who approved declared sides."""
    return [
        _history_record(row)
        for row in tx.execute(select(HIS).where(HIS.c.user_id == user_id).order_by(HIS.c.first_at)).all()
    ]


def list_history_on(tx: Tx, workspace_ids: Iterable[str]) -> list[HistoryRecord]:
    """Everyone's history on these workspaces (row-level security: only within a wall check's widening)."""
    return [
        _history_record(row)
        for row in tx.execute(select(HIS).where(HIS.c.workspace_id.in_(tuple(workspace_ids)))).all()
    ]


def replace_history(
    tx: Tx, user_id: str, workspace_id: str, *, first_at: int, last_at: int, source: str, approved_by: str | None
) -> None:
    """The person's history on the workspace becomes this entry (whatever was there before)."""
    tx.execute(delete(HIS).where(HIS.c.user_id == user_id, HIS.c.workspace_id == workspace_id))
    tx.execute(
        insert(HIS).values(
            user_id=user_id,
            workspace_id=workspace_id,
            first_at=first_at,
            last_at=last_at,
            source=source,
            approved_by=approved_by,
        )
    )


# -- walls: one row per holder ------------------------------------------------------------
# A pair is (workspace_a, workspace_b) with workspace_a < workspace_b (a check constraint).


class ScheduledWithdrawal(NamedTuple):
    workspace_a: str
    workspace_b: str
    holder: str
    lifts_at: int


def delete_lapsed_declarations(tx: Tx, workspace_a: str, workspace_b: str, now: int) -> None:
    """Withdrawals of the pair whose instant has passed: they no longer hold, so their rows go."""
    tx.execute(delete(D).where(D.c.workspace_a == workspace_a, D.c.workspace_b == workspace_b, D.c.lifts_at <= now))


def list_declarations(tx: Tx, workspace_a: str, workspace_b: str) -> list[Declaration]:
    """The pair's holders, by holder."""
    rows = tx.execute(
        select(D).where(D.c.workspace_a == workspace_a, D.c.workspace_b == workspace_b).order_by(D.c.holder)
    ).all()
    return [
        Declaration(r.workspace_a, r.workspace_b, r.holder, r.cooling_off_ms, r.created_at, r.lifts_at) for r in rows
    ]


def holds_wall(tx: Tx, workspace_a: str, workspace_b: str, holder: str) -> bool:
    """Whether ``holder`` has a row for the pair (withdrawing or not)."""
    return (
        tx.execute(
            select(D.c.holder).where(
                D.c.workspace_a == workspace_a, D.c.workspace_b == workspace_b, D.c.holder == holder
            )
        ).first()
        is not None
    )


def insert_declaration(
    tx: Tx, workspace_a: str, workspace_b: str, *, holder: str, cooling_off_ms: int | None, now: int, created_by: str
) -> None:
    """``holder`` holds the pair's wall; NotFound when either workspace does not exist."""
    with refused_as(tx, NotFound("workspace not found")):
        tx.execute(
            insert(D).values(
                workspace_a=workspace_a,
                workspace_b=workspace_b,
                holder=holder,
                cooling_off_ms=cooling_off_ms,
                created_at=now,
                created_by=created_by,
            )
        )


def set_lifts_at(tx: Tx, workspace_a: str, workspace_b: str, holder: str, lifts_at: int | None) -> None:
    """Schedule the holder's withdrawal for ``lifts_at`` (None: call it off; the declaration holds again)."""
    tx.execute(
        update(D)
        .where(D.c.workspace_a == workspace_a, D.c.workspace_b == workspace_b, D.c.holder == holder)
        .values(lifts_at=lifts_at)
    )


def delete_declaration(tx: Tx, workspace_a: str, workspace_b: str, holder: str) -> None:
    tx.execute(delete(D).where(D.c.workspace_a == workspace_a, D.c.workspace_b == workspace_b, D.c.holder == holder))


def list_scheduled_withdrawals(tx: Tx, workspace_id: str, now: int) -> list[ScheduledWithdrawal]:
    """Withdrawals still waiting (``lifts_at`` after ``now``) on the walls around a workspace."""
    rows = tx.execute(
        select(D.c.workspace_a, D.c.workspace_b, D.c.holder, D.c.lifts_at).where(
            or_(D.c.workspace_a == workspace_id, D.c.workspace_b == workspace_id),
            D.c.lifts_at.is_not(None),
            D.c.lifts_at > now,
        )
    ).all()
    return [ScheduledWithdrawal._make(row) for row in rows]


# -- sector groups --------------------------------------------------------------------------


class Group(NamedTuple):
    id: str
    name: str
    cooling_off_ms: int | None
    created_at: int


def group_name_taken(tx: Tx, name: str) -> bool:
    return tx.execute(select(G.c.id).where(G.c.name == name)).first() is not None


def insert_group(tx: Tx, group_id: str, *, name: str, cooling_off_ms: int | None, now: int) -> None:
    """Conflict when a group has the name (already, or since the caller looked)."""
    with refused_as(tx, Conflict(f"name: a group named {name!r} exists")):
        tx.execute(insert(G).values(id=group_id, name=name, cooling_off_ms=cooling_off_ms, created_at=now))


def find_group(tx: Tx, ref: str) -> Group | None:
    """The group with this id or name."""
    row = tx.execute(select(G).where(or_(G.c.id == ref, G.c.name == ref))).first()
    return None if row is None else Group(row.id, row.name, row.cooling_off_ms, row.created_at)


def delete_group(tx: Tx, group_id: str) -> None:
    tx.execute(delete(G).where(G.c.id == group_id))


def list_group_workspace_ids(tx: Tx, group_id: str) -> list[str]:
    return list(tx.execute(select(GM.c.workspace_id).where(GM.c.group_id == group_id)).scalars().all())


def has_group_members(tx: Tx, group_id: str) -> bool:
    return tx.execute(select(GM.c.workspace_id).where(GM.c.group_id == group_id)).first() is not None


def is_group_member(tx: Tx, group_id: str, workspace_id: str) -> bool:
    return (
        tx.execute(select(GM.c.group_id).where(GM.c.group_id == group_id, GM.c.workspace_id == workspace_id)).first()
        is not None
    )


def insert_group_member(tx: Tx, group_id: str, workspace_id: str) -> None:
    """NotFound when the workspace does not exist."""
    with refused_as(tx, NotFound("workspace not found")):
        tx.execute(insert(GM).values(group_id=group_id, workspace_id=workspace_id))


def delete_group_member(tx: Tx, group_id: str, workspace_id: str) -> None:
    tx.execute(delete(GM).where(GM.c.group_id == group_id, GM.c.workspace_id == workspace_id))


# -- affiliations and exclusions --------------------------------------------------------------


class AffiliationRecord(NamedTuple):
    id: str
    org: str
    kind: str
    since: int | None
    until: int | None


def insert_affiliation(
    tx: Tx,
    affiliation_id: str,
    user_id: str,
    *,
    org: str,
    org_key: str,
    kind: str,
    since: int | None,
    until: int | None,
    now: int,
) -> None:
    tx.execute(
        insert(AFF).values(
            id=affiliation_id,
            user_id=user_id,
            org=org,
            org_key=org_key,
            kind=kind,
            since=since,
            until=until,
            created_at=now,
        )
    )


def list_affiliation_records(tx: Tx, user_id: str) -> list[AffiliationRecord]:
    rows = tx.execute(select(AFF).where(AFF.c.user_id == user_id).order_by(AFF.c.id)).all()
    return [AffiliationRecord(a.id, a.org, a.kind, a.since, a.until) for a in rows]


def insert_exclusion(tx: Tx, workspace_id: str, *, org_key: str, kind: str, org: str, now: int) -> None:
    """Exclude ties to ``org_key`` of ``kind`` ("": any); excluding them again changes nothing."""
    tx.dialect.insert_ignore(
        tx.conn,
        "workspace_exclusions",
        ("workspace_id", "org_key", "kind", "org", "created_at"),
        [(workspace_id, org_key, kind, org, now)],
        ("workspace_id", "org_key", "kind"),
    )


def delete_exclusion(tx: Tx, workspace_id: str, *, org_key: str, kind: str) -> bool:
    """Whether there was such an exclusion."""
    return bool(
        tx.execute(
            delete(EXC).where(EXC.c.workspace_id == workspace_id, EXC.c.org_key == org_key, EXC.c.kind == kind)
        ).rowcount
    )


# -- skills ---------------------------------------------------------------------------------------


class Skill(NamedTuple):
    skill: str
    level: int
    source: str
    granted_at: int


def replace_skill(tx: Tx, user_id: str, skill: str, *, level: int, source: str, now: int) -> None:
    """The person holds ``skill`` at ``level`` (whatever they held of it before)."""
    tx.execute(delete(SK).where(SK.c.user_id == user_id, SK.c.skill == skill))
    tx.execute(insert(SK).values(user_id=user_id, skill=skill, level=level, source=source, granted_at=now))


def delete_skill(tx: Tx, user_id: str, skill: str) -> bool:
    """Whether the person held it."""
    return bool(tx.execute(delete(SK).where(SK.c.user_id == user_id, SK.c.skill == skill)).rowcount)


def list_skill_levels(tx: Tx, user_id: str) -> dict[str, int]:
    """The person's skills and their levels (routing reads it for every project with required skills)."""
    return dict(tx.execute(select(SK.c.skill, SK.c.level).where(SK.c.user_id == user_id)).all())


def list_skills(tx: Tx, user_id: str) -> list[Skill]:
    rows = tx.execute(select(SK).where(SK.c.user_id == user_id).order_by(SK.c.skill)).all()
    return [Skill(s.skill, s.level, s.source, s.granted_at) for s in rows]
