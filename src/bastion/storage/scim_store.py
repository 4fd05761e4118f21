"""SCIM 2.0 provisioning: its tokens, the people it links and its groups (services/scim.py).

Deployment tables that row-level security shows only to platform admins and the local operator
(``storage/rls.py`` ``DEPLOYMENT_ADMIN``); SCIM requests are served in the operator's scope.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Row, Select, delete, func, insert, select, update

from . import schema
from .database import Tx
from .integrity import refused_as
from ..domain.errors import Conflict

u = schema.users
tok = schema.scim_tokens
su = schema.scim_users
g = schema.scim_groups
gm = schema.scim_group_members


# -- tokens -------------------------------------------------------------------------------


class ScimToken(NamedTuple):
    id: str
    name: str
    created_by: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


def _token(row: Row[Any]) -> ScimToken:
    return ScimToken(row.id, row.name, row.created_by, row.created_at, row.last_used_at, row.revoked_at)


def insert_token(tx: Tx, token_id: str, *, name: str, token_hash: str, created_by: str, now: int) -> None:
    tx.execute(insert(tok).values(id=token_id, name=name, token_hash=token_hash, created_by=created_by, created_at=now))


def find_token_by_hash(tx: Tx, token_hash: str) -> ScimToken | None:
    row = tx.execute(select(tok).where(tok.c.token_hash == token_hash)).first()
    return None if row is None else _token(row)


def find_token(tx: Tx, token_id: str) -> ScimToken | None:
    row = tx.execute(select(tok).where(tok.c.id == token_id)).first()
    return None if row is None else _token(row)


def list_tokens(tx: Tx) -> list[ScimToken]:
    return [_token(r) for r in tx.execute(select(tok).order_by(tok.c.created_at, tok.c.id)).all()]


def revoke_token(tx: Tx, token_id: str, now: int) -> bool:
    stmt = update(tok).where(tok.c.id == token_id, tok.c.revoked_at.is_(None)).values(revoked_at=now)
    return bool(tx.execute(stmt).rowcount)


def touch_token(tx: Tx, token_id: str, now: int) -> None:
    tx.execute(update(tok).where(tok.c.id == token_id).values(last_used_at=now))


# -- people ---------------------------------------------------------------------------------


class ScimPerson(NamedTuple):
    """A person as SCIM shows them."""

    id: str
    email: str
    name: str
    is_active: bool
    external_id: str | None
    created_at: int
    updated_at: int


_PERSON = (
    u.c.id,
    u.c.email,
    u.c.name,
    u.c.is_active,
    su.c.external_id,
    u.c.created_at,
    func.coalesce(su.c.updated_at, u.c.created_at).label("updated_at"),
)
_EXTERNAL_ANNOTATOR = "ext:%"  # imported annotators (domain/users.py): never people of the identity provider


def _people(*where: Any) -> Select[Any]:
    return (
        select(*_PERSON)
        .select_from(u.outerjoin(su, su.c.user_id == u.c.id))
        .where(su.c.unlinked_at.is_(None), ~u.c.email.like(_EXTERNAL_ANNOTATOR), *where)
    )


def _person(row: Row[Any]) -> ScimPerson:
    return ScimPerson(row.id, row.email, row.name, bool(row.is_active), row.external_id, row.created_at, row.updated_at)


def find_person(tx: Tx, user_id: str) -> ScimPerson | None:
    """A person SCIM shows (None: no such person, an external annotator, or deleted through SCIM)."""
    row = tx.execute(_people(u.c.id == user_id)).first()
    return None if row is None else _person(row)


def find_people(tx: Tx, *, email: str | None = None, external_id: str | None = None) -> list[ScimPerson]:
    """People SCIM shows with this e-mail (already normalised) or external id, in id order."""
    where = []
    if email is not None:
        where.append(u.c.email == email)
    if external_id is not None:
        where.append(su.c.external_id == external_id)
    return [_person(r) for r in tx.execute(_people(*where).order_by(u.c.id)).all()]


def count_people(tx: Tx) -> int:
    return int(tx.execute(select(func.count()).select_from(_people().subquery())).scalar_one())


def list_people(tx: Tx, *, offset: int = 0, limit: int | None = None) -> list[ScimPerson]:
    stmt = _people().order_by(u.c.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_person(r) for r in tx.execute(stmt).all()]


def is_unlinked(tx: Tx, user_id: str) -> bool:
    row = tx.execute(select(su.c.unlinked_at).where(su.c.user_id == user_id)).first()
    return row is not None and row.unlinked_at is not None


def link(tx: Tx, user_id: str, *, external_id: str | None, now: int) -> None:
    """Record (or refresh) what SCIM knows of a person, and show them to SCIM again."""
    if tx.execute(select(su.c.user_id).where(su.c.user_id == user_id)).first() is None:
        tx.execute(insert(su).values(user_id=user_id, external_id=external_id, updated_at=now))
    else:
        values = {"external_id": external_id, "updated_at": now, "unlinked_at": None}
        tx.execute(update(su).where(su.c.user_id == user_id).values(**values))


def unlink(tx: Tx, user_id: str, now: int) -> None:
    """Hide a person from SCIM (DELETE): their row and history stay."""
    if tx.execute(select(su.c.user_id).where(su.c.user_id == user_id)).first() is None:
        tx.execute(insert(su).values(user_id=user_id, external_id=None, updated_at=now, unlinked_at=now))
    else:
        tx.execute(update(su).where(su.c.user_id == user_id).values(unlinked_at=now, updated_at=now))


# -- groups ---------------------------------------------------------------------------------


class ScimGroup(NamedTuple):
    id: str
    display_name: str
    external_id: str | None
    created_at: int
    updated_at: int


def _group(row: Row[Any]) -> ScimGroup:
    return ScimGroup(row.id, row.display_name, row.external_id, row.created_at, row.updated_at)


def _name_conflict(display_name: str) -> Conflict:
    return Conflict(f"displayName: a group named {display_name!r} already exists")


def insert_group(tx: Tx, group_id: str, *, display_name: str, external_id: str | None, now: int) -> None:
    """Conflict when a group has the name (case-insensitively)."""
    with refused_as(tx, _name_conflict(display_name)):
        tx.execute(
            insert(g).values(
                id=group_id,
                display_name=display_name,
                name_key=display_name.lower(),
                external_id=external_id,
                created_at=now,
                updated_at=now,
            )
        )


def update_group(tx: Tx, group_id: str, *, display_name: str, external_id: str | None, now: int) -> None:
    with refused_as(tx, _name_conflict(display_name)):
        tx.execute(
            update(g)
            .where(g.c.id == group_id)
            .values(display_name=display_name, name_key=display_name.lower(), external_id=external_id, updated_at=now)
        )


def group_name_taken(tx: Tx, display_name: str, *, other_than: str | None = None) -> bool:
    stmt = select(g.c.id).where(g.c.name_key == display_name.lower())
    if other_than is not None:
        stmt = stmt.where(g.c.id != other_than)
    return tx.execute(stmt).first() is not None


def find_group(tx: Tx, group_id: str) -> ScimGroup | None:
    row = tx.execute(select(g).where(g.c.id == group_id)).first()
    return None if row is None else _group(row)


def find_groups(tx: Tx, *, display_name: str | None = None, external_id: str | None = None) -> list[ScimGroup]:
    stmt = select(g)
    if display_name is not None:
        stmt = stmt.where(g.c.name_key == display_name.lower())
    if external_id is not None:
        stmt = stmt.where(g.c.external_id == external_id)
    return [_group(r) for r in tx.execute(stmt.order_by(g.c.id)).all()]


def count_groups(tx: Tx) -> int:
    return int(tx.execute(select(func.count()).select_from(g)).scalar_one())


def list_groups(tx: Tx, *, offset: int = 0, limit: int | None = None) -> list[ScimGroup]:
    stmt = select(g).order_by(g.c.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_group(r) for r in tx.execute(stmt).all()]


def delete_group(tx: Tx, group_id: str) -> None:
    tx.execute(delete(g).where(g.c.id == group_id))


def touch_group(tx: Tx, group_id: str, now: int) -> None:
    tx.execute(update(g).where(g.c.id == group_id).values(updated_at=now))


class Member(NamedTuple):
    user_id: str
    email: str
    name: str


def members_of(tx: Tx, group_ids: list[str]) -> dict[str, list[Member]]:
    """group id -> its members (people SCIM shows), in id order."""
    out: dict[str, list[Member]] = {gid: [] for gid in group_ids}
    if not group_ids:
        return out
    rows = tx.execute(
        select(gm.c.group_id, u.c.id, u.c.email, u.c.name)
        .select_from(gm.join(u, u.c.id == gm.c.user_id).outerjoin(su, su.c.user_id == u.c.id))
        .where(gm.c.group_id.in_(group_ids), su.c.unlinked_at.is_(None))
        .order_by(gm.c.group_id, u.c.id)
    ).all()
    for row in rows:
        out[row.group_id].append(Member(row.id, row.email, row.name))
    return out


def member_ids(tx: Tx, group_id: str) -> set[str]:
    return set(tx.execute(select(gm.c.user_id).where(gm.c.group_id == group_id)).scalars().all())


def add_members(tx: Tx, group_id: str, user_ids: set[str]) -> None:
    if user_ids:
        tx.execute(insert(gm), [{"group_id": group_id, "user_id": uid} for uid in sorted(user_ids)])


def remove_members(tx: Tx, group_id: str, user_ids: set[str]) -> None:
    if user_ids:
        tx.execute(delete(gm).where(gm.c.group_id == group_id, gm.c.user_id.in_(sorted(user_ids))))


def remove_from_all_groups(tx: Tx, user_id: str) -> list[str]:
    """Take a person out of every group; returns the groups' ids."""
    group_ids = list(tx.execute(select(gm.c.group_id).where(gm.c.user_id == user_id)).scalars().all())
    if group_ids:
        tx.execute(delete(gm).where(gm.c.user_id == user_id))
    return group_ids


def group_names_of(tx: Tx, user_id: str) -> list[str]:
    """The display names of a person's groups (what BASTION_GROUP_ROLES maps)."""
    rows = tx.execute(
        select(g.c.display_name).select_from(gm.join(g, g.c.id == gm.c.group_id)).where(gm.c.user_id == user_id)
    )
    return sorted(rows.scalars().all())


def groups_of(tx: Tx, user_id: str) -> list[ScimGroup]:
    rows = tx.execute(
        select(g).select_from(gm.join(g, g.c.id == gm.c.group_id)).where(gm.c.user_id == user_id).order_by(g.c.id)
    ).all()
    return [_group(r) for r in rows]


def existing_user_ids(tx: Tx, user_ids: set[str]) -> set[str]:
    """Which of these are people SCIM shows."""
    if not user_ids:
        return set()
    rows = tx.execute(
        select(u.c.id)
        .select_from(u.outerjoin(su, su.c.user_id == u.c.id))
        .where(
            u.c.id.in_(sorted(user_ids)),
            su.c.unlinked_at.is_(None),
            ~u.c.email.like(_EXTERNAL_ANNOTATOR),
        )
    ).scalars()
    return set(rows.all())
