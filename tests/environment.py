"""The test environment: which databases are reachable, and settings for a test's data directory.

PostgreSQL is used when ``BASTION_TEST_DATABASE_URL`` names a server, or one
answers on 127.0.0.1:5432 (trust auth, database ``test``). Without one, the
PostgreSQL variants skip with the reason — except under ``CI=true``, where a
missing server fails the run.

Roles, as docs/security.md deploys Bastion: the URL above (``postgres``) is the
administrator and the owner of every test database — it creates them and runs
``bastion init --app-role bastion_app`` on the template. Everything the tests run
(runtimes, the CLI, servers) connects as ``bastion_app``, an ordinary role that
row-level security applies to. A test that needs the owner asks for
``owner_url`` and says why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.settings import Settings

MASTER_KEY = "11" * 32
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("BASTION_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # any failure means "not usable here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}: {exc}".splitlines()[0]


PG_PROBLEM = pg_reachable()


def require_postgres() -> None:
    if PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"CI must run the PostgreSQL tests: {PG_PROBLEM}")
        pytest.skip(PG_PROBLEM)


def pg_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


def owner_url(url: str) -> str:
    """The owner's URL of a test database (migrations, pg_dump/pg_restore: see docs/security.md)."""
    from sqlalchemy.engine import make_url

    return pg_url(make_url(url).database)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def make_settings(tmp_path: Path, database_url: str | None, **extra) -> Settings:
    # No job runner thread in the test apps: a test runs the jobs it submits (services/job_runner.py).
    extra.setdefault("job_workers", 0)
    return Settings(data_dir=tmp_path / "data", database_url=database_url, master_key=MASTER_KEY, **extra)
