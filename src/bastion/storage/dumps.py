"""Consistent copies of the whole database, for ``bastion backup`` / ``bastion restore`` (``services/backups.py``).

SQLite: the online backup API copies a live database page by page into one
self-contained file (journal mode DELETE: no ``-wal`` beside it). PostgreSQL:
``pg_dump --format=custom`` and ``pg_restore --clean``. The keyring is no part of
either (a backup alone opens nothing).

The trap: on PostgreSQL ``pg_dump`` refuses a table whose row-level security
policies would hide rows from it rather than write a partial dump, so both tools
must run as a role the policies do not apply to (a superuser, or the owner with
``BYPASSRLS``) — never as the app role; the error says so.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .database import Database
from ..domain.errors import InvalidInput

SQLITE_MEMBER = "bastion.db"
POSTGRESQL_MEMBER = "database.pgdump"


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool_failed(tool: str, stderr: str, returncode: int) -> InvalidInput:
    """pg_dump/pg_restore's own error line (not its last line: that is often the query it ran)."""
    lines = [line.strip() for line in stderr.strip().splitlines()]
    message = next((line for line in lines if "error:" in line), lines[-1] if lines else f"exit code {returncode}")
    if "row-level security" in stderr:
        message += (
            " — on PostgreSQL, back up and restore as a role row-level security does not apply to "
            "(a superuser, or the owner with BYPASSRLS: --database-url), not as the app role"
        )
    return InvalidInput(f"{tool} failed: {message}")


def sqlite_file(url: str) -> Path:
    """The database file a SQLite URL names."""
    database = make_url(url).database
    if not database:
        raise InvalidInput("the SQLite URL names no database file")
    return Path(database)


def dump(db: Database, folder: Path) -> str:
    """Write a consistent copy of the database into ``folder``; returns the file's name there."""
    if db.is_sqlite:
        source = sqlite3.connect(sqlite_file(db.url))
        target = sqlite3.connect(folder / SQLITE_MEMBER)
        with target:
            source.backup(target)
        source.close()
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no WAL
        target.close()
        return SQLITE_MEMBER
    done = subprocess.run(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--file",
            str(folder / POSTGRESQL_MEMBER),
            "--dbname",
            _pg_dsn(db.url),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise _tool_failed("pg_dump", done.stderr, done.returncode)
    return POSTGRESQL_MEMBER


def restore_sqlite(copy: Path, url: str) -> None:
    """Put a dumped SQLite file in the place of the configured database (its ``-wal``/``-shm`` go)."""
    target = sqlite_file(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(copy, target)


def restore_postgresql(copy: Path, url: str) -> None:
    """Restore a ``pg_dump`` into the configured database, replacing what it holds."""
    done = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", _pg_dsn(url), str(copy)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise _tool_failed("pg_restore", done.stderr, done.returncode)
