"""The test fixtures' isolation: every test gets a database nobody else has written to.

tests/conftest.py hands each test a fresh copy of the migrated template (a file copy on SQLite, a
``CREATE DATABASE … TEMPLATE`` copy made ahead of need on PostgreSQL). Two tests write the same
person and each first checks the other's write is not there, so whichever runs second, in any order,
proves its database was not the other's (under pytest-xdist both run on one worker: ``--dist loadscope``
sends a module's tests to one worker, and each worker has databases of its own).
"""

from __future__ import annotations

import pytest

from bastion.services import users
from factories import make_user, make_world, system

EMAIL = "isolation-probe@example.com"


@pytest.mark.parametrize("writer", ["first", "second"])
def test_a_write_in_one_test_is_absent_from_the_next(rt, database_url, writer):
    assert users.find_user_by_email(system(rt), EMAIL) is None, f"a previous test's write is visible at {database_url}"
    make_user(rt, EMAIL)
    assert users.find_user_by_email(system(rt), EMAIL) is not None


@pytest.fixture
def pg_copy(pg_databases):
    from benchmarks.servers import APP_ROLE, as_role

    from environment import pg_url

    name = pg_databases.take()
    yield name, as_role(pg_url(name), APP_ROLE)
    pg_databases.give_back(name)


def _owner(name: str):
    import psycopg

    from environment import pg_url

    return psycopg.connect(pg_url(name), autocommit=True)


def test_a_reset_postgres_copy_has_none_of_the_last_tests_rows(pg_databases, pg_copy, tmp_path):
    from bastion.services.runtime import Runtime
    from environment import make_settings

    name, url = pg_copy
    with _owner(name) as conn:
        fresh = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for (t,) in conn.execute(_tables())}
    rt = Runtime.open(make_settings(tmp_path, url), migrate_schema="never")
    try:
        make_user(rt, EMAIL)
        make_world(rt)
    finally:
        rt.close()
    with _owner(name) as conn:
        written = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for (t,) in conn.execute(_tables())}
    assert written != fresh
    assert pg_databases.reset(name)
    with _owner(name) as conn:
        reset = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for (t,) in conn.execute(_tables())}
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    assert reset == fresh
    rt = Runtime.open(make_settings(tmp_path / "again", url), migrate_schema="never")
    try:
        assert users.find_user_by_email(system(rt), EMAIL) is None
    finally:
        rt.close()


@pytest.mark.parametrize(
    "change",
    [
        "CREATE TABLE stray (n int)",
        "ALTER TABLE tasks DISABLE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS {policy} ON tasks",
        "GRANT ALL ON tasks TO PUBLIC",
        "UPDATE alembic_version SET version_num = 'changed'",
    ],
)
def test_a_postgres_copy_whose_schema_changed_is_not_reused(pg_databases, pg_copy, change):
    name, _ = pg_copy
    with _owner(name) as conn:
        policy = conn.execute("SELECT polname FROM pg_policy WHERE polrelid = 'tasks'::regclass LIMIT 1").fetchone()[0]
        conn.execute(change.format(policy=policy))
    if change.startswith("UPDATE"):  # rows, not schema: the reset puts the template's row back
        assert pg_databases.reset(name)
        with _owner(name) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] != "changed"
    else:
        assert not pg_databases.reset(name)


def _tables() -> str:
    return "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
