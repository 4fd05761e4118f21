"""Workspaces (tenants), and the tombstones deleted ones leave with the people who may read them.

Deleting a workspace's row cascades to every workspace-owned row (the foreign
keys say ``ON DELETE CASCADE``); its tombstone is written first, in the same
transaction, and outlives it. Tombstone readers are recorded by user id, since
the memberships that made them readers go with the workspace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Row, delete, insert, select, update

from . import schema
from .database import Tx

W = schema.workspaces
TS = schema.workspace_tombstones
TR = schema.workspace_tombstone_readers


class WorkspaceRecord(NamedTuple):
    id: str
    name: str
    created_at: int


class Tombstone(NamedTuple):
    workspace_id: str
    deleted_at: int
    deleted_by: str
    final_checkpoint: str


def _record(row: Row[Any]) -> WorkspaceRecord:
    return WorkspaceRecord(row.id, row.name, row.created_at)


def insert_workspace(tx: Tx, workspace_id: str, *, name: str, now: int, created_by: str) -> None:
    tx.execute(insert(W).values(id=workspace_id, name=name, created_at=now, created_by=created_by))


def find_workspace(tx: Tx, workspace_id: str) -> WorkspaceRecord | None:
    row = tx.execute(select(W).where(W.c.id == workspace_id)).first()
    return None if row is None else _record(row)


def workspace_exists(tx: Tx, workspace_id: str) -> bool:
    return tx.execute(select(W.c.id).where(W.c.id == workspace_id)).first() is not None


def lock_workspace(tx: Tx, workspace_id: str) -> None:
    """Lock the workspace's row to the end of the transaction (PostgreSQL; SQLite has one writer): a
    write in flight that references it (its audit queue row does) finishes first, a later one waits."""
    tx.execute(select(W.c.id).where(W.c.id == workspace_id).with_for_update())


def list_workspaces(tx: Tx, workspace_ids: Iterable[str] | None) -> list[WorkspaceRecord]:
    """These workspaces by id (``None``: every workspace of the deployment, for admins and the operator)."""
    query = select(W)
    if workspace_ids is not None:
        query = query.where(W.c.id.in_(list(workspace_ids)))
    return [_record(row) for row in tx.execute(query.order_by(W.c.id)).all()]


def list_workspace_ids(tx: Tx) -> list[str]:
    """Every workspace of the deployment (deployment-wide events are recorded in each one's log)."""
    return list(tx.execute(select(W.c.id)).scalars().all())


def delete_workspace(tx: Tx, workspace_id: str) -> None:
    tx.execute(delete(W).where(W.c.id == workspace_id))


def is_two_person_approval(tx: Tx, workspace_id: str) -> bool:
    """Whether the workspace requires two-person approval (False for an unknown id)."""
    return bool(tx.execute(select(W.c.two_person_approval).where(W.c.id == workspace_id)).scalar())


def set_two_person_approval(tx: Tx, workspace_id: str, enabled: bool) -> None:
    tx.execute(update(W).where(W.c.id == workspace_id).values(two_person_approval=enabled))


# -- tombstones ----------------------------------------------------------------------


def insert_tombstone(
    tx: Tx, workspace_id: str, *, deleted_at: int, deleted_by: str, final_checkpoint: str, readers: Iterable[str]
) -> None:
    """The tombstone and who may read it once the workspace is gone (readers: user ids)."""
    tx.execute(
        insert(TS).values(
            workspace_id=workspace_id, deleted_at=deleted_at, deleted_by=deleted_by, final_checkpoint=final_checkpoint
        )
    )
    rows = [{"workspace_id": workspace_id, "user_id": user_id} for user_id in sorted(set(readers))]
    if rows:
        tx.execute(insert(TR), rows)


def find_tombstone(tx: Tx, workspace_id: str) -> Tombstone | None:
    row = tx.execute(select(TS).where(TS.c.workspace_id == workspace_id)).first()
    return None if row is None else Tombstone(row.workspace_id, row.deleted_at, row.deleted_by, row.final_checkpoint)


def list_tombstone_readers(tx: Tx, workspace_id: str) -> frozenset[str]:
    return frozenset(tx.execute(select(TR.c.user_id).where(TR.c.workspace_id == workspace_id)).scalars())
