"""Imports' idempotency keys (``services/import_keys.py`` holds the rules; this, the rows).

One row per (project, person, key): the import it answered, a keyed hash of the
request it came with, and its report, sealed. A row older than the window is as
good as absent: ``find_import_key`` ignores it and ``record_import_key`` replaces
it (and clears the project's other expired rows on the way, so the table stays
the size of a day of imports).

The trap: two requests with one new key can both import (the key is recorded when
an import finishes); the second's row is then not written (``DO NOTHING``) and the
first report stays the one answered. Deduplication by ``external_id`` or content
keeps the tasks from being stored twice.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, select

from . import schema
from .database import Tx

IK = schema.import_keys
COLUMNS = ("workspace_id", "project_id", "user_id", "key_hash", "import_id", "body_hash", "report", "created_at")


class ImportKey(NamedTuple):
    import_id: str
    body_hash: bytes
    report: bytes  # sealed JSON
    created_at: int


def find_import_key(
    tx: Tx, workspace_id: str, project_id: str, user_id: str, key_hash: bytes, *, since: int
) -> ImportKey | None:
    """The import recorded under this key at or after ``since``, if any."""
    row = tx.execute(
        select(IK.c.import_id, IK.c.body_hash, IK.c.report, IK.c.created_at).where(
            IK.c.workspace_id == workspace_id,
            IK.c.project_id == project_id,
            IK.c.user_id == user_id,
            IK.c.key_hash == key_hash,
            IK.c.created_at >= since,
        )
    ).first()
    return None if row is None else ImportKey(row.import_id, bytes(row.body_hash), bytes(row.report), row.created_at)


def record_import_key(
    tx: Tx,
    workspace_id: str,
    project_id: str,
    user_id: str,
    key_hash: bytes,
    *,
    import_id: str,
    body_hash: bytes,
    report: bytes,
    now: int,
    expired_before: int,
) -> None:
    """Record an import under its key, unless a live row holds the key already (see the trap above)."""
    tx.execute(
        delete(IK).where(
            IK.c.workspace_id == workspace_id, IK.c.project_id == project_id, IK.c.created_at < expired_before
        )
    )
    tx.dialect.insert_ignore(
        tx.conn,
        "import_keys",
        COLUMNS,
        [(workspace_id, project_id, user_id, key_hash, import_id, body_hash, report, now)],
        ("workspace_id", "project_id", "user_id", "key_hash"),
    )
