"""Consistent copies of the whole database, for ``bastion backup`` / ``bastion restore`` (``services/backups.py``).

SQLite: the online backup API copies a live database page by page into one
self-contained file (journal mode DELETE: no ``-wal`` beside it). PostgreSQL:
``pg_dump --format=custom`` and ``pg_restore --clean``. The same two copy the
keyring database (``bastion keys backup``: ``dump_keyring`` / ``restore_keyring``),
into an archive of its own: the keyring is no part of a data backup (a data backup
alone opens nothing).

A restored SQLite file is written beside its target and renamed over it, so a
restore cut short leaves the old file or the new one, never half of one.

The trap: on PostgreSQL ``pg_dump`` refuses a table whose row-level security
policies would hide rows from it rather than write a partial dump, so both tools
must run as a role the policies do not apply to (a superuser, or the owner with
``BYPASSRLS``) — never as the app role; the error says so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .database import Database
from ..domain.errors import InvalidInput

SQLITE_MEMBER = "bastion.db"
POSTGRESQL_MEMBER = "database.pgdump"
KEYRING_SQLITE_MEMBER = "keyring.db"
KEYRING_POSTGRESQL_MEMBER = "keyring.pgdump"


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
    return _dump_url(db.url, folder, SQLITE_MEMBER, POSTGRESQL_MEMBER)


def dump_keyring(url: str, folder: Path) -> str:
    """Write a consistent copy of the keyring database (``url``) into ``folder``; returns its name there."""
    return _dump_url(url, folder, KEYRING_SQLITE_MEMBER, KEYRING_POSTGRESQL_MEMBER)


def _dump_url(url: str, folder: Path, sqlite_name: str, postgresql_name: str) -> str:
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if not path.is_file():
            raise InvalidInput(f"{path}: no such database file")
        source = sqlite3.connect(path, timeout=30)  # a reader: it waits out a writer's short lock
        target = sqlite3.connect(folder / sqlite_name)
        try:
            with target:
                source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no WAL
        finally:
            source.close()
            target.close()
        return sqlite_name
    done = subprocess.run(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--file",
            str(folder / postgresql_name),
            "--dbname",
            _pg_dsn(url),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise _tool_failed("pg_dump", done.stderr, done.returncode)
    return postgresql_name


def restore_sqlite(copy: Path, url: str) -> None:
    """Put a dumped SQLite file in the place of the configured database (its ``-wal``/``-shm`` go):
    written 0600 beside it, then renamed over it."""
    target = sqlite_file(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private from the first byte
    with os.fdopen(fd, "wb") as f, copy.open("rb") as source:
        shutil.copyfileobj(source, f, 1 << 20)
        f.flush()
        os.fsync(f.fileno())
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    partial.replace(target)


def restore_postgresql(copy: Path, url: str, *, single_transaction: bool = False) -> None:
    """Restore a ``pg_dump`` into the configured database, replacing what it holds.

    ``single_transaction``: all of it or nothing (a failure leaves the database as it was).
    """
    extra = ["--single-transaction"] if single_transaction else []
    done = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", *extra, "--dbname", _pg_dsn(url), str(copy)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise _tool_failed("pg_restore", done.stderr, done.returncode)


def list_postgresql_dump(copy: Path) -> None:
    """Read a ``pg_dump`` archive's table of contents: raises InvalidInput when it is not one."""
    done = subprocess.run(["pg_restore", "--list", str(copy)], capture_output=True, text=True)
    if done.returncode != 0:
        raise _tool_failed("pg_restore", done.stderr, done.returncode)
