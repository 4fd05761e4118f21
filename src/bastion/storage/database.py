"""The database handle: engine, connection setup and the one way to open a transaction.

Every service call runs in exactly one transaction opened here
(``with db.transaction(write=True) as tx:``); nothing deeper commits. A ``Tx``
carries the connection and the instant the transaction started (``tx.now``, epoch
ms).

SQLite setup (every connection): WAL journal, ``synchronous=FULL`` (an
acknowledged write survives power loss), foreign keys on, a busy timeout for
other processes; the file and its ``-wal``/``-shm`` are 0600 (``datadir.py``). Python's sqlite3 transaction handling is switched off and
``BEGIN``/``BEGIN IMMEDIATE`` are issued explicitly (see ``dialects.py``).
Write transactions of one process share commits (group commit, below): under
load, one fsync makes many of them durable at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVarTuple, cast, overload

from sqlalchemy import Connection, CursorResult, RootTransaction, create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DatabaseError, IntegrityError, InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows

from . import dialects
from .datadir import private_sqlite_files

_Ts = TypeVarTuple("_Ts")
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


def now_ms() -> int:
    return int(time.time() * 1000)


class DriverCursor(Protocol):
    """What ``storage/fast.py`` uses of a driver's cursor (sqlite3's or psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Sequence[Any] | None: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> object: ...


class DriverConnection(Protocol):
    """What ``storage/fast.py`` uses of a driver's connection: ``execute`` and ``executemany``
    on sqlite3's, ``execute`` and ``cursor`` (a context manager) on psycopg's."""

    def execute(self, sql: str, params: Mapping[str, Any]) -> DriverCursor: ...

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> object: ...

    def cursor(self) -> AbstractContextManager[DriverCursor]: ...


class Tx:
    """One open transaction."""

    __slots__ = ("conn", "db", "now", "write", "_raw", "pending", "answers")

    def __init__(self, conn: Connection, db: Database, write: bool) -> None:
        self.conn = conn
        self.db = db
        self.now = now_ms()
        self.write = write
        self._raw: DriverConnection | None = None
        # PostgreSQL: writes sent later (``fast.Statement.defer``), with the next statement or the commit.
        self.pending: list[tuple[str, Any]] = []
        # PostgreSQL: reads already answered, in a ``fast.prefetch`` block (None outside one).
        self.answers: dict[tuple[int, tuple[tuple[str, Any], ...]], list[tuple[Any, ...]]] | None = None

    @property
    def raw(self) -> DriverConnection:
        """The driver's own connection, in this transaction (for ``storage/fast.py``)."""
        if self._raw is None:
            # Optional in SQLAlchemy's annotation only for a connection already closed.
            self._raw = cast(DriverConnection, self.conn.connection.driver_connection)
        return self._raw

    @property
    def dialect(self) -> dialects.Dialect:
        return self.db.dialect

    @overload
    def execute(self, statement: TypedReturnsRows[*_Ts], params: Params | None = None) -> CursorResult[*_Ts]: ...

    @overload
    def execute(self, statement: Executable, params: Params | None = None) -> CursorResult[*tuple[Any, ...]]: ...

    def execute(self, statement: Executable, params: Params | None = None) -> CursorResult[*tuple[Any, ...]]:
        """Run a statement in this transaction; its result is typed after the statement's columns."""
        return self.conn.execute(statement, params) if params is not None else self.conn.execute(statement)

    def set_scope(self, user_id: str, workspace_ids: str, is_admin: bool = False) -> None:
        self.db.dialect.set_scope(self.conn, user_id, workspace_ids, is_admin)

    @property
    def usable(self) -> bool:
        """False after a failed statement (PostgreSQL): only a rollback is left."""
        return self.db.dialect.is_usable(self.conn)


class _Batch:
    """Write transactions that commit together (one fsync for all of them)."""

    __slots__ = ("done", "error", "members", "started")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.members = 0
        self.started = time.monotonic()


class _GroupCommitWriter:
    """SQLite group commit: concurrent write transactions of one process share a commit.

    Writers run one at a time on one dedicated connection, each inside a
    SAVEPOINT of an open ``BEGIN IMMEDIATE`` transaction. When a writer finishes
    and nobody is queued behind it, it commits the whole batch (one fsync with
    ``synchronous=FULL``); when others are queued it leaves the commit to the
    last of them and waits. Nobody returns — nothing is acknowledged — before the
    commit that made their write durable. A writer whose own work failed is rolled
    back to its savepoint alone; a failed commit fails every member of the batch.

    A single writer commits at once, so latency is unchanged without contention.
    """

    MAX_MEMBERS = 256
    MAX_AGE_S = 0.05
    SAVEPOINT = "SAVEPOINT bastion_member"
    RELEASE = "RELEASE SAVEPOINT bastion_member"
    ROLLBACK_TO = "ROLLBACK TO SAVEPOINT bastion_member"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.state = threading.Lock()
        self.queued = 0
        self.conn: Connection | None = None
        self.outer: RootTransaction | None = None
        self.batch: _Batch | None = None
        self.local = threading.local()

    def _connection(self) -> Connection:
        if self.conn is None or self.conn.closed:
            self.conn = self.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
        return self.conn

    @contextmanager
    def transaction(self, db: Database) -> Iterator[Tx]:
        if getattr(self.local, "active", False):
            raise RuntimeError("nested write transaction: a service call must use one transaction")
        with self.state:
            self.queued += 1
        self.lock.acquire()
        with self.state:
            self.queued -= 1
        self.local.active = True
        batch: _Batch | None = None
        failure: BaseException | None = None
        try:
            try:
                conn = self._connection()
                if self.batch is None:
                    self.batch = _Batch()
                    self.outer = conn.begin()
            except BaseException:
                self.batch = None
                self.outer = None
                raise
            batch = self.batch
            batch.members += 1
            tx = Tx(conn, db, True)
            # The member's savepoint, on the driver: SQLAlchemy's begin_nested() compiles and wraps
            # each SAVEPOINT / RELEASE as a statement of its own (two per write, in the writer).
            raw = tx.raw
            raw.execute(self.SAVEPOINT, {})
            try:
                yield tx
                raw.execute(self.RELEASE, {})
            except BaseException as exc:
                failure = exc
                try:
                    raw.execute(self.ROLLBACK_TO, {})
                    raw.execute(self.RELEASE, {})
                except BaseException as rollback_error:  # the connection itself is broken
                    batch.error = rollback_error
                raise
        finally:
            self.local.active = False
            if batch is not None:
                self._finish(batch)  # releases the writer lock
            else:
                self.lock.release()
        if failure is None:
            batch.done.wait()
            if batch.error is not None:
                raise batch.error

    def _finish(self, batch: _Batch) -> None:
        """Commit the batch if nobody is queued (or it is big or old); release the writer lock."""
        with self.state:
            alone = self.queued == 0
        due = alone or batch.members >= self.MAX_MEMBERS or time.monotonic() - batch.started > self.MAX_AGE_S
        if due or batch.error is not None:
            outer, conn = self.outer, self.conn
            assert outer is not None and conn is not None  # set with the batch, in transaction()
            try:
                if batch.error is None:
                    outer.commit()
                else:
                    outer.rollback()
            except BaseException as exc:
                batch.error = exc
                try:
                    outer.rollback()
                except BaseException:
                    conn.invalidate()
                    self.conn = None
            self.batch = None
            self.outer = None
            batch.done.set()
        self.lock.release()

    def dispose(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Database:
    def __init__(self, url: str, *, pool_size: int = 40, echo: bool = False, sqlite_cache_mb: int = 32) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:" and not path.startswith("file:"):
                private_sqlite_files(Path(path))  # 0600 before SQLite derives -wal/-shm from it
            self.engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                # As many kept connections as the server has worker threads (40): opening one
                # per request past the pool, with its PRAGMAs, was 9.5% of the server's CPU under
                # 64 clients. Last in, first out: the warm few serve most reads, their caches hot.
                pool_size=pool_size,
                max_overflow=48,
                pool_use_lifo=True,
                echo=echo,
            )
            _configure_sqlite(self.engine, sqlite_cache_mb)
            self._writer: _GroupCommitWriter | None = _GroupCommitWriter(self.engine)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=32, echo=echo)
            self._writer = None
            _ping_when_idle(self.engine)
            _send_pending_first(self.engine)
        self.dialect = dialects.for_name(self.engine.dialect.name)
        # The driver's own integrity errors, for statements run outside SQLAlchemy (fast.py).
        self.integrity_errors = (IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError)
        # Any error of the database itself (a damaged file reads as one: restore --check reports it).
        self.database_errors = (DatabaseError, self.engine.dialect.loaded_dbapi.DatabaseError)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """One transaction. SQLite writes go through the group-commit writer."""
        if write and self._writer is not None:
            with self._writer.transaction(self) as tx:
                yield tx
            return
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(sqlite_begin="BEGIN")
                tx = Tx(conn, self, write)
                with conn.begin():
                    yield tx
                return
            # PostgreSQL: the driver in autocommit mode, the transaction's BEGIN sent by us, with its
            # first statement (psycopg's own BEGIN would be a round trip of its own), and its COMMIT
            # with the writes still waiting. A READ COMMITTED transaction as before, in fewer trips.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            tx = Tx(conn, self, write)
            tx.pending.append(dialects.BEGIN)
            conn.info[dialects.PENDING] = tx.pending
            try:
                with conn.begin():
                    try:
                        yield tx
                        dialects.end_transaction(conn, commit=True)
                    except BaseException:  # the service's error, or a waiting write's at the COMMIT
                        dialects.end_transaction(conn, commit=False)
                        raise
            finally:
                conn.info.pop(dialects.PENDING, None)

    def ping(self) -> None:
        """One round trip to the database (raises when it does not answer)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.dispose()
        self.engine.dispose()

    def server_warnings(self) -> list[str]:
        """What in the database server's setup will hurt Bastion (PostgreSQL: autovacuum off)."""
        if self.is_sqlite:
            return []
        with self.engine.connect() as conn:
            autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar()
        if autovacuum != "off":
            return []
        return [
            "PostgreSQL's autovacuum is off: every lease and submit leaves dead index entries and the "
            "planner's statistics go stale, so the next-task and lease lookups slow down as work goes on "
            "(see docs/benchmarks.md). Turn it on (autovacuum = on) or run VACUUM ANALYZE on a schedule."
        ]


# PostgreSQL: a pooled connection idle longer than this is pinged before it is handed out. A ping
# per checkout (``pool_pre_ping``) was one round trip of every transaction; a connection returned a
# moment ago was working then, and what ends connections behind the pool's back — a server restart,
# a failover, an idle timeout of the server or of a proxy between — mostly finds them idle, for longer
# than this. One that dies in between (or while busy) fails the statement that finds it, as a
# connection broken mid-transaction always did: the request errors and the pool discards it.
IDLE_PING_S = 10.0
_IDLE_SINCE = "bastion_idle_since"


def _ping_when_idle(engine: Engine) -> None:
    """PostgreSQL: ping a connection at checkout only when it has been idle past ``IDLE_PING_S``
    (``pool_pre_ping``, for idle ones only); a fresh one is not pinged. A failed ping invalidates the
    pool, as SQLAlchemy's pre-ping does: the others were likely ended by the same cause."""

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info.pop(_IDLE_SINCE, None)  # a new connection (also after an invalidation): no ping

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: object) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since <= IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"an idle connection did not answer: {exc}") from exc


def _send_pending_first(engine: Engine) -> None:
    """PostgreSQL: writes waiting on the connection go before any statement run through SQLAlchemy
    (in its own round trip), so every statement sees them, under the scope they were made in."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Connection, *_args: object) -> None:
        if conn.info.get(dialects.PENDING):
            dialects.send_pending(conn)


def _configure_sqlite(engine: Engine, cache_mb: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA cache_size={-1024 * cache_mb}")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
