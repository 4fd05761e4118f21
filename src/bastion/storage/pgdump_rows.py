"""A PostgreSQL dump's rows read without a PostgreSQL server, for ``bastion restore --check``.

A restore check must not restore anything into the deployment's database, and a
check of a PostgreSQL backup should not need a spare server either. ``pg_restore``
without ``--dbname`` writes the dump as an SQL script; with ``--data-only`` that
script is one ``COPY table (columns) FROM stdin;`` block per table, rows in COPY's
text format. This module parses those blocks and loads them into a scratch SQLite
file made from the same schema (``schema.metadata``), so the check reads a
PostgreSQL backup exactly as it reads a SQLite one.

COPY's text format: fields separated by tabs, ``\\N`` for NULL, backslash escapes
(``\\\\``, ``\\t``, ``\\n``, ``\\r``, ``\\b``, ``\\f``, ``\\v``, octal ``\\ddd``, ``\\xhh``);
``bytea`` in its hex form (``\\x0a0b…`` once unescaped); booleans ``t``/``f``.

The trap: only the tables of ``schema.metadata`` (and ``alembic_version``) are
loaded; a table the dump holds that the code does not know is reported, not
guessed at.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, LargeBinary, MetaData, SmallInteger, create_engine

from . import schema
from .dumps import _tool_failed
from ..domain.errors import InvalidInput

_COPY = re.compile(r'^COPY (?:"?(\w+)"?\.)?"?(\w+)"? \((.*)\) FROM stdin;$')
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))")
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
BATCH = 5000


def _unescape(field: str) -> str:
    if "\\" not in field:
        return field

    def one(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return chr(int(m.group(1), 8))
        if m.group(2) is not None:
            return chr(int(m.group(2), 16))
        return _SIMPLE.get(m.group(3), m.group(3))

    return _ESCAPE.sub(one, field)


def _bytea(text: str) -> bytes:
    if not text.startswith("\\x"):
        raise InvalidInput("the dump holds a bytea value not in hex form")
    return bytes.fromhex(text[2:])


def _converter(column: Any) -> Callable[[str], Any]:
    kind = column.type
    if isinstance(kind, LargeBinary):
        return _bytea
    if isinstance(kind, Boolean):
        return lambda v: 1 if v == "t" else 0
    if isinstance(kind, (Integer, BigInteger, SmallInteger)):
        return int
    if isinstance(kind, Float):
        return float
    return str


def _blocks(lines: Iterator[str]) -> Iterator[tuple[str, list[str], Iterator[list[str | None]]]]:
    """(table, columns, rows) for each COPY block; each row's fields unescaped, None for NULL."""

    def rows() -> Iterator[list[str | None]]:
        for line in lines:
            line = line.rstrip("\n")
            if line == "\\.":
                return
            yield [None if f == "\\N" else _unescape(f) for f in line.split("\t")]
        raise InvalidInput("the dump ends inside a table's rows")

    for line in lines:
        m = _COPY.match(line.rstrip("\n"))
        if m:
            block = rows()
            yield m.group(2), [c.strip().strip('"') for c in m.group(3).split(",")], block
            for _ in block:  # a block the caller did not read to its end
                pass


def load_postgresql_dump(copy: Path, target: Path, metadata: MetaData = schema.metadata) -> list[str]:
    """Load the rows of a ``pg_dump`` archive into a new SQLite file ``target`` with the tables of
    ``metadata`` (the data's, or the keyring's); returns the dump's tables it does not know."""
    engine = create_engine(f"sqlite:///{target}")
    metadata.create_all(engine)
    engine.dispose()
    db = sqlite3.connect(target)
    db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    unknown: list[str] = []
    proc = subprocess.Popen(
        ["pg_restore", "--data-only", "--file=-", str(copy)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        with db:
            for table, columns, rows in _blocks(iter(proc.stdout)):
                if table == "alembic_version":
                    db.executemany("INSERT INTO alembic_version VALUES (?)", ([r[0]] for r in rows))
                    continue
                known = metadata.tables.get(table)
                if known is None or any(c not in known.c for c in columns):
                    unknown.append(table)
                    continue
                convert = [_converter(known.c[c]) for c in columns]
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                batch: list[list[Any]] = []
                for row in rows:
                    if len(row) != len(columns):
                        raise InvalidInput(
                            f"the dump's table {table} has a row of {len(row)} fields, not {len(columns)}"
                        )
                    batch.append([None if v is None else f(v) for f, v in zip(convert, row)])
                    if len(batch) >= BATCH:
                        db.executemany(sql, batch)
                        batch.clear()
                if batch:
                    db.executemany(sql, batch)
    except ValueError as exc:
        raise InvalidInput(f"the dump holds a value that does not parse ({exc})") from exc
    finally:
        proc.stdout.close()
        with proc.stderr:
            stderr = proc.stderr.read()
        proc.wait()
        db.close()
    if proc.returncode != 0:
        raise _tool_failed("pg_restore", stderr, proc.returncode)
    return unknown
