"""Shared fixtures: a fresh database per test, on SQLite and (when reachable) PostgreSQL.

Which databases are reachable is decided in ``environment.py``. Each test gets its own database, copied from a template migrated once per
session (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL). On PostgreSQL the
template is set up by the documented ``bastion init --app-role bastion_app`` as the owner, and
``database_url`` connects as ``bastion_app``: row-level security applies to every test, as in a
deployment.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from bastion.settings import Settings
from environment import PG_ADMIN_URL, make_settings, pg_admin, pg_url, require_postgres


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
    from benchmarks.servers import ensure_app_role, init_database

    name = f"bastion_tpl_{os.getpid()}"
    ensure_app_role(PG_ADMIN_URL)
    pg_admin(f"DROP DATABASE IF EXISTS {name}")
    pg_admin(f"CREATE DATABASE {name}")
    init_database(pg_url(name))  # as the owner, exactly as docs/security.md deploys it
    yield name
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
    from benchmarks.servers import APP_ROLE, as_role

    template = request.getfixturevalue("pg_template")
    name = f"bastion_t_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield as_role(pg_url(name), APP_ROLE)
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
