"""SQLite's bulk insert as one statement (``dialects._sqlite_bulk``): the same rows, types and counts as
``executemany``, conflicts skipped, large batches split, and values JSON cannot carry left to ``executemany``."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bastion.storage import dialects
from bastion.storage.database import Database

COLUMNS = ("k", "b", "n", "r", "flag", "maybe", "label")
SCHEMA = "CREATE TABLE t (k TEXT PRIMARY KEY, b BLOB NOT NULL, n INTEGER, r REAL, flag BOOLEAN, maybe BLOB, label TEXT)"
READ = (
    "SELECT k, b, typeof(b), n, typeof(n), r, typeof(r), flag, typeof(flag), maybe, typeof(maybe), label, "
    "typeof(label) FROM t ORDER BY rowid"
)


def _rows(count: int, prefix: str = "k") -> list[tuple]:
    return [
        (
            f"{prefix}{i}",
            bytes([i % 256]) * (i % 7),  # empty blobs too
            i * 1_000_003 - 2**40,
            i / 7,
            i % 2 == 0,
            None if i % 3 else b"\x00\xff" * (i % 4),
            None if i % 4 else 'é ✓ \U0001f600 "quoted" \\ back',
        )
        for i in range(count)
    ]


def _through_bulk(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    statements = dialects._sqlite_bulk("t", COLUMNS, rows, ("k",))
    assert statements is not None
    return sum(conn.execute(sql, params).rowcount for sql, params in statements)


def _through_executemany(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    sql = f"INSERT INTO t ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT (k) DO NOTHING"
    return conn.executemany(sql, rows).rowcount


def _fresh() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(SCHEMA)
    return conn


def test_the_same_rows_and_types_as_executemany():
    rows = _rows(1000)
    bulk, many = _fresh(), _fresh()
    assert _through_bulk(bulk, rows) == _through_executemany(many, rows) == 1000
    assert bulk.execute(READ).fetchall() == many.execute(READ).fetchall()


def test_conflicts_are_skipped_and_not_counted():
    conn = _fresh()
    _through_bulk(conn, _rows(300))
    again = _rows(300)[:100] + _rows(300, prefix="new")
    assert _through_bulk(conn, again) == 300
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 600
    # A duplicate inside one batch: the first stays, as with executemany.
    twice = [("dup", b"first", 1, 1.0, True, None, None), ("dup", b"second", 2, 2.0, False, None, None)] * 200
    assert _through_bulk(conn, twice) == 1
    assert conn.execute("SELECT b FROM t WHERE k = 'dup'").fetchone()[0] == b"first"


def test_a_batch_past_the_byte_bound_is_split(monkeypatch):
    monkeypatch.setattr(dialects, "BULK_MAX_BYTES", 1000)
    rows = [(f"s{i}", bytes([i]) * 300, i, 0.5, True, bytes([i]) * 100, None) for i in range(50)]
    statements = dialects._sqlite_bulk("t", COLUMNS, rows, ("k",))
    assert statements is not None and len(statements) == 25  # two rows (800 bytes) a statement
    conn, many = _fresh(), _fresh()
    assert _through_bulk(conn, rows) == 50
    _through_executemany(many, rows)
    assert conn.execute(READ).fetchall() == many.execute(READ).fetchall()


def test_one_row_larger_than_the_bound_still_goes_in(monkeypatch):
    monkeypatch.setattr(dialects, "BULK_MAX_BYTES", 10)
    conn = _fresh()
    assert _through_bulk(conn, [("big", b"z" * 100, 1, 1.0, True, None, None)]) == 1
    assert conn.execute("SELECT length(b) FROM t").fetchone()[0] == 100


@pytest.mark.parametrize(
    "value, column",
    [
        (float("nan"), "r"),  # JSON has no NaN: it would arrive as NULL
        (float("inf"), "r"),
        (2**63, "n"),  # past 64 bits
        (-(2**63) - 1, "n"),
        ("a\x00b", "label"),  # NUL inside text
        (bytearray(b"x"), "b"),  # another buffer type
        ("text", "b"),  # text and blobs mixed in one column
    ],
)
def test_values_json_cannot_carry_fall_back_to_executemany(value, column):
    rows = _rows(300)
    index = COLUMNS.index(column)
    rows[5] = rows[5][:index] + (value,) + rows[5][index + 1 :]
    assert dialects._sqlite_bulk("t", COLUMNS, rows, ("k",)) is None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=12).filter(lambda s: "\x00" not in s),
            st.binary(max_size=40),
            st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.none(),
            st.floats(allow_nan=False, allow_infinity=False) | st.none(),
            st.booleans(),
            st.binary(max_size=10) | st.none(),
            st.text(max_size=20).filter(lambda s: "\x00" not in s) | st.none(),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_any_rows_land_as_executemany_lands_them(rows):
    bulk, many = _fresh(), _fresh()
    assert _through_bulk(bulk, rows) == _through_executemany(many, rows)
    assert bulk.execute(READ).fetchall() == many.execute(READ).fetchall()


def test_the_dialect_uses_one_statement_for_a_batch_and_executemany_for_a_few(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(SCHEMA)
        seen: list[str] = []

        def trace(tx) -> None:
            driver = tx.conn.connection.driver_connection
            driver.set_trace_callback(seen.append)

        with db.transaction() as tx:
            trace(tx)
            assert tx.dialect.insert_ignore(tx.conn, "t", COLUMNS, _rows(dialects.BULK_MIN_ROWS), ("k",)) == (
                dialects.BULK_MIN_ROWS
            )
            tx.conn.connection.driver_connection.set_trace_callback(None)
        assert sum("json_each" in s for s in seen) == 1
        assert sum(s.startswith("INSERT") for s in seen) == 1
        seen.clear()
        with db.transaction() as tx:
            trace(tx)
            few = _rows(3, prefix="few")
            assert tx.dialect.insert_ignore(tx.conn, "t", COLUMNS, few, ("k",)) == 3
            tx.conn.connection.driver_connection.set_trace_callback(None)
        assert not any("json_each" in s for s in seen)
        with db.transaction(write=False) as tx:
            assert tx.conn.execute(text("SELECT count(*) FROM t")).scalar() == dialects.BULK_MIN_ROWS + 3
    finally:
        db.dispose()


def test_rows_carry_only_what_differs():
    """A column with one value in every row is a parameter; blobs of one width are sliced by position;
    blobs of several widths by offset and length; the rest is read from each row's JSON."""
    rows = [(f"k{i}", bytes([i % 256]) * 16, 7, 0.5, True, bytes([i % 256]) * (i % 3 + 1), None) for i in range(300)]
    statements = dialects._sqlite_bulk("t", COLUMNS, rows, ("k",))
    assert statements is not None and len(statements) == 1
    sql, params = statements[0]
    select = sql.split(" SELECT ", 1)[1].split(" FROM ", 1)[0]
    assert select == (
        "j.value ->> 0, substr(?1, j.key * 16 + 1, 16), ?2, ?3, ?4, substr(?5, j.value ->> 1, j.value ->> 2), ?6"
    )
    assert params[1:4] == (7, 0.5, True) and params[5] is None
    conn, many = _fresh(), _fresh()
    assert _through_bulk(conn, rows) == _through_executemany(many, rows) == 300
    assert conn.execute(READ).fetchall() == many.execute(READ).fetchall()
