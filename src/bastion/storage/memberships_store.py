"""Memberships: who belongs to which workspace, with which role.

``list_roles`` runs on every service call (``access.Access.roles`` builds the
actor's roles from it), so it is a driver-level statement (``fast.py``); the rest
is plain SQLAlchemy Core.

On PostgreSQL, row-level security shows a person their own memberships and the
memberships of the workspaces in their scope (``storage/rls.py``): a query for
another workspace's members answers nothing unless the service widened the scope
for it (``Unit.acting_in``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import delete, insert, select, update

from . import schema
from .auth_store import GENERATION
from .database import Tx
from .fast import Statement, together
from .integrity import refused_as
from ..domain.errors import Conflict
from ..domain.workspaces import Member, Role

M = schema.memberships
U = schema.users

ROLES = Statement("SELECT workspace_id, role FROM memberships WHERE user_id = :user")


class Membership(NamedTuple):
    workspace_id: str
    role: str


# PostgreSQL only (row-level security): who asks, with no workspace in scope yet (their own memberships
# are readable), then their memberships read and the scope set to those workspaces in one statement
# (one snapshot: the roles returned are exactly the workspaces put in scope).
_ASKER = Statement(
    "SELECT 1",
    postgresql="SELECT set_config('app.user_id', :user, true), set_config('app.workspace_ids', '', true), "
    "set_config('app.is_admin', :admin, true)",
)
_ROLES_AS_SCOPE = Statement(
    "SELECT 1",
    postgresql="WITH m AS MATERIALIZED (SELECT workspace_id, role FROM memberships WHERE user_id = :user) "
    "SELECT set_config('app.workspace_ids', coalesce((SELECT string_agg(workspace_id, ',') FROM m), ''), true), "
    "(SELECT coalesce(json_agg(json_build_array(workspace_id, role)), '[]'::json) FROM m)",
)


def scope_to_roles(tx: Tx, user_id: str, is_admin: bool, *, generation: bool) -> tuple[int | None, list[Membership]]:
    """PostgreSQL: bind row-level security's scope to the person's workspaces, in one round trip.

    Sets who asks (``app.user_id``, ``app.is_admin``), reads their memberships and makes those
    workspaces the scope (``app.workspace_ids``), all local to the transaction — what
    ``Dialect.set_scope`` twice and ``list_roles`` between them do, in one pipelined batch.
    ``generation``: the auth generation is read in the same batch (first; None otherwise).
    """
    calls: list[tuple[Statement, dict[str, str]]] = [(GENERATION, {})] if generation else []
    calls += [(_ASKER, {"user": user_id, "admin": "on" if is_admin else "off"}), (_ROLES_AS_SCOPE, {"user": user_id})]
    done = together(tx, calls)
    value = (int(done[0].rows[0][0]) if done[0].rows else 0) if generation else None
    return value, [Membership(ws, role) for ws, role in done[-1].rows[0][1]]


def list_roles(tx: Tx, user_id: str) -> list[Membership]:
    """Every workspace the person belongs to, with their role there (the hot path: one indexed read)."""
    return [Membership._make(row) for row in ROLES.rows(tx, user=user_id)]


def list_workspace_ids_of(tx: Tx, user_id: str) -> list[str]:
    """The workspaces a person belongs to (each gets person-level audit events)."""
    return list(tx.execute(select(M.c.workspace_id).where(M.c.user_id == user_id)).scalars().all())


def list_workspace_ids_among(tx: Tx, user_id: str, workspace_ids: Iterable[str]) -> set[str]:
    """Which of these workspaces the person belongs to."""
    return set(
        tx.execute(select(M.c.workspace_id).where(M.c.user_id == user_id, M.c.workspace_id.in_(list(workspace_ids))))
        .scalars()
        .all()
    )


def find_role(tx: Tx, workspace_id: str, user_id: str) -> str | None:
    """The person's role in the workspace, or None when they are no member."""
    return tx.execute(select(M.c.role).where(M.c.workspace_id == workspace_id, M.c.user_id == user_id)).scalar()


def list_user_ids(tx: Tx, workspace_id: str, *, roles: Iterable[str] | None = None) -> list[str]:
    """The workspace's members (with one of ``roles``, when given), in no particular order."""
    query = select(M.c.user_id).where(M.c.workspace_id == workspace_id)
    if roles is not None:
        roles = list(roles)
        query = query.where(M.c.role == roles[0]) if len(roles) == 1 else query.where(M.c.role.in_(roles))
    return list(tx.execute(query).scalars().all())


def list_members(tx: Tx, workspace_id: str) -> list[Member]:
    """The workspace's members with their e-mail and name, by e-mail."""
    rows = tx.execute(
        select(M.c.user_id, M.c.role, M.c.created_at, U.c.email, U.c.name)
        .join(U, U.c.id == M.c.user_id)
        .where(M.c.workspace_id == workspace_id)
        .order_by(U.c.email)
    ).all()
    return [Member(workspace_id, x.user_id, x.email, x.name, Role(x.role), x.created_at) for x in rows]


def insert_membership(tx: Tx, workspace_id: str, user_id: str, role: str, now: int) -> None:
    """Conflict when the person is a member already (added since the caller looked)."""
    with refused_as(tx, Conflict("this person is already a member of the workspace")):
        tx.execute(insert(M).values(workspace_id=workspace_id, user_id=user_id, role=role, created_at=now))


def update_role(tx: Tx, workspace_id: str, user_id: str, role: str) -> None:
    tx.execute(update(M).where(M.c.workspace_id == workspace_id, M.c.user_id == user_id).values(role=role))


def delete_membership(tx: Tx, workspace_id: str, user_id: str) -> None:
    tx.execute(delete(M).where(M.c.workspace_id == workspace_id, M.c.user_id == user_id))
