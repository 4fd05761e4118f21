"""The chat widget's routes over HTTP: CSRF, the lease, the stream of events, errors as JSON."""

from __future__ import annotations

import orjson
import pytest

from bastion.services import imports, model_endpoints, queue, users
from factories import as_user, make_project, make_side, make_user, system
from model_server import model_server, reply_for, served  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery"
JSON = {"Accept": "application/json"}


@pytest.fixture
def db_kind() -> str:
    """SQLite only: the routes add HTTP to services/chat.py, whose tests run on both databases."""
    return "sqlite"


def test_turns_stream_only_for_the_holder_with_the_csrf_token(client, rt, served):
    side = make_side(rt, "routes", n_tasks=1)
    endpoint = model_endpoints.create_endpoint(
        side.ctx(rt, "owner"),
        side.workspace_id,
        name="lab",
        base_url=served.url(),
        default_model="lab-7b",
        allowed_hosts=[f"127.0.0.1:{served.port}"],
    )["id"]
    project = make_project(
        rt, side.workspace_id, name="Chat", config={"type": "chat", "models": [{"endpoint": endpoint}]}
    )
    imports.import_tasks(system(rt), project.id, [(1, {"data": {}, "external_id": "c1"})])
    holder = make_user(rt, "holder@example.com", password=PASSWORD)
    other = make_user(rt, "other@example.com", password=PASSWORD)
    from bastion.services import workspaces

    for person in (holder, other):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    task = queue.next_task(as_user(rt, holder.id), project.id)
    url = f"/tasks/{task['id']}/chat"

    def sign_in(person):
        secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
        client.cookies.set("bastion_session", secret)
        return csrf

    csrf = sign_in(other)
    refused = client.post(url + "/turn", json={"content": "hi"}, headers={**JSON, "X-CSRF-Token": csrf})
    assert refused.status_code == 403 and "do not hold this task" in refused.json()["error"]["message"]
    refused = client.get(url, headers=JSON)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"

    csrf = sign_in(holder)
    assert client.get(url, headers=JSON).json()["turns"] == []
    no_token = client.post(url + "/turn", json={"content": "hi"}, headers=JSON)
    assert no_token.status_code == 403 and served.requests == []
    bad = client.post(url + "/turn", content=b"[1", headers={**JSON, "X-CSRF-Token": csrf})
    assert bad.status_code == 422 and bad.json()["error"]["message"] == "body: not valid JSON"
    answer = client.post(url + "/turn", json={"content": "hi"}, headers={**JSON, "X-CSRF-Token": csrf})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    events = [orjson.loads(line) for line in answer.content.splitlines()]
    assert [e["event"] for e in events][:1] == ["start"] and events[-1]["event"] == "turn"
    text = "".join(e["text"] for e in events if e["event"] == "delta")
    assert text == reply_for("lab-7b", [{"role": "user", "content": "hi"}])
    state = client.get(url, headers=JSON).json()
    assert state["version"] == 1 and state["turns"][0]["replies"][0]["content"] == text
    again = client.post(url + "/restart", json={}, headers={**JSON, "X-CSRF-Token": csrf})
    assert again.status_code == 200 and again.json()["turns"] == []
