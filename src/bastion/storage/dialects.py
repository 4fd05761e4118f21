"""Where SQLite and PostgreSQL differ, and nowhere else.

* Transactions: SQLite write transactions start with ``BEGIN IMMEDIATE`` (take
  the write lock up front, so two writers never deadlock upgrading a read lock)
  and are serialised inside a process by a lock, so in-process waiters queue on
  the lock instead of SQLite's sleeping busy handler. PostgreSQL uses plain
  READ COMMITTED transactions and row locks.
* Row-level security settings: PostgreSQL gets ``set_config('app.user_id' …)``
  and ``set_config('app.workspace_ids' …)`` local to each transaction (never
  session-wide: pooled connections would carry them to the next request), and
  the two narrow widenings a service opens for a moment (``storage/rls.py``).
* Claiming a queue row: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the
  write lock already excludes every other claimer.
* Bulk insert: ``executemany`` on SQLite, ``COPY`` into a temporary table then
  ``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL.
* Writes sent later (``fast.Statement.defer``): PostgreSQL keeps them on the connection
  (``PENDING`` in its ``info``) and sends them, in one pipelined round trip, with the next
  statement that needs an answer — the hot path's own ones, SQLAlchemy's (an event
  hook), a ``COPY`` — or with the COMMIT (``send_pending``). SQLite runs them at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection

if TYPE_CHECKING:
    import psycopg


class Dialect:
    name = "generic"
    skip_locked = ""

    def set_scope(self, conn: Connection, user_id: str, workspace_ids: str, is_admin: bool = False) -> None:
        """Bind the row-level security scope to the current transaction."""

    def set_widening(self, conn: Connection, setting: str, workspace_ids: str) -> None:
        """Open one of row-level security's widenings to these workspaces ('' closes it)."""

    def insert_ignore(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        conflict: Sequence[str],
    ) -> int:
        raise NotImplementedError

    def is_usable(self, conn: Connection) -> bool:
        """Whether the transaction can still run statements (PostgreSQL: none after a failed one)."""
        return True


class SQLiteDialect(Dialect):
    name = "sqlite"
    skip_locked = ""

    def insert_ignore(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        conflict: Sequence[str],
    ) -> int:
        if not rows:
            return 0
        placeholders = ", ".join("?" for _ in columns)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        )
        cursor = cast(sqlite3.Connection, conn.connection.driver_connection).cursor()
        try:
            cursor.executemany(sql, rows)
            return cursor.rowcount
        finally:
            cursor.close()


class PostgresDialect(Dialect):
    name = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def set_scope(self, conn: Connection, user_id: str, workspace_ids: str, is_admin: bool = False) -> None:
        conn.exec_driver_sql(
            "SELECT set_config('app.user_id', %(u)s, true), "
            "set_config('app.workspace_ids', %(w)s, true), set_config('app.is_admin', %(a)s, true)",
            {"u": user_id, "w": workspace_ids, "a": "on" if is_admin else "off"},
        )

    def is_usable(self, conn: Connection) -> bool:
        from psycopg.pq import TransactionStatus

        return _psycopg(conn).info.transaction_status != TransactionStatus.INERROR

    def set_widening(self, conn: Connection, setting: str, workspace_ids: str) -> None:
        conn.exec_driver_sql("SELECT set_config(%(s)s, %(w)s, true)", {"s": setting, "w": workspace_ids})

    def insert_ignore(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        conflict: Sequence[str],
    ) -> int:
        if not rows:
            return 0
        send_pending(conn)
        raw = _psycopg(conn)
        cols = ", ".join(columns)
        staging = f"_staging_{table}"
        with raw.cursor() as cur:
            cur.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
                f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cur.execute(f"TRUNCATE {staging}")
            with cur.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "
                f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
            )
            inserted = cur.rowcount
            cur.execute(f"TRUNCATE {staging}")
            return inserted


# The key of a PostgreSQL connection's ``info`` under which its transaction's writes wait (a list of
# (SQL, parameters)); set for the transaction's length by ``Database.transaction``.
PENDING = "bastion_pending_writes"


# The statement opening a transaction on a connection in autocommit mode (``Database.transaction``).
BEGIN = ("BEGIN", None)


def end_transaction(conn: Connection, *, commit: bool) -> None:
    """PostgreSQL, autocommit mode: COMMIT (with the writes waiting, in one round trip) or ROLLBACK
    the transaction ``Database.transaction`` opened; nothing when it never reached the server."""
    pending: list[tuple[str, Any]] = conn.info.get(PENDING, [])
    if pending == [BEGIN]:  # nothing was asked at all: no transaction to end
        pending.clear()
        return
    if pending and pending[0] is BEGIN and not commit:  # only deferred writes, never sent: dropped
        pending.clear()
        return
    if commit:
        send_pending(conn, "COMMIT")
        return
    pending.clear()
    from psycopg.pq import ConnStatus, TransactionStatus

    raw = _psycopg(conn)
    if raw.pgconn.status == ConnStatus.OK and raw.info.transaction_status != TransactionStatus.IDLE:
        raw.execute("ROLLBACK")


def send_pending(
    conn: Connection, sql: str | None = None, params: Any = None, *, commit: bool = False
) -> psycopg.Cursor[Any] | None:
    """PostgreSQL: the writes waiting on ``conn``, then ``sql`` (its cursor is returned, results in)
    or the COMMIT, in one round trip (psycopg's pipeline mode: the server runs them in order, as if
    sent one by one). Nothing waiting and nothing else asked: no round trip."""
    pending: list[tuple[str, Any]] | None = conn.info.get(PENDING)
    if not pending and sql is None and not commit:
        return None
    waiting = list(pending or ())
    if pending:
        pending.clear()  # an error below fails the transaction: nothing is sent twice
    raw = _psycopg(conn)
    cursor = None
    with raw.pipeline() if pipeline_supported() else nullcontext():  # libpq before 14: one by one
        for text, values in waiting:
            raw.execute(text, values)
        if sql is not None:
            cursor = raw.execute(sql, params)
        if commit:
            raw.commit()
    return cursor


@cache
def pipeline_supported() -> bool:
    """Whether psycopg's libpq has pipeline mode (14 or later)."""
    import psycopg

    return psycopg.Pipeline.is_supported()


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn`` (Optional in SQLAlchemy's annotation only once closed)."""
    return cast("psycopg.Connection[Any]", conn.connection.driver_connection)


def for_name(name: str) -> Dialect:
    if name == "sqlite":
        return SQLiteDialect()
    if name == "postgresql":
        return PostgresDialect()
    raise ValueError(f"unsupported database dialect {name!r} (use SQLite or PostgreSQL)")
