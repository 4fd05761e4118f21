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
* Bulk insert: on SQLite, a few rows with ``executemany``, a batch as one ``INSERT … SELECT … FROM
  json_each(?)`` (``_sqlite_bulk``); ``COPY`` into a temporary table then ``INSERT … ON CONFLICT DO
  NOTHING`` on PostgreSQL.
* Writes sent later (``fast.Statement.defer``): PostgreSQL keeps them on the connection
  (``PENDING`` in its ``info``) and sends them, in one pipelined round trip, with the next
  statement that needs an answer — the hot path's own ones, SQLAlchemy's (an event
  hook), a ``COPY`` — or with the COMMIT (``send_pending``). SQLite runs them at once.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import orjson
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
        cursor = cast(sqlite3.Connection, conn.connection.driver_connection).cursor()
        try:
            if len(rows) >= BULK_MIN_ROWS:
                bulk = _sqlite_bulk(table, columns, rows, conflict)
                if bulk is not None:
                    inserted = 0
                    for sql, params in bulk:
                        cursor.execute(sql, params)
                        inserted += cursor.rowcount
                    return inserted
            placeholders = ", ".join("?" for _ in columns)
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
                f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
            )
            cursor.executemany(sql, rows)
            return cursor.rowcount
        finally:
            cursor.close()


# A batch this long goes in as one statement (below it, ``executemany``'s per-row cost is small).
BULK_MIN_ROWS = 256
# The most blob bytes one statement carries: well under SQLite's 1 GB limit on a value, and a bound on
# the copies a statement makes (a batch of large tasks is split into several statements).
BULK_MAX_BYTES = 64 * 1024 * 1024
_PLAIN = (str, int, float)


class _Column(NamedTuple):
    """How one column travels in a bulk statement."""

    how: str  # "same": one value for every row, a parameter; "fixed": a blob column of one width,
    # sliced by the row's position; "blob": a blob column, sliced by the row's offset and length; "json"
    value: Any = None  # "same": the value; "fixed": the width


def _sqlite_bulk(
    table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], conflict: Sequence[str]
) -> list[tuple[str, tuple[Any, ...]]] | None:
    """``rows`` as a few ``INSERT … SELECT … FROM json_each(?)`` statements, or None (use ``executemany``).

    Why: ``executemany`` binds each row holding the GIL and steps it without, so it takes the GIL back
    once a row. Beside a thread doing Python work (an import parses and seals the next batch while this
    one is written) each take waits its turn: a 300k-row insert took 3 s alone and 32 s beside such a
    thread. One statement releases the GIL once for the whole batch.

    How: what differs between rows (text, numbers, booleans, NULLs) goes as one JSON array of arrays,
    encoded in C; each ``->>`` reads a row's JSON, so a column with one value in every row is a
    parameter instead. Each blob column goes as one blob parameter, its values concatenated: sliced by
    the row's position (``j.key``) when they all have one length, else each row names its value's
    offset and length (``substr`` of a blob is a blob; a NULL offset gives NULL). None when a value is
    of another type, or one JSON would not carry unchanged (the caller falls back to ``executemany``,
    which binds it as it always did).
    """
    by_column = list(zip(*rows, strict=True))
    if len(by_column) != len(columns):
        return None
    plan: list[_Column] = []
    blob_bytes = 0
    for values in by_column:
        kinds = set(map(type, values))
        if len(kinds) == 1 and len(set(values)) == 1:
            plan.append(_Column("same", values[0]))
            continue
        kinds.discard(type(None))
        if kinds == {bytes}:
            widths = {-1 if v is None else len(v) for v in values}
            blob_bytes += sum(map(len, filter(None, values)))
            only = next(iter(widths))
            plan.append(_Column("fixed", only) if len(widths) == 1 and only > 0 else _Column("blob"))
        elif all(issubclass(k, _PLAIN) for k in kinds) and _json_safe(values, kinds):
            plan.append(_Column("json"))
        else:
            return None
    if blob_bytes <= BULK_MAX_BYTES:
        return [_bulk_statement(table, columns, by_column, plan, 0, len(rows), conflict)]
    sizes = [0] * len(rows)
    for values, column in zip(by_column, plan, strict=True):
        if column.how in ("fixed", "blob"):
            sizes = [s + (0 if v is None else len(v)) for s, v in zip(sizes, values, strict=True)]
    statements: list[tuple[str, tuple[Any, ...]]] = []
    start, total = 0, 0
    for end, size in enumerate(sizes):
        if total and total + size > BULK_MAX_BYTES:
            statements.append(_bulk_statement(table, columns, by_column, plan, start, end, conflict))
            start, total = end, 0
        total += size
    statements.append(_bulk_statement(table, columns, by_column, plan, start, len(rows), conflict))
    return statements


def _json_safe(values: tuple[Any, ...], kinds: set[type]) -> bool:
    """Whether JSON carries these values to SQLite unchanged: integers within 64 bits, finite floats (JSON
    has no NaN: it would arrive NULL), text without NUL characters."""
    if str in kinds and "\x00" in "".join(v for v in values if isinstance(v, str)):
        return False
    if float in kinds and not all(map(math.isfinite, (v for v in values if isinstance(v, float)))):
        return False
    whole = [v for v in values if isinstance(v, int)] if kinds - {str, float} else []
    return not whole or (min(whole) >= -(2**63) and max(whole) < 2**63)


def _bulk_statement(
    table: str,
    columns: Sequence[str],
    by_column: list[tuple[Any, ...]],
    plan: list[_Column],
    start: int,
    end: int,
    conflict: Sequence[str],
) -> tuple[str, tuple[Any, ...]]:
    """One statement for rows ``start:end`` (``_sqlite_bulk``)."""
    fields: list[Sequence[Any]] = []
    selects: list[str] = []
    params: list[Any] = []
    for values, column in zip(by_column, plan, strict=True):
        if column.how == "same":
            params.append(column.value)
            selects.append(f"?{len(params)}")
            continue
        part = values[start:end]
        if column.how == "fixed":
            params.append(b"".join(part))
            selects.append(f"substr(?{len(params)}, j.key * {column.value} + 1, {column.value})")
        elif column.how == "blob":
            offsets: list[int | None] = []
            lengths: list[int] = []
            at = 1  # substr counts from 1
            for value in part:
                if value is None:
                    offsets.append(None)
                    lengths.append(0)
                else:
                    offsets.append(at)
                    lengths.append(len(value))
                    at += len(value)
            # One byte more at the end: ``substr`` of an empty blob is NULL, and an empty value must stay empty.
            params.append(b"".join([*(v for v in part if v is not None), b"\x00"]))
            selects.append(f"substr(?{len(params)}, j.value ->> {len(fields)}, j.value ->> {len(fields) + 1})")
            fields.extend((offsets, lengths))
        else:
            selects.append(f"j.value ->> {len(fields)}")
            fields.append(part)
    rows = list(zip(*fields, strict=True)) if fields else [()] * (end - start)
    params.append(orjson.dumps(rows).decode())
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)} "
        f"FROM json_each(?{len(params)}) AS j WHERE true "  # WHERE: how SQLite parses an upsert after SELECT
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    )
    return sql, tuple(params)


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
