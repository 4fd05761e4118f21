"""PostgreSQL: the pool pings a connection only when it has been idle a while (``database.IDLE_PING_S``).

A connection used a moment ago is handed out without a ping (a round trip less per transaction); one
idle past the threshold is pinged, and one the server ended meanwhile is replaced before a request
sees it. One that dies while busy fails that request, as before; the next one gets a new connection.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from benchmarks.pg_path import counting
from sqlalchemy.engine import make_url

from bastion.storage import database
from environment import PG_ADMIN_URL
from factories import add_tasks, make_project

pytestmark = pytest.mark.postgres


def _end_backends(url: str) -> int:
    """End every connection to the test database (as the administrator): what a server restart does."""
    name = make_url(url).database
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert row is not None
    return row[0]


def _working_project(rt, world) -> tuple[str, dict[str, str]]:
    project_id = make_project(rt, world.a.workspace_id, name="Ping", settings={"overlap": 2}).id
    add_tasks(rt, project_id, 4)
    return project_id, {"Authorization": f"Bearer {world.a.tokens['annotator']}"}


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_recently_used_connection_is_not_pinged(rt, client, world):
    project_id, auth = _working_project(rt, world)
    assert client.post(f"/api/v1/projects/{project_id}/next", headers=auth).status_code == 200
    with counting(rt.db.engine) as counts:
        for _ in range(3):
            r = client.post(f"/api/v1/projects/{project_id}/next", headers=auth)  # renews the lease held
            assert r.status_code == 200, r.text
    assert counts.statements[";"] == 0, counts.statements


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_an_idle_connection_is_pinged(rt, client, world, monkeypatch):
    project_id, auth = _working_project(rt, world)
    assert client.post(f"/api/v1/projects/{project_id}/next", headers=auth).status_code == 200
    monkeypatch.setattr(database, "IDLE_PING_S", 0.05)
    time.sleep(0.1)
    with counting(rt.db.engine) as counts:
        assert client.post(f"/api/v1/projects/{project_id}/next", headers=auth).status_code == 200
    assert counts.statements[";"] >= 1, counts.statements


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_connection_ended_while_idle_is_replaced_before_use(rt, client, world, monkeypatch):
    project_id, auth = _working_project(rt, world)
    r = client.post(f"/api/v1/projects/{project_id}/next", headers=auth)
    assert r.status_code == 200, r.text
    task_id = r.json()["id"]
    monkeypatch.setattr(database, "IDLE_PING_S", 0.05)
    assert _end_backends(rt.db.url) >= 1  # the pooled connections, idle now
    time.sleep(0.1)
    r = client.post(f"/api/v1/tasks/{task_id}/annotations", headers=auth, json={"result": {"label": "pos"}})
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/projects/{project_id}/next", headers=auth)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_connection_ended_before_the_threshold_fails_one_request_only(rt, client, world):
    """Not idle long enough to be pinged: the statement that finds it dead fails its request (as a
    connection broken mid-transaction always did), and the pool does not hand that connection out again."""
    project_id, auth = _working_project(rt, world)
    assert client.post(f"/api/v1/projects/{project_id}/next", headers=auth).status_code == 200
    assert _end_backends(rt.db.url) >= 1
    first = client.post(f"/api/v1/projects/{project_id}/next", headers=auth)
    assert first.status_code == 500, first.text
    r = client.post(f"/api/v1/projects/{project_id}/next", headers=auth)
    assert r.status_code == 200, r.text
