"""Hot-path statements: SQL run straight on the driver's cursor.

The next/submit loop runs a dozen small statements per request. Building a
SQLAlchemy expression, computing its cache key and wrapping its result costs
about 60 µs each — more than SQLite takes to run them. Statements on the paths
measured by the benchmarks are written once here as SQL text, with named
parameters (``:name``), converted per dialect when defined and executed on the
raw DBAPI connection of the current transaction (same connection, same
transaction, same row-level-security settings as everything else).

PostgreSQL's round trips (each one a network exchange and a wait): ``together`` sends
several statements in one (psycopg's pipeline mode: the server runs them in order, as if
sent one by one); ``Statement.defer`` keeps a write nobody reads back until the
transaction's next statement — or its COMMIT — and sends it in that round trip;
``prefetch`` asks a path's next reads at once and answers each call from them. SQLite
runs everything at once, one by one: there is no network to save.

The trap: these bypass SQLAlchemy's type processing. Booleans come back as
0/1 from SQLite and as ``bool`` from PostgreSQL (wrap them in ``bool()``), and
every table and column name here must match ``schema.py`` — the storage tests run
every statement on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from .database import DriverCursor, Tx
from .dialects import pipeline_supported, send_pending

if TYPE_CHECKING:
    import psycopg

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def _pyformat(sql: str) -> str:
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class Statement:
    """One SQL statement, with a variant per dialect where they differ."""

    __slots__ = ("sqlite", "postgresql")

    def __init__(self, sql: str, *, postgresql: str | None = None) -> None:
        self.sqlite = sql
        self.postgresql = _pyformat(postgresql if postgresql is not None else sql)

    def _cursor(self, tx: Tx, params: Mapping[str, Any]) -> DriverCursor:
        if tx.db.is_sqlite:
            return tx.raw.execute(self.sqlite, params)
        if tx.pending:  # the writes waiting, then this, in one round trip
            cursor = send_pending(tx.conn, self.postgresql, params)
            assert cursor is not None  # a statement was given
            return cast(DriverCursor, cursor)
        return tx.raw.execute(self.postgresql, params)

    def defer(self, tx: Tx, **params: Any) -> None:
        """A write whose outcome nothing reads (no row count, no rows): on PostgreSQL it waits and
        goes with the transaction's next statement, or its COMMIT, in that round trip (``Tx.pending``);
        SQLite runs it now. The server still runs everything in the order it was asked.

        The trap: an error in it (a constraint) surfaces at that later statement and fails the
        transaction there — defer only writes whose failure nobody catches to carry on."""
        tx.answers = None
        if tx.db.is_sqlite:
            tx.raw.execute(self.sqlite, params)
        else:
            tx.pending.append((self.postgresql, params))

    def defer_apart(self, tx: Tx, **params: Any) -> None:
        """``defer`` for a write (or a lock) that no read of an open ``prefetch`` block reads: the block's
        answers stand (the caller vouches for it: the person's lock, their last access)."""
        answers = tx.answers
        self.defer(tx, **params)
        tx.answers = answers

    def defer_many(self, tx: Tx, rows: Iterable[Mapping[str, Any]]) -> None:
        """``defer`` for each of ``rows``."""
        tx.answers = None
        if tx.db.is_sqlite:
            tx.raw.executemany(self.sqlite, list(rows))
        else:
            tx.pending.extend((self.postgresql, row) for row in rows)

    def _answered(self, tx: Tx, params: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        """This read's rows when a ``prefetch`` block already has them (each answer is given once)."""
        answers = tx.answers
        if answers is None:
            return None
        return answers.pop((id(self), _key(params)), None)

    def rows(self, tx: Tx, **params: Any) -> list[tuple[Any, ...]]:
        answered = self._answered(tx, params)
        if answered is not None:
            return answered
        return self._cursor(tx, params).fetchall()

    def one(self, tx: Tx, **params: Any) -> tuple[Any, ...] | None:
        answered = self._answered(tx, params)
        if answered is not None:
            return answered[0] if answered else None
        return self._cursor(tx, params).fetchone()

    def one_row(self, tx: Tx, **params: Any) -> tuple[Any, ...]:
        """The row a statement always returns (an aggregate, an upsert's ``RETURNING``)."""
        row = self.one(tx, **params)
        if row is None:
            raise RuntimeError("the statement returned no row")
        return row

    def scalar(self, tx: Tx, **params: Any) -> Any:
        row = self.one(tx, **params)
        return None if row is None else row[0]

    def run(self, tx: Tx, **params: Any) -> int:
        """Execute; returns the number of rows changed."""
        tx.answers = None  # a write: what was read ahead may no longer be what a read would see
        return self._cursor(tx, params).rowcount

    def many(self, tx: Tx, rows: Iterable[Mapping[str, Any]] | Sequence[Mapping[str, Any]]) -> None:
        tx.answers = None
        sql = self.sqlite if tx.db.is_sqlite else self.postgresql
        raw = tx.raw
        if tx.db.is_sqlite:
            raw.executemany(sql, list(rows))
        else:
            driver = cast("psycopg.Connection[Any]", raw)
            waiting = list(tx.pending)
            tx.pending.clear()
            # psycopg's executemany is a pipeline of its own (it rides one already open): the waiting
            # writes go first in it.
            with driver.pipeline() if waiting and pipeline_supported() else nullcontext(), driver.cursor() as cur:
                for text, values in waiting:
                    cur.execute(text, values)
                cur.executemany(sql, list(rows))


def _key(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


@contextmanager
def prefetch(tx: Tx, calls: Sequence[tuple[Statement, Mapping[str, Any]]]) -> Iterator[None]:
    """Within the block, these reads are answered from one round trip made now (PostgreSQL; SQLite:
    nothing is read ahead), each to the first identical call (same statement, same parameters).

    For a path whose next reads do not depend on each other: the server runs them now, after
    everything asked before (a lock taken, a pending write), as it would have a moment later. The
    first write through a ``Statement`` (``run``, ``defer``, ``many``) drops what is left, so no read
    is answered from before the transaction's own write. Writes through SQLAlchemy are not seen:
    keep the block to the hot path's own statements.
    """
    if tx.db.is_sqlite:
        yield
        return
    done = together(tx, calls)
    tx.answers = {(id(statement), _key(params)): d.rows for (statement, params), d in zip(calls, done)}
    try:
        yield
    finally:
        tx.answers = None


class Done(NamedTuple):
    """What one statement of a batch gave: its rows (none for a write without RETURNING) and its row count."""

    rows: list[tuple[Any, ...]]
    rowcount: int


def together(tx: Tx, calls: Sequence[tuple[Statement, Mapping[str, Any]]]) -> list[Done]:
    """Run statements in one round trip (PostgreSQL: psycopg's pipeline mode), in order; what each gave.

    The server runs them one after the other, as if sent one by one: a lock taken by one is held
    when the next runs, and a setting one makes is in force for the next. Use it for statements
    whose parameters do not depend on each other's results. An error in one fails the batch (and,
    on PostgreSQL, the transaction, as it would have anyway). SQLite runs them one by one.
    """
    if tx.db.is_sqlite or not pipeline_supported():
        out = []
        for statement, params in calls:
            cursor = statement._cursor(tx, params)
            out.append(Done(cursor.fetchall() if cursor.description is not None else [], cursor.rowcount))
        return out
    # Reads a ``prefetch`` block has answered already are not asked again.
    answered = [statement._answered(tx, params) for statement, params in calls]
    asked = [(i, call) for i, call in enumerate(calls) if answered[i] is None]
    out = [Done(rows, len(rows)) if rows is not None else Done([], 0) for rows in answered]
    if not asked and not tx.pending:
        return out
    raw = cast("psycopg.Connection[Any]", tx.raw)
    waiting = list(tx.pending)
    tx.pending.clear()
    with raw.pipeline():
        for sql, values in waiting:
            raw.execute(sql, values)
        cursors = [(i, raw.execute(statement.postgresql, params)) for i, (statement, params) in asked]
    for i, c in cursors:
        out[i] = Done(c.fetchall() if c.description is not None else [], c.rowcount)
    return out
