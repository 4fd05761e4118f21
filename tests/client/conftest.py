"""A real ``bastion serve`` for the client's tests, one per database kind and test module.

The server runs as a subprocess on 127.0.0.1 (benchmarks/servers.py starts it), on a copy of
the migrated SQLite template or a database made from the PostgreSQL template, connecting as
the app role (row-level security applies). A platform admin and an annotator, with their
tokens, are made before it starts; everything else the tests make through the client, each
in a workspace of its own.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass

import pytest
from benchmarks.servers import APP_ROLE, Server, as_role

from bastion.services.runtime import Runtime
from environment import MASTER_KEY, make_settings, pg_admin, pg_url, require_postgres
from factories import make_token, make_user


@dataclass(frozen=True)
class Served:
    url: str
    admin_token: str
    annotator_token: str
    annotator_email: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    dropped = None
    if request.param == "sqlite":
        target = root / "data" / "bastion.db"
        target.parent.mkdir(parents=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        url = f"sqlite:///{target}"
    else:
        require_postgres()
        template = request.getfixturevalue("pg_template")
        dropped = f"bastion_c_{uuid.uuid4().hex[:12]}"
        pg_admin(f"CREATE DATABASE {dropped} TEMPLATE {template}")
        url = as_role(pg_url(dropped), APP_ROLE)
    rt = Runtime.open(make_settings(root, url), migrate_schema="never")
    try:
        admin = make_user(rt, "admin@example.com", admin=True)
        annotator = make_user(rt, "annotator@example.com")
        tokens = make_token(rt, admin.id), make_token(rt, annotator.id)
    finally:
        rt.close()
    server = Server(root / "data", url, name="client-tests", extra_env={"BASTION_MASTER_KEY": MASTER_KEY})
    server.start()
    try:
        yield Served(server.url, *tokens, "annotator@example.com")
    finally:
        server.stop()
        if dropped:
            pg_admin(f"DROP DATABASE IF EXISTS {dropped} WITH (FORCE)")
