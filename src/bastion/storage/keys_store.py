"""Rows sealed with a project's data key, for starting new keys and re-encrypting (``services/keys.py``).

``SEALED_COLUMNS`` lists every table with columns sealed under a project's key:
re-encryption re-seals them all, then destroys the keys no row uses any more, so a
table left out here would become unreadable. Add a table here when you add one with
sealed columns. (A project's ``config`` is sealed too; it is read and written on its
own, ``get_project_config`` / ``set_project_config``.)
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select, update

from . import schema
from .database import Tx
from ..domain.errors import NotFound

P = schema.projects

SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "tasks": ("payload", "predictions", "gold"),
    "annotations": ("result",),
    "reviews": ("comment", "correction"),
    "task_redactions": ("record",),
    "canary_issues": ("result",),
    "annotation_versions": ("result",),
    "questions": ("text", "answer"),
    "chat_drafts": ("body",),
    "guidelines": ("body",),
}


class SealedRow(NamedTuple):
    id: str
    values: dict[str, bytes | None]  # column -> sealed value (None: empty)


def list_project_ids(tx: Tx, workspace_id: str) -> list[str]:
    return list(tx.execute(select(P.c.id).where(P.c.workspace_id == workspace_id)).scalars().all())


def set_project_key(tx: Tx, workspace_id: str, project_id: str, key_id: str) -> None:
    """New values of the project are sealed with ``key_id`` from now on."""
    tx.execute(update(P).where(P.c.workspace_id == workspace_id, P.c.id == project_id).values(key_id=key_id))


def get_project_config(tx: Tx, workspace_id: str, project_id: str) -> bytes:
    """The project's sealed labelling config; NotFound when the project is gone."""
    config: bytes | None = tx.execute(
        select(P.c.config).where(P.c.workspace_id == workspace_id, P.c.id == project_id)
    ).scalar()
    if config is None:
        raise NotFound("project not found")
    return config


def set_project_config(tx: Tx, workspace_id: str, project_id: str, config: bytes) -> None:
    tx.execute(update(P).where(P.c.workspace_id == workspace_id, P.c.id == project_id).values(config=config))


def list_sealed_rows(
    tx: Tx, workspace_id: str, project_id: str, table: str, *, after: str, limit: int
) -> list[SealedRow]:
    """The next ``limit`` rows of a project in ``table`` (one of ``SEALED_COLUMNS``) after id ``after``, by id."""
    t = schema.metadata.tables[table]
    columns = SEALED_COLUMNS[table]
    rows = tx.execute(
        select(t.c.id, *(t.c[c] for c in columns))
        .where(t.c.workspace_id == workspace_id, t.c.project_id == project_id, t.c.id > after)
        .order_by(t.c.id)
        .limit(limit)
    ).all()
    return [SealedRow(row[0], dict(zip(columns, row[1:]))) for row in rows]


def update_sealed_row(tx: Tx, workspace_id: str, table: str, row_id: str, values: dict[str, bytes]) -> None:
    t = schema.metadata.tables[table]
    tx.execute(update(t).where(t.c.workspace_id == workspace_id, t.c.id == row_id).values(**values))
