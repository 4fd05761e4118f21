"""Model endpoints and the chat-completions client, on both databases, against tests/model_server.py.

Invariants tried: the API key never comes back (answers, audit log); another workspace's
endpoint does not exist for anyone outside it, in every role; only owners change them;
every call — answered, refused, failed, streamed, aborted — is in the workspace's log
with a hash of the messages, never their text.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from bastion.access import WallDenied
from bastion.domain.completions import Completion, messages_digest
from bastion.domain.egress import EgressRefused
from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied, RemoteError, RemoteTimeout
from bastion.services import audit, completions, model_endpoints, queue, workforce, workspaces
from bastion.services.egress import Limits
from bastion.storage import schema
from factories import ROLES, as_user, make_side, make_user, operator_tx, system
from model_server import model_server, reply_for, served  # noqa: F401  (fixtures)

KEY = "sk-test-0123456789abcdef"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Secret prompt wörds here"}]


def add(rt, side, served, **overrides):
    values = {
        "name": "lab model",
        "base_url": served.url(),
        "default_model": "lab-7b",
        "allowed_hosts": [f"127.0.0.1:{served.port}"],
        "api_key": KEY,
    }
    values.update(overrides)
    return model_endpoints.create_endpoint(side.ctx(rt, "owner"), side.workspace_id, **values)


def calls(rt, side) -> list[dict]:
    items = audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]
    return [e for e in items if e["action"] == "model.called"]


def test_create_list_update_delete_and_the_key_never_comes_back(rt, served):
    side = make_side(rt, "m", n_tasks=1)
    made = add(rt, side, served)
    assert made["has_api_key"] is True and "api_key" not in made and KEY not in json.dumps(made)
    assert made["allowed_hosts"] == [f"127.0.0.1:{served.port}"]
    listed = model_endpoints.list_endpoints(side.ctx(rt, "auditor"), side.workspace_id)
    assert [e["id"] for e in listed] == [made["id"]] and KEY not in json.dumps(listed)
    # sealed at rest: the row holds no plaintext key
    with operator_tx(rt, write=False) as tx:
        stored = tx.execute(select(schema.model_endpoints.c.api_key)).scalar_one()
    assert KEY.encode() not in stored
    changed = model_endpoints.update_endpoint(side.ctx(rt, "owner"), made["id"], name="renamed", api_key=None)
    assert changed["name"] == "renamed" and changed["has_api_key"] is False
    model_endpoints.delete_endpoint(side.ctx(rt, "owner"), made["id"])
    with pytest.raises(NotFound):
        model_endpoints.get_endpoint(side.ctx(rt, "owner"), made["id"])
    log = json.dumps(audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"])
    for action in ("model_endpoint.created", "model_endpoint.updated", "model_endpoint.deleted"):
        assert action in log
    assert KEY not in log


def test_bad_input_is_named_and_nothing_is_written(rt, served):
    side = make_side(rt, "bad", n_tasks=1)
    cases = [
        ({"base_url": f"http://elsewhere.example:{served.port}/v1"}, "not on the allow-list"),
        ({"base_url": f"http://u:p@127.0.0.1:{served.port}/v1"}, "user name or password"),
        ({"base_url": "ftp://127.0.0.1/v1"}, "http and https"),
        ({"allowed_hosts": ["*.example.com"]}, "wildcards"),
        ({"allowed_hosts": "127.0.0.1"}, "list"),
        ({"api_key": "has space"}, "api_key"),
        ({"name": ""}, "name"),
        ({"default_model": ""}, "model"),
    ]
    for overrides, words in cases:
        with pytest.raises(InvalidInput, match=words):
            add(rt, side, served, **overrides)
    assert model_endpoints.list_endpoints(side.ctx(rt, "owner"), side.workspace_id) == []
    add(rt, side, served)
    with pytest.raises(InvalidInput, match="already has"):
        add(rt, side, served)


def test_another_workspaces_endpoint_does_not_exist(rt, served):
    a = make_side(rt, "a", n_tasks=1)
    b = make_side(rt, "b", n_tasks=1)
    theirs = add(rt, b, served)["id"]
    for role in ROLES:
        _refused_everything(rt, a.ctx(rt, role), b, theirs, served)
    assert served.requests == [] and calls(rt, b) == []
    assert model_endpoints.get_endpoint(b.ctx(rt, "owner"), theirs)["name"] == "lab model"


def _refused_everything(rt, ctx, b, theirs, served):
    for attempt in (
        lambda: model_endpoints.get_endpoint(ctx, theirs),
        lambda: model_endpoints.update_endpoint(ctx, theirs, name="x"),
        lambda: model_endpoints.delete_endpoint(ctx, theirs),
        lambda: completions.complete(ctx, theirs, MESSAGES),
        lambda: completions.probe_endpoint(ctx, theirs),
        lambda: model_endpoints.list_endpoints(ctx, b.workspace_id),
        lambda: model_endpoints.create_endpoint(
            ctx,
            b.workspace_id,
            name="n",
            base_url=served.url(),
            default_model="m",
            allowed_hosts=[f"127.0.0.1:{served.port}"],
        ),
    ):
        with pytest.raises(NotFound):
            attempt()


def test_a_walled_off_person_cannot_call_the_competitors_model(rt, served):
    a = make_side(rt, "wall-a", n_tasks=1)
    b = make_side(rt, "wall-b", n_tasks=1)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    person = make_user(rt, "both.sides@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    assert queue.next_task(as_user(rt, person.id), a.project_id) is not None  # bound to A
    endpoint = add(rt, b, served)["id"]
    with pytest.raises(WallDenied):
        completions.complete(as_user(rt, person.id), endpoint, MESSAGES)
    assert served.requests == [] and calls(rt, b) == []
    log = audit.list_entries(b.ctx(rt, "owner"), b.workspace_id, limit=1000)["items"]
    assert any(e["action"] == "wall.denied" and e["actor"] == person.id for e in log)


def test_roles(rt, served):
    side = make_side(rt, "roles", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    for role in ("manager", "reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            model_endpoints.update_endpoint(side.ctx(rt, role), endpoint, name="x")
        with pytest.raises(PermissionDenied):
            model_endpoints.delete_endpoint(side.ctx(rt, role), endpoint)
        with pytest.raises(PermissionDenied):
            completions.probe_endpoint(side.ctx(rt, role), endpoint)
    for role in ("reviewer", "annotator"):
        with pytest.raises(PermissionDenied):
            model_endpoints.list_endpoints(side.ctx(rt, role), side.workspace_id)
    with pytest.raises(PermissionDenied):
        completions.complete(side.ctx(rt, "auditor"), endpoint, MESSAGES)
    for role in ("owner", "manager", "reviewer", "annotator"):
        reply = completions.complete(side.ctx(rt, role), endpoint, MESSAGES)
        assert isinstance(reply, Completion)
    assert len(calls(rt, side)) == 4


def test_a_call_is_answered_and_audited_without_its_text(rt, served):
    side = make_side(rt, "call", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    reply = completions.complete(side.ctx(rt, "annotator"), endpoint, MESSAGES, params={"temperature": 0})
    assert isinstance(reply, Completion)
    assert reply.text == reply_for("lab-7b", MESSAGES) and reply.finish_reason == "stop" and reply.model == "lab-7b"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (6, 4)
    sent = served.requests[0]
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["body"]["messages"] == MESSAGES and sent["body"]["temperature"] == 0
    (entry,) = calls(rt, side)
    details = entry["details"]
    assert entry["target"] == endpoint
    assert (
        details["messages_sha256"]
        == messages_digest(MESSAGES)
        == hashlib.sha256(
            json.dumps(MESSAGES, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    assert (details["prompt_tokens"], details["completion_tokens"], details["outcome"]) == (6, 4, "ok")
    assert details["model"] == "lab-7b" and isinstance(details["latency_ms"], int)
    log = json.dumps(audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"])
    assert "Secret prompt" not in log and KEY not in log and reply.text not in log


def test_streaming(rt, served):
    side = make_side(rt, "stream", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    with completions.complete(side.ctx(rt, "owner"), endpoint, MESSAGES, model="other-model", stream=True) as stream:
        pieces = [d.text for d in stream]
    assert "".join(pieces) == reply_for("other-model", MESSAGES) == stream.text
    assert len([p for p in pieces if p]) == 4 and stream.finish_reason == "stop"
    assert served.requests[0]["body"]["stream"] is True
    (entry,) = calls(rt, side)
    assert entry["details"]["outcome"] == "ok" and entry["details"]["completion_tokens"] == 4
    # a reader that stops early closes the stream: recorded as aborted
    stream = completions.complete(side.ctx(rt, "owner"), endpoint, MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    assert calls(rt, side)[-1]["details"]["outcome"] == "aborted"


FAILURES = [
    ("error-500", False, RemoteError, "http_error", "HTTP 500: failure 500 on demand"),
    ("error-401", True, RemoteError, "http_error", "HTTP 401"),
    ("malformed-json", False, RemoteError, "malformed", "not JSON"),
    ("malformed-sse", True, RemoteError, "malformed", "not JSON"),
    ("no-done", True, RemoteError, "malformed", "without [DONE]"),
    ("redirect", False, EgressRefused, "refused", "elsewhere.example"),
    ("slow", False, RemoteTimeout, "timeout", "did not answer"),
    ("slow-stream", True, RemoteTimeout, "timeout", "stopped answering"),
    ("huge", False, RemoteError, "failed", "bytes"),
]


def test_endpoint_failures_are_clear_errors_and_audited(rt, served):
    side = make_side(rt, "fail", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    limits = Limits(read_seconds=0.4, max_bytes=100_000)
    for i, (model, stream, error, outcome, words) in enumerate(FAILURES):
        with pytest.raises(error) as caught:
            reply = completions.complete(
                side.ctx(rt, "owner"), endpoint, MESSAGES, model=model, stream=stream, limits=limits
            )
            for _ in reply:  # type: ignore[union-attr]
                pass
        assert words in caught.value.message, model
        entry = calls(rt, side)[i]
        assert (entry["details"]["outcome"], entry["details"]["model"]) == (outcome, model)
    assert len(calls(rt, side)) == len(FAILURES)


def test_a_refused_call_never_leaves_and_is_audited(rt, served):
    side = make_side(rt, "ref", n_tasks=1)
    endpoint = add(
        rt, side, served, base_url=f"http://localhost:{served.port}/v1", allowed_hosts=[f"localhost:{served.port}"]
    )
    with pytest.raises(EgressRefused) as caught:
        completions.complete(side.ctx(rt, "owner"), endpoint["id"], MESSAGES)
    assert caught.value.rule == "loopback" and served.requests == []
    (entry,) = calls(rt, side)
    assert (entry["details"]["outcome"], entry["details"]["rule"]) == ("refused", "loopback")


def test_bad_messages_are_refused_before_anything_is_sent(rt, served):
    side = make_side(rt, "msg", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    for messages, words in (
        ([], "non-empty"),
        ([{"role": "wizard", "content": "x"}], "role"),
        ([{"role": "user", "content": 3}], "text"),
        ([{"role": "user", "content": "x", "extra": 1}], "object"),
    ):
        with pytest.raises(InvalidInput, match=words):
            completions.complete(side.ctx(rt, "owner"), endpoint, messages)
    with pytest.raises(InvalidInput, match="not passed"):
        completions.complete(side.ctx(rt, "owner"), endpoint, MESSAGES, params={"api_base": "x"})
    assert served.requests == []


def test_probe_reports_model_latency_and_tokens(rt, served):
    side = make_side(rt, "probe", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    report = completions.probe_endpoint(side.ctx(rt, "owner"), endpoint)
    assert report["model"] == "lab-7b" and report["prompt_tokens"] == 6 and report["completion_tokens"] == 4
    assert isinstance(report["latency_ms"], int) and report["reply"].startswith("echo ")
    assert served.requests[0]["body"]["max_tokens"] == 5
    assert calls(rt, side)[0]["details"]["purpose"] == "probe"


def test_deleting_the_workspace_removes_its_endpoints(rt, served):
    side = make_side(rt, "gone", n_tasks=1)
    endpoint = add(rt, side, served)["id"]
    workspaces.delete_workspace(system(rt), side.workspace_id, break_glass="test")
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(schema.model_endpoints.c.id)).all() == []
    with pytest.raises(NotFound):
        model_endpoints.get_endpoint(system(rt), endpoint)
