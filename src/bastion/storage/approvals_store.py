"""Two-person approval requests (``services/approvals.py`` holds the rules; this, the rows).

A request's ``state`` is what was last recorded; one past its ``expires_at`` is
expired as of now whether or not that has been recorded yet (``list_approvals``
filters by the state as of ``now``). ``find_approval(..., lock=True)`` locks the row
on PostgreSQL (``FOR UPDATE``), so two uses of one approval run one after the other;
SQLite's write lock already does. ``mark_used`` changes the row only while it is
approved: whoever uses it second changes nothing.

Row-level security: a workspace's requests are visible within its scope, and
admin-authority requests to platform admins (``storage/rls.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Row, and_, insert, or_, select, update

from . import schema
from .database import Tx
from ..domain.errors import NotFound

AP = schema.approvals

# What a request may name, and where it must exist (ids only: this reads no content).
_TARGETS = {"project": schema.projects, "task": schema.tasks, "canary": schema.canaries}


class Approval(NamedTuple):
    workspace_id: str
    id: str
    kind: str
    params: str  # canonical JSON
    reason: str
    authority: str
    state: str  # as recorded: see the module docstring
    requested_by: str
    requested_at: int
    expires_at: int
    decided_by: str | None
    decided_at: int | None
    decision_note: str | None
    used_at: int | None


class Lapsed(NamedTuple):
    id: str
    kind: str
    state: str


def _approval(row: Row[Any]) -> Approval:
    return Approval(
        row.workspace_id,
        row.id,
        row.kind,
        row.params,
        row.reason,
        row.authority,
        row.state,
        row.requested_by,
        row.requested_at,
        row.expires_at,
        row.decided_by,
        row.decided_at,
        row.decision_note,
        row.used_at,
    )


def insert_approval(
    tx: Tx,
    workspace_id: str,
    approval_id: str,
    *,
    kind: str,
    params: str,
    reason: str,
    authority: str,
    requested_by: str,
    now: int,
    expires_at: int,
) -> None:
    tx.execute(
        insert(AP).values(
            workspace_id=workspace_id,
            id=approval_id,
            kind=kind,
            params=params,
            reason=reason,
            authority=authority,
            state="pending",
            requested_by=requested_by,
            requested_at=now,
            expires_at=expires_at,
        )
    )


def get_approval(tx: Tx, workspace_id: str, approval_id: str) -> Approval:
    found = find_approval(tx, workspace_id, approval_id)
    if found is None:
        raise NotFound("approval not found")
    return found


def find_approval(tx: Tx, workspace_id: str, approval_id: str, *, lock: bool = False) -> Approval | None:
    """The request, locked for the rest of the transaction with ``lock`` (see the module docstring)."""
    query = select(AP).where(AP.c.workspace_id == workspace_id, AP.c.id == approval_id)
    if lock and not tx.db.is_sqlite:
        query = query.with_for_update()
    row = tx.execute(query).first()
    return None if row is None else _approval(row)


def find_approval_in(
    tx: Tx, approval_id: str, *, workspace_ids: Iterable[str] | None, admin_authority: bool = False
) -> Approval | None:
    """The request with this id in one of these workspaces (``None``: any — the local operator), or, with
    ``admin_authority``, any request platform admins decide."""
    query = select(AP).where(AP.c.id == approval_id)
    if workspace_ids is not None:
        mine = list(workspace_ids) or [""]
        if admin_authority:
            query = query.where(or_(AP.c.workspace_id.in_(mine), AP.c.authority == "admins"))
        else:
            query = query.where(AP.c.workspace_id.in_(mine))
    row = tx.execute(query).first()
    return None if row is None else _approval(row)


def list_approvals(
    tx: Tx, workspace_id: str, *, authority: str | None, state: str | None, now: int, limit: int
) -> list[Approval]:
    """The workspace's requests, newest first: of one ``authority`` and in one ``state`` as of ``now``
    (each when given)."""
    query = select(AP).where(AP.c.workspace_id == workspace_id)
    if authority:
        query = query.where(AP.c.authority == authority)
    if state == "expired":
        query = query.where(
            or_(AP.c.state == "expired", and_(AP.c.state.in_(("pending", "approved")), AP.c.expires_at <= now))
        )
    elif state in ("pending", "approved"):
        query = query.where(AP.c.state == state, AP.c.expires_at > now)
    elif state:
        query = query.where(AP.c.state == state)
    return [_approval(row) for row in tx.execute(query.order_by(AP.c.id.desc()).limit(limit)).all()]


def list_lapsed(tx: Tx, workspace_id: str, now: int) -> list[Lapsed]:
    """Requests and approvals past their window whose expiry is not recorded yet."""
    rows = tx.execute(
        select(AP.c.id, AP.c.kind, AP.c.state).where(
            AP.c.workspace_id == workspace_id, AP.c.state.in_(("pending", "approved")), AP.c.expires_at <= now
        )
    ).all()
    return [Lapsed._make(row) for row in rows]


def expire_approval(tx: Tx, workspace_id: str, approval_id: str) -> None:
    tx.execute(update(AP).where(AP.c.workspace_id == workspace_id, AP.c.id == approval_id).values(state="expired"))


def record_decision(
    tx: Tx,
    workspace_id: str,
    approval_id: str,
    *,
    state: str,
    decided_by: str,
    now: int,
    note: str | None,
    expires_at: int,
) -> None:
    tx.execute(
        update(AP)
        .where(AP.c.workspace_id == workspace_id, AP.c.id == approval_id)
        .values(state=state, decided_by=decided_by, decided_at=now, decision_note=note, expires_at=expires_at)
    )


def mark_used(tx: Tx, workspace_id: str, approval_id: str, now: int) -> bool:
    """Approved → used; False when it was not approved any more (used meanwhile)."""
    return bool(
        tx.execute(
            update(AP)
            .where(AP.c.workspace_id == workspace_id, AP.c.id == approval_id, AP.c.state == "approved")
            .values(state="used", used_at=now)
        ).rowcount
    )


def target_exists(tx: Tx, workspace_id: str, what: str, target_id: str) -> bool:
    """Whether the project, task or canary (``what``) a request names exists in the workspace."""
    table = _TARGETS[what]
    return (
        tx.execute(select(table.c.id).where(table.c.workspace_id == workspace_id, table.c.id == target_id)).first()
        is not None
    )
