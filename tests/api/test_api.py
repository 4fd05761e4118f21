"""The JSON API end to end: auth, errors, import, queue, annotations, export."""

from __future__ import annotations

import orjson
import pytest

from bastion.services import users
from factories import make_side, make_token, make_user, system


def test_authentication_errors(client, rt):
    assert client.get("/api/v1/workspaces").status_code == 401
    r = client.get("/api/v1/workspaces", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = client.get("/api/v1/workspaces", headers={"Authorization": "Bearer bst_nope"})
    assert r.status_code == 401
    user = make_user(rt, "t@example.com")
    secret, token = users.create_token(system(rt), user.id)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    users.revoke_token(system(rt), token.id)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_read_only_tokens_cannot_write(client, rt):
    side = make_side(rt, "ro", n_tasks=1)
    ro = {"Authorization": f"Bearer {make_token(rt, side.users['owner'], scope='read')}"}
    assert client.get(f"/api/v1/projects/{side.project_id}", headers=ro).status_code == 200
    r = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/projects",
        headers=ro,
        json={"name": "x", "config": {"type": "classification", "labels": ["a"]}},
    )
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]


def test_full_round_trip(client, rt):
    side = make_side(rt, "rt", n_tasks=0, settings={"overlap": 1})
    mgr, ann = side.headers("manager"), side.headers("annotator")
    body = b'{"data": {"text": "good"}, "external_id": "g1"}\n{"data": {"text": 1}}\n{"data": {"text": "fine"}}\n'
    r = client.post(
        f"/api/v1/projects/{side.project_id}/tasks",
        content=body,
        headers={**mgr, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 2 and r.json()["rejected"] == [{"line": 2, "error": "data.text: must be a string"}]

    r = client.post(f"/api/v1/projects/{side.project_id}/next", headers=ann)
    assert r.status_code == 200
    task = r.json()
    r = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=ann, json={"result": {"label": "bogus"}})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("result.label")
    r = client.post(
        f"/api/v1/tasks/{task['id']}/annotations", headers=ann, json={"result": {"label": "pos"}, "lead_time_ms": 900}
    )
    assert r.status_code == 201 and r.json()["result"] == {"label": "pos"}
    r = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=ann, json={"result": {"label": "pos"}})
    assert r.status_code == 409
    second = client.post(f"/api/v1/projects/{side.project_id}/next", headers=ann).json()
    assert client.post(f"/api/v1/tasks/{second['id']}/skip", headers=ann).status_code == 204
    assert client.post(f"/api/v1/projects/{side.project_id}/next", headers=ann).status_code == 204

    r = client.get(f"/api/v1/projects/{side.project_id}/export?format=jsonl", headers=mgr)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [orjson.loads(line) for line in r.content.splitlines()]
    assert [row["data"]["text"] for row in rows] == ["good", "fine"]
    assert rows[0]["external_id"] == "g1"
    assert rows[0]["annotations"][0]["result"] == {"label": "pos"}
    assert rows[0]["annotations"][0]["lead_time_ms"] == 900
    r = client.get(f"/api/v1/projects/{side.project_id}/export?format=json&annotated_only=true", headers=mgr)
    assert [row["id"] for row in r.json()] == [task["id"]]
    assert client.get(f"/api/v1/projects/{side.project_id}/export", headers=ann).status_code == 403

    project = client.get(f"/api/v1/projects/{side.project_id}", headers=ann).json()
    assert project["counts"] == {"tasks": 2, "done": 1, "remaining": 1, "annotations": 1, "skips": 1}


def test_import_formats_and_limits(client, rt):
    side = make_side(rt, "fmt", n_tasks=0)
    mgr = side.headers("manager")
    url = f"/api/v1/projects/{side.project_id}/tasks"
    r = client.post(url, headers=mgr, json=[{"data": {"text": "a"}}, {"data": {"text": "b"}}])
    assert r.json()["imported"] == 2
    r = client.post(url, headers={**mgr, "Content-Type": "text/csv"}, content=b"text\nc\nd\n")
    assert r.json()["imported"] == 2
    r = client.post(url, headers={**mgr, "Content-Type": "application/xml"}, content=b"<a/>")
    assert r.status_code == 415
    r = client.post(url, headers={**mgr, "Content-Type": "application/json"}, content=b"{not json")
    assert r.status_code == 200 and r.json()["rejected"][0]["line"] == 1
    r = client.post(
        url + "?strict=true",
        headers={**mgr, "Content-Type": "application/x-ndjson"},
        content=b'{"data": {"text": "e"}}\n{"data": {}}\n',
    )
    assert r.json()["imported"] == 0 and r.json()["rejected_count"] == 1
    r = client.get(f"/api/v1/projects/{side.project_id}/tasks?limit=3", headers=mgr)
    page = r.json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = client.get(
        f"/api/v1/projects/{side.project_id}/tasks?limit=3&cursor={page['next_cursor']}", headers=mgr
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert client.get(f"/api/v1/projects/{side.project_id}/tasks?limit=0", headers=mgr).status_code == 422


def test_body_limit_answers_413(tmp_path, database_url):
    from starlette.testclient import TestClient

    from bastion.services.runtime import Runtime
    from bastion.web.app import create_app
    from environment import make_settings

    rt = Runtime.open(make_settings(tmp_path, database_url, max_body_bytes=1000), migrate_schema="never")
    side = make_side(rt, "big", n_tasks=0)
    with TestClient(create_app(rt)) as client:
        big = b'{"data": {"text": "' + b"x" * 2000 + b'"}}\n'
        r = client.post(
            f"/api/v1/projects/{side.project_id}/tasks",
            content=big,
            headers={**side.headers("manager"), "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

        def chunks():
            yield big[:900]
            yield big[900:]

        r = client.post(
            f"/api/v1/projects/{side.project_id}/tasks",
            content=chunks(),
            headers={**side.headers("manager"), "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 413
    rt.close()


def test_validation_errors_are_422_with_our_shape(client, rt):
    side = make_side(rt, "v", n_tasks=0)
    r = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/projects",
        headers=side.headers("manager"),
        json={"name": "x", "config": {"type": "classification", "labels": ["a"]}, "extra": 1},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input" and "extra: unknown key" in r.json()["error"]["message"]
    r = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/projects",
        headers=side.headers("manager"),
        content=b"{",
    )
    assert r.status_code == 422


def test_cookie_session_api_needs_csrf(client, rt):
    user = make_user(rt, "cookie@example.com", password="correct horse battery")
    side = make_side(rt, "ck", n_tasks=1)
    from bastion.services import workspaces

    workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
    secret, csrf = users.create_session(rt, users.authenticate(rt, "cookie@example.com", "correct horse battery"))
    client.cookies.set("bastion_session", secret)
    assert client.get("/api/v1/me").status_code == 200
    r = client.post(f"/api/v1/projects/{side.project_id}/next")
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = client.post(f"/api/v1/projects/{side.project_id}/next", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    client.cookies.clear()


@pytest.mark.parametrize("path", ["/healthz", "/login", "/api/v1/openapi.json"])
def test_security_headers_everywhere(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_submit_and_next_in_one_step(client, rt):
    side = make_side(rt, "sn", n_tasks=2, settings={"overlap": 1})
    ann = side.headers("annotator")
    first = client.post(f"/api/v1/projects/{side.project_id}/next", headers=ann).json()
    r = client.post(f"/api/v1/tasks/{first['id']}/submit-and-next", headers=ann, json={"result": {"label": "neg"}})
    assert r.status_code == 200
    body = r.json()
    assert body["annotation"]["result"] == {"label": "neg"} and body["next"]["id"] != first["id"]
    r = client.post(f"/api/v1/tasks/{body['next']['id']}/submit-and-next", headers=ann, json={"result": {"label": "x"}})
    assert r.status_code == 422  # a bad result leases nothing and records nothing
    r = client.post(
        f"/api/v1/tasks/{body['next']['id']}/submit-and-next", headers=ann, json={"result": {"label": "pos"}}
    )
    assert r.json()["next"] is None
    assert client.get(f"/api/v1/projects/{side.project_id}", headers=ann).json()["counts"]["annotations"] == 2
