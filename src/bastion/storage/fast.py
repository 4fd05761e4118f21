"""Hot-path statements: SQL run straight on the driver's cursor.

The next/submit loop runs a dozen small statements per request. Building a
SQLAlchemy expression, computing its cache key and wrapping its result costs
about 60 µs each — more than SQLite takes to run them. Statements on the paths
measured by the benchmarks are written once here as SQL text, with named
parameters (``:name``), converted per dialect when defined and executed on the
raw DBAPI connection of the current transaction (same connection, same
transaction, same row-level-security settings as everything else).

The trap: these bypass SQLAlchemy's type processing. Booleans come back as
0/1 from SQLite and as ``bool`` from PostgreSQL (wrap them in ``bool()``), and
every table and column name here must match ``schema.py`` — the storage tests run
every statement on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .database import DriverCursor, Tx

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
        raw = tx.raw
        sql = self.sqlite if tx.db.is_sqlite else self.postgresql
        return raw.execute(sql, params)

    def rows(self, tx: Tx, **params: Any) -> list[tuple[Any, ...]]:
        return self._cursor(tx, params).fetchall()

    def one(self, tx: Tx, **params: Any) -> tuple[Any, ...] | None:
        return self._cursor(tx, params).fetchone()

    def one_row(self, tx: Tx, **params: Any) -> tuple[Any, ...]:
        """The row a statement always returns (an aggregate, an upsert's ``RETURNING``)."""
        row = self._cursor(tx, params).fetchone()
        if row is None:
            raise RuntimeError("the statement returned no row")
        return row

    def scalar(self, tx: Tx, **params: Any) -> Any:
        row = self._cursor(tx, params).fetchone()
        return None if row is None else row[0]

    def run(self, tx: Tx, **params: Any) -> int:
        """Execute; returns the number of rows changed."""
        return self._cursor(tx, params).rowcount

    def many(self, tx: Tx, rows: Iterable[Mapping[str, Any]] | Sequence[Mapping[str, Any]]) -> None:
        sql = self.sqlite if tx.db.is_sqlite else self.postgresql
        raw = tx.raw
        if tx.db.is_sqlite:
            raw.executemany(sql, list(rows))
        else:
            with raw.cursor() as cur:
                cur.executemany(sql, list(rows))
