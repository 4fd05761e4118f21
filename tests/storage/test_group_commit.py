"""SQLite group commit: concurrent writers share commits; each one's failure stays its own."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from bastion.storage.database import Database


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    yield database
    database.dispose()


def _count(db) -> int:
    with db.transaction(write=False) as tx:
        return tx.conn.execute(text("SELECT count(*) FROM t")).scalar()


def test_many_writers_all_durable_and_failures_isolated(db):
    errors, barrier = [], threading.Barrier(40)

    def writer(n: int) -> None:
        barrier.wait()
        try:
            with db.transaction() as tx:
                tx.conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
                if n % 5 == 0:
                    raise ValueError(f"writer {n} fails after writing")
        except ValueError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 8
    with db.transaction(write=False) as tx:
        kept = {row[0] for row in tx.conn.execute(text("SELECT n FROM t"))}
    assert kept == {n for n in range(40) if n % 5}


def test_an_acknowledged_write_is_committed(db):
    with db.transaction() as tx:
        tx.conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    other = Database(db.url)  # another connection, another process's view
    with other.transaction(write=False) as tx:
        assert tx.conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
    other.dispose()


def test_nested_write_transactions_are_refused(db):
    with db.transaction(), pytest.raises(RuntimeError, match="nested write transaction"), db.transaction():
        pass
    assert _count(db) == 0
