"""Reading a restored copy of the database for ``bastion restore --check`` (``services/restore_checks.py``).

``SEALED_PLACES`` lists every column holding a value sealed by ``storage/crypto.py``,
with the column that names the record it was sealed for (part of what is
authenticated): the tables ``keys_store.SEALED_COLUMNS`` re-encrypts, plus the
ones sealed apart from a project's rows (its config, export manifests, import
reports). Sealed files live outside the database (the blob store) and are
checked from the backup's ``files/`` members.

The trap: add a table here (or to ``keys_store.SEALED_COLUMNS``) when you add one
with sealed columns, or the check would pass a backup whose new records do not
open; tests/storage/test_restore_check_store.py holds every binary column of the schema to
being listed here or named there as not sealed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import func, select

from . import schema
from .database import Tx
from .keys_store import SEALED_COLUMNS

# table -> (the column naming the record the value was sealed for, the sealed columns)
SEALED_PLACES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{table: ("id", columns) for table, columns in SEALED_COLUMNS.items()},
    "projects": ("id", ("config",)),
    "exports": ("id", ("manifest",)),
    "import_keys": ("import_id", ("report",)),
    # sealed with the workspace's own key (storage/workspace_secret.py), each under its record's id
    "model_endpoints": ("id", ("api_key",)),
    "webhook_endpoints": ("id", ("secret",)),
}


class SealedValue(NamedTuple):
    workspace_id: str
    table: str
    record_id: str
    column: str
    sealed: bytes


def iter_sealed(tx: Tx, *, batch: int = 2000) -> Iterator[SealedValue]:
    """Every sealed value of the database, table by table (streamed, in pages of ``batch`` rows)."""
    for table, (id_column, columns) in SEALED_PLACES.items():
        t = schema.metadata.tables[table]
        key = [t.c.workspace_id, t.c[id_column]]
        after: tuple[str, str] = ("", "")
        while True:
            rows = tx.execute(
                select(*key, *(t.c[c] for c in columns))
                .where((t.c.workspace_id > after[0]) | ((t.c.workspace_id == after[0]) & (t.c[id_column] > after[1])))
                .order_by(*key)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                for column, value in zip(columns, row[2:]):
                    if value is not None:
                        yield SealedValue(row[0], table, row[1], column, bytes(value))
            after = (rows[-1][0], rows[-1][1])


def referenced_key_ids(tx: Tx) -> set[str]:
    """The data-key ids the database's sealed values name (bytes 1–16 of each: ``storage/crypto.py``)."""
    found: set[str] = set()
    for table, (_, columns) in SEALED_PLACES.items():
        t = schema.metadata.tables[table]
        for column in columns:
            c = t.c[column]
            rows = tx.execute(select(func.substr(c, 2, 16)).where(c.is_not(None)).distinct()).scalars()
            found.update("key_" + bytes(raw).hex() for raw in rows)
    found.update(tx.execute(select(schema.projects.c.key_id).distinct()).scalars())
    return found


def list_workspace_ids(tx: Tx) -> list[str]:
    return list(tx.execute(select(schema.workspaces.c.id).order_by(schema.workspaces.c.id)).scalars())


def count_rows(tx: Tx, table: str) -> int:
    return int(tx.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())


def list_file_ids(tx: Tx) -> list[tuple[str, str]]:
    """(workspace, file id) of every stored file the database lists (its sealed content is a blob)."""
    f = schema.files
    return [(row[0], row[1]) for row in tx.execute(select(f.c.workspace_id, f.c.id))]
