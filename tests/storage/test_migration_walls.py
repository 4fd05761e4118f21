"""Migration 0011 carries every wall over to its holders, on both databases.

A declared edge is held by the workspace its creator owned (by both sides when
that cannot be told); a group's edge by its group — also where a declaration came
first, which the old one-row-per-edge table could not record.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from bastion.storage import migrate
from bastion.storage.database import Database
from environment import pg_admin, pg_url

ROWS = """
INSERT INTO users (id, email, created_at) VALUES ('usr_a', 'a@x', 0), ('usr_c', 'c@x', 0), ('usr_both', 'both@x', 0);
INSERT INTO workspaces (id, name, created_at) VALUES ('ws_a', 'A', 0), ('ws_b', 'B', 0), ('ws_c', 'C', 0), ('ws_d', 'D', 0);
INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES
  ('ws_a', 'usr_a', 'owner', 0), ('ws_c', 'usr_c', 'owner', 0),
  ('ws_c', 'usr_both', 'owner', 0), ('ws_d', 'usr_both', 'owner', 0);
INSERT INTO conflict_groups (id, name, cooling_off_ms, created_at) VALUES ('grp_1', 'Sector', 5, 1);
INSERT INTO conflict_group_members (group_id, workspace_id) VALUES ('grp_1', 'ws_a'), ('grp_1', 'ws_c'), ('grp_1', 'ws_d');
INSERT INTO conflicts (workspace_a, workspace_b, cooling_off_ms, source, created_at, created_by) VALUES
  ('ws_a', 'ws_b', NULL, 'declared', 10, 'usr_a'),
  ('ws_b', 'ws_c', 30, 'declared', 11, 'system'),
  ('ws_c', 'ws_d', NULL, 'declared', 12, 'usr_both'),
  ('ws_a', 'ws_c', 5, 'group:grp_1', 13, 'system');
"""


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


def test_walls_are_carried_over_to_their_holders(empty_db):
    migrate.upgrade(empty_db, "0010")
    with empty_db.engine.begin() as conn:
        if empty_db.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT set_config('app.workspace_ids', '*', true)")
        for statement in filter(str.strip, ROWS.split(";")):
            conn.execute(text(statement))
    migrate.upgrade(empty_db)
    with empty_db.engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT workspace_a, workspace_b, holder, cooling_off_ms, lifts_at "
                "FROM conflict_declarations ORDER BY workspace_a, workspace_b, holder"
            )
        ).all()
        flags = conn.execute(text("SELECT two_person_approval FROM workspaces")).scalars().all()
    assert [tuple(r) for r in rows] == [
        ("ws_a", "ws_b", "ws_a", None, None),  # its creator owned A
        ("ws_a", "ws_c", "group:grp_1", 5, None),
        ("ws_a", "ws_d", "group:grp_1", 5, None),  # every pair of the group, including one never stored
        ("ws_b", "ws_c", "ws_b", 30, None),  # the operator declared it: held by both sides
        ("ws_b", "ws_c", "ws_c", 30, None),
        ("ws_c", "ws_d", "group:grp_1", 5, None),  # the declaration came first; the group holds it too
        ("ws_c", "ws_d", "ws_c", None, None),  # its creator owned both: both sides
        ("ws_c", "ws_d", "ws_d", None, None),
    ]
    assert flags and all(flags)
    from alembic import command

    config = migrate.alembic_config()  # and back: one row per edge again
    with empty_db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
    with empty_db.engine.begin() as conn:
        back = conn.execute(
            text(
                "SELECT workspace_a, workspace_b, cooling_off_ms, source FROM conflicts "
                "ORDER BY workspace_a, workspace_b"
            )
        ).all()
    assert [tuple(r) for r in back] == [
        ("ws_a", "ws_b", None, "declared"),
        ("ws_a", "ws_c", 5, "group:grp_1"),
        ("ws_a", "ws_d", 5, "group:grp_1"),
        ("ws_b", "ws_c", 30, "declared"),
        ("ws_c", "ws_d", None, "declared"),
    ]
