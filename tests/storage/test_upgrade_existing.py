"""Upgrading an existing database: its tombstones stay readable by whoever deleted them, and the sign-in
counters older versions kept in clear are gone."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from bastion.storage import migrate
from bastion.storage.database import Database
from environment import pg_admin, pg_url


@pytest.fixture
def empty_db(db_kind, tmp_path):
    if db_kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield db
        db.dispose()
        return
    name = f"bastion_m_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE DATABASE {name}")
    db = Database(pg_url(name))
    yield db
    db.dispose()
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_upgrade_keeps_the_deleter_as_reader_and_empties_clear_counters(empty_db):
    migrate.upgrade(empty_db, "0006")
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, is_admin, is_active, created_at, sessions_valid_after) "
                "VALUES ('usr_1', 'owner@example.com', 'o', false, true, 1, 0)"
            )
        )
        for ws, by in (("ws_1", "usr_1"), ("ws_2", "system")):
            conn.execute(
                text(
                    "INSERT INTO workspace_tombstones (workspace_id, deleted_at, deleted_by, final_checkpoint) "
                    "VALUES (:ws, 1, :by, 'note')"
                ),
                {"ws": ws, "by": by},
            )
        conn.execute(
            text(
                "INSERT INTO login_failures (subject, window_start, count) "
                "VALUES ('email:a password typed as an e-mail', 1, 1)"
            )
        )
    migrate.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        readers = conn.execute(text("SELECT workspace_id, user_id FROM workspace_tombstone_readers")).all()
        left = conn.execute(text("SELECT count(*) FROM login_failures")).scalar()
    assert [tuple(r) for r in readers] == [("ws_1", "usr_1")]
    assert left == 0


def test_status_is_empty_then_behind_then_current(empty_db):
    # the answer without Alembic (storage/migrate.py) is only ever "current"; the others are Alembic's
    assert migrate.status(empty_db) == "empty"
    migrate.upgrade(empty_db, "0006")
    assert migrate.status(empty_db) == "behind"
    migrate.upgrade(empty_db)
    assert migrate.status(empty_db) == "current"
