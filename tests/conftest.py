"""Shared fixtures: a fresh database per test, on SQLite and (when reachable) PostgreSQL.

PostgreSQL is used when ``BASTION_TEST_DATABASE_URL`` names a server, or one
answers on 127.0.0.1:5432 (trust auth, database ``test``). Without one, the
PostgreSQL variants skip with the reason — except under ``CI=true``, where a
missing server fails the run: CI must exercise both databases.

Each test gets its own database, copied from a template migrated once per
session (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from bastion.settings import Settings

MASTER_KEY = "11" * 32
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("BASTION_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # any failure means "not usable here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}: {exc}".splitlines()[0]


_PG_PROBLEM = _pg_reachable()


def require_postgres() -> None:
    if _PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"CI must run the PostgreSQL tests: {_PG_PROBLEM}")
        pytest.skip(_PG_PROBLEM)


def _pg_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from bastion.storage import migrate
    from bastion.storage.database import Database

    path = tmp_path_factory.mktemp("template") / "bastion.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template():
    require_postgres()
    from bastion.storage import migrate
    from bastion.storage.database import Database

    name = f"bastion_tpl_{os.getpid()}"
    _pg_admin(f"DROP DATABASE IF EXISTS {name}")
    _pg_admin(f"CREATE DATABASE {name}")
    db = Database(_pg_url(name))
    migrate.upgrade(db)
    db.dispose()
    yield name
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def make_settings(tmp_path: Path, database_url: str | None, **extra) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, master_key=MASTER_KEY, **extra)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_kind(request) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture
def database_url(db_kind, tmp_path, request):
    if db_kind == "sqlite":
        target = tmp_path / "data" / "bastion.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"bastion_t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(name)
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def rt(settings):
    from bastion.services.runtime import Runtime

    runtime = Runtime.open(settings, migrate_schema="never")
    yield runtime
    runtime.close()


@pytest.fixture
def world(rt):
    """Two workspaces with people in every role (see tests/factories.py)."""
    from factories import make_world

    return make_world(rt)


@pytest.fixture
def client(rt):
    from starlette.testclient import TestClient

    from bastion.web.app import create_app

    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c
