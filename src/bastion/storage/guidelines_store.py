"""A project's guidelines: versioned, sealed Markdown, and the newest version each person acknowledged.

``body`` is sealed (services/guidelines.py opens it with the project's key, under the
version's id). ``standing`` is the queue's gate and the submit path's "made under" in
one statement of three primary-key or index probes. Every function takes ``workspace_id``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, func, insert, select, true, update

from . import schema
from .database import Tx
from .fast import Statement

G = schema.guidelines
A = schema.guideline_acks


class GuidelineRow(NamedTuple):
    """One version (``body`` sealed; None in listings)."""

    workspace_id: str
    id: str
    project_id: str
    version: int
    body: bytes | None
    requires_ack: bool
    created_by: str | None
    created_at: int


class Standing(NamedTuple):
    """Where a person stands with a project's guidelines (None: no such version, or no acknowledgement)."""

    newest: int | None  # the newest version
    required: int | None  # the newest version people must acknowledge
    acknowledged: int | None  # the newest version this person acknowledged


_META = [G.c.workspace_id, G.c.id, G.c.project_id, G.c.version, G.c.body, G.c.requires_ack, G.c.created_by]


def _row(row: Any, *, with_body: bool = True) -> GuidelineRow:
    return GuidelineRow(
        row.workspace_id,
        row.id,
        row.project_id,
        int(row.version),
        row.body if with_body else None,
        bool(row.requires_ack),
        row.created_by,
        int(row.created_at),
    )


def _scope(workspace_id: str, project_id: str) -> ColumnElement[bool]:
    return and_(G.c.workspace_id == workspace_id, G.c.project_id == project_id)


def newest_version(tx: Tx, project_id: str, *, workspace_id: str) -> int | None:
    return tx.execute(select(func.max(G.c.version)).where(_scope(workspace_id, project_id))).scalar()


def insert_version(
    tx: Tx,
    version_id: str,
    *,
    workspace_id: str,
    project_id: str,
    version: int,
    body: bytes,
    requires_ack: bool,
    created_by: str | None,
    now: int,
) -> None:
    """A new version (the unique (project, version) refuses a concurrent one with the same number)."""
    tx.execute(
        insert(G).values(
            workspace_id=workspace_id,
            id=version_id,
            project_id=project_id,
            version=version,
            body=body,
            requires_ack=requires_ack,
            created_by=created_by,
            created_at=now,
        )
    )


def list_versions(tx: Tx, project_id: str, *, workspace_id: str) -> list[GuidelineRow]:
    """Every version of the project's guidelines, newest first, without their bodies."""
    rows = tx.execute(
        select(G.c.workspace_id, G.c.id, G.c.project_id, G.c.version, G.c.requires_ack, G.c.created_by, G.c.created_at)
        .where(_scope(workspace_id, project_id))
        .order_by(G.c.version.desc())
    ).all()
    return [_row(row, with_body=False) for row in rows]


def find_version(tx: Tx, project_id: str, version: int, *, workspace_id: str) -> GuidelineRow | None:
    row = tx.execute(
        select(*_META, G.c.created_at).where(_scope(workspace_id, project_id), G.c.version == version)
    ).first()
    return None if row is None else _row(row)


# The queue asks this on every next and submit: plain SQL on the driver (storage/fast.py), no Core compile.
_STANDING = "SELECT (SELECT max(version) FROM guidelines WHERE workspace_id = :ws AND project_id = :project), " \
    "(SELECT max(version) FROM guidelines WHERE workspace_id = :ws AND project_id = :project AND requires_ack = {true}), " \
    "(SELECT version FROM guideline_acks WHERE workspace_id = :ws AND project_id = :project AND user_id = :user)"  # fmt: skip
STANDING = Statement(_STANDING.format(true="1"), postgresql=_STANDING.format(true="true"))


def standing(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> Standing:
    """The newest version, the newest one to acknowledge, and the person's acknowledged one: one statement."""
    row = STANDING.one_row(tx, ws=workspace_id, project=project_id, user=user_id)
    return Standing(*(None if value is None else int(value) for value in row))


def in_force_before(tx: Tx, project_id: str, acknowledged: int | None, *, workspace_id: str) -> int | None:
    """The newest version before the first one after ``acknowledged`` that needs acknowledging: what a
    person who acknowledged ``acknowledged`` (None: nothing) still works under."""
    after = -1 if acknowledged is None else acknowledged
    first_required = (
        select(func.min(G.c.version))
        .where(_scope(workspace_id, project_id), G.c.requires_ack == true(), G.c.version > after)
        .scalar_subquery()
    )
    value = tx.execute(
        select(func.max(G.c.version)).where(_scope(workspace_id, project_id), G.c.version < first_required)
    ).scalar()
    return None if value is None else int(value)


def acknowledge(tx: Tx, project_id: str, *, workspace_id: str, user_id: str, version: int, now: int) -> bool:
    """Record that the person acknowledged ``version``; False when they had acknowledged it (or a later one)."""
    moved = tx.execute(
        update(A)
        .where(
            A.c.workspace_id == workspace_id,
            A.c.project_id == project_id,
            A.c.user_id == user_id,
            A.c.version < version,
        )
        .values(version=version, acknowledged_at=now)
    ).rowcount
    if moved:
        return True
    exists = tx.execute(
        select(A.c.version).where(
            A.c.workspace_id == workspace_id, A.c.project_id == project_id, A.c.user_id == user_id
        )
    ).first()
    if exists is not None:
        return False
    tx.execute(
        insert(A).values(
            workspace_id=workspace_id, project_id=project_id, user_id=user_id, version=version, acknowledged_at=now
        )
    )
    return True
