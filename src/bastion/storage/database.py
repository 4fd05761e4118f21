"""The database handle: engine, connection setup and the one way to open a transaction.

Every service call runs in exactly one transaction opened here
(``with db.transaction(write=True) as tx:``); nothing deeper commits. A ``Tx``
carries the connection, the instant the transaction started (``tx.now``, epoch
ms) and callbacks to run after a successful commit.

SQLite setup (every connection): WAL journal, ``synchronous=FULL`` (an
acknowledged write survives power loss), foreign keys on, a busy timeout for
other processes. Python's sqlite3 transaction handling is switched off and
``BEGIN``/``BEGIN IMMEDIATE`` are issued explicitly (see ``dialects.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from . import dialects


def now_ms() -> int:
    return int(time.time() * 1000)


class Tx:
    """One open transaction."""

    __slots__ = ("conn", "db", "now", "write", "_after_commit")

    def __init__(self, conn: Connection, db: "Database", write: bool) -> None:
        self.conn = conn
        self.db = db
        self.now = now_ms()
        self.write = write
        self._after_commit: list[Callable[[], None]] = []

    @property
    def dialect(self) -> dialects.Dialect:
        return self.db.dialect

    def execute(self, statement: Any, params: Any = None):
        return self.conn.execute(statement, params) if params is not None else self.conn.execute(statement)

    def set_scope(self, user_id: str, workspace_ids: str, is_admin: bool = False) -> None:
        self.db.dialect.set_scope(self.conn, user_id, workspace_ids, is_admin)

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)


class Database:
    def __init__(self, url: str, *, pool_size: int = 8, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=48,
                echo=echo,
            )
            _configure_sqlite(self.engine)
            self._write_lock: threading.Lock | None = threading.Lock()
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=32, pool_pre_ping=True, echo=echo
            )
            self._write_lock = None
        self.dialect = dialects.for_name(self.engine.dialect.name)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        lock = self._write_lock if write else None
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE" if write else "BEGIN")
                tx = Tx(conn, self, write)
                with conn.begin():
                    yield tx
        finally:
            if lock is not None:
                lock.release()
        for fn in tx._after_commit:
            fn()

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-16000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_null_pool_engine(url: str) -> Engine:
    """A pool-less engine for one-shot admin work (migrations, keyring maintenance)."""
    return create_engine(url, poolclass=NullPool)
