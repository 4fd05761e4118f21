"""People's credentials (``schema.credentials``; services/credentials.py decides who may do what).

Routing reads a person's credentials of the kinds a project requires, in one workspace's scope, with
one indexed statement (``_in_scope``: ix_credentials_user), only for projects that require any; the reminder sweep reads
the unrevoked ones whose expiry is near by ix_credentials_expiry and marks each announcement with a
guarded update (``mark_reminded``), so two runners never announce the same threshold twice.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import insert, or_, select, update

from . import schema
from .database import Tx
from .fast import Statement
from ..domain.credentials import Held

CR = schema.credentials

_IN_SCOPE: dict[int, Statement] = {}


def _in_scope(kinds: int) -> Statement:
    """The person's credentials of these kinds that count in a workspace (ix_credentials_user: the
    person, then each kind); one statement per number of kinds, made once."""
    statement = _IN_SCOPE.get(kinds)
    if statement is None:
        wanted = ", ".join(f":k{i}" for i in range(kinds))
        statement = _IN_SCOPE[kinds] = Statement(
            "SELECT kind, name, issued_at, expires_at, revoked_at FROM credentials "
            f"WHERE user_id = :user AND kind IN ({wanted}) AND (workspace_id IS NULL OR workspace_id = :ws)"
        )
    return statement


class CredentialRow(NamedTuple):
    id: str
    user_id: str
    workspace_id: str | None
    kind: str
    name: str
    issuer: str
    issued_at: int | None
    expires_at: int | None
    revoked_at: int | None
    document: str | None
    reminded_days: int | None
    created_by: str | None
    created_at: int


_COLUMNS = [getattr(CR.c, name) for name in CredentialRow._fields]


def held_in_scope(tx: Tx, user_id: str, workspace_id: str, kinds: list[str]) -> list[Held]:
    """The person's credentials of these kinds that count in this workspace (its own and the
    deployment-wide ones)."""
    wanted = sorted(set(kinds))
    if not wanted:
        return []
    params = {f"k{i}": kind for i, kind in enumerate(wanted)}
    return [Held(*row) for row in _in_scope(len(wanted)).rows(tx, user=user_id, ws=workspace_id, **params)]


def insert_credential(tx: Tx, row: CredentialRow) -> None:
    tx.execute(insert(CR).values(**row._asdict()))


def find_credential(tx: Tx, credential_id: str) -> CredentialRow | None:
    row = tx.execute(select(*_COLUMNS).where(CR.c.id == credential_id)).first()
    return None if row is None else CredentialRow(*row)


def list_credentials(
    tx: Tx, user_id: str | None = None, *, workspace_ids: list[str] | None = None, deployment_wide: bool = True
) -> list[CredentialRow]:
    """Credentials of one person (or everyone's), scoped to these workspaces (None: any) and, with
    ``deployment_wide``, the ones for every workspace; newest first."""
    query = select(*_COLUMNS)
    if user_id is not None:
        query = query.where(CR.c.user_id == user_id)
    if workspace_ids is not None:
        scopes = [CR.c.workspace_id.in_(workspace_ids)] if workspace_ids else []
        if deployment_wide:
            scopes.append(CR.c.workspace_id.is_(None))
        if not scopes:
            return []
        query = query.where(or_(*scopes))
    rows = tx.execute(query.order_by(CR.c.created_at.desc(), CR.c.id.desc())).all()
    return [CredentialRow(*r) for r in rows]


def revoke_credential(tx: Tx, credential_id: str, now: int) -> bool:
    """Whether it was live (not revoked already)."""
    result = tx.execute(update(CR).where(CR.c.id == credential_id, CR.c.revoked_at.is_(None)).values(revoked_at=now))
    return bool(result.rowcount)


def due_reminders(tx: Tx, days: int, *, until: int, limit: int) -> list[CredentialRow]:
    """Unrevoked credentials expiring before ``until`` (now + ``days``) whose ``days`` announcement (or a
    nearer one) has not been made."""
    query = (
        select(*_COLUMNS)
        .where(
            CR.c.expires_at.is_not(None),
            CR.c.expires_at <= until,
            CR.c.revoked_at.is_(None),
            or_(CR.c.reminded_days.is_(None), CR.c.reminded_days > days),
        )
        .order_by(CR.c.expires_at, CR.c.id)
        .limit(limit)
    )
    return [CredentialRow(*r) for r in tx.execute(query).all()]


def mark_reminded(tx: Tx, credential_id: str, days: int) -> bool:
    """Record that the ``days`` threshold was announced; False when it (or a nearer one) already was."""
    result = tx.execute(
        update(CR)
        .where(
            CR.c.id == credential_id,
            or_(CR.c.reminded_days.is_(None), CR.c.reminded_days > days),
        )
        .values(reminded_days=days)
    )
    return bool(result.rowcount)
