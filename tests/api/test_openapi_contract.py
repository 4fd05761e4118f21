"""The OpenAPI document as a contract (web/openapi.py): what a generated client relies on.

Operation ids, the bearer scheme, typed bodies and answers, the import line's
model, 400 for unreadable JSON, ``Location`` on every 201 and the import's
Idempotency-Key. The document is read from the app, so a route added tomorrow
is held to the same rules.
"""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import update

from bastion.domain.tasks import ITEM_KEYS, RENEWED_KEYS, parse_item
from bastion.services import questions
from bastion.storage import schema
from bastion.web.api.models import TaskLine
from factories import make_side, make_token, make_user, operator_tx
from image_samples import PNG

OPERATION_ID = re.compile(r"^[a-z]+(_[a-z]+)+$")
PUBLIC = {"audit_public_key", "health_check"}  # they answer without a token
FREE_FORM = {  # answers whose shape is the data's own (a signed manifest, a report, feedback rows)
    "projects_export_manifest",
    "quality_report",
    "quality_feedback",
}


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_operation_ids_are_readable_and_unique(client):
    spec = client.get("/api/v1/openapi.json").json()
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert OPERATION_ID.match(operation_id) and "api_v1" not in operation_id, operation_id
    assert {
        "tasks_import",
        "tasks_list",
        "tasks_next",
        "projects_create",
        "projects_export",
        "annotations_submit",
        "workspaces_create",
    } <= set(ids)


def test_bearer_auth_is_declared_on_every_authenticated_operation(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    unsecured = set()
    for _, _, op in _operations(spec):
        if op.get("security") == [{"bearerAuth": []}]:
            continue
        assert "security" not in op, op["operationId"]
        unsecured.add(op["operationId"])
    assert unsecured == PUBLIC
    assert client.get("/api/v1/audit/public-key").status_code == 200
    assert client.get("/api/v1/workspaces").status_code == 401
    assert not any(path.startswith(("/login", "/projects/", "/workspaces/")) for path in spec["paths"])


def test_every_json_answer_is_typed(client):
    spec = client.get("/api/v1/openapi.json").json()
    untyped = []
    for path, method, op in _operations(spec):
        for status, response in op["responses"].items():
            schema_ = response.get("content", {}).get("application/json", {}).get("schema")
            if not status.startswith("2") or schema_ is None or op["operationId"] in FREE_FORM:
                continue
            item = schema_.get("items", schema_) if schema_.get("type") == "array" else schema_
            if "$ref" not in item:
                untyped.append(f"{method.upper()} {path} {status}: {schema_}")
    assert not untyped, "\n".join(untyped)


def test_import_body_is_described_by_the_task_line_model(client):
    spec = client.get("/api/v1/openapi.json").json()
    body = spec["paths"]["/api/v1/projects/{project_id}/tasks"]["post"]["requestBody"]
    assert body["required"]
    content = body["content"]
    assert content["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/TaskLine"}
    assert {"application/x-ndjson", "text/csv", "application/vnd.apache.parquet"} <= content.keys()
    line = spec["components"]["schemas"]["TaskLine"]
    assert set(line["properties"]) == ITEM_KEYS | RENEWED_KEYS and line["required"] == ["data"]
    assert line["additionalProperties"] is False
    predictions = line["properties"]["predictions"]["anyOf"]
    assert {"type": "array", "items": {"type": "object", "additionalProperties": True}} in predictions


LINES = [
    ({"data": {"text": "a"}}, True),
    ({"data": {"text": "a"}, "external_id": "e-1", "meta": {"k": 1}, "priority": 5}, True),
    ({"data": {}, "external_id": 7}, True),
    ({"data": {}, "predictions": [{"label": "pos"}]}, True),
    ({"data": {}, "predictions": {"label": "pos"}}, True),
    ({"data": {}, "gold": {"label": "pos"}}, True),
    ({"data": {}, "priority": 1000}, True),
    ({"data": {}, "annotations": []}, True),
    ({"data": {}, "annotations": {}}, False),
    ({"data": {}, "id": "tsk_1", "annotation_count": 2, "done": True}, True),
    ({"text": "a"}, False),
    ({"data": "a"}, False),
    ({"data": {}, "external_id": ""}, False),
    ({"data": {}, "external_id": "x" * 501}, False),
    ({"data": {}, "meta": []}, False),
    ({"data": {}, "predictions": "pos"}, False),
    ({"data": {}, "priority": 1001}, False),
    ({"data": {}, "priority": True}, False),
    ({"data": {}, "priority": 1.5}, False),
    ({"data": {}, "gold": "pos"}, False),
]


@pytest.mark.parametrize("line,valid", LINES)
def test_task_line_model_and_the_import_agree(line, valid):
    """The model documents what parse_item (the import's fast path) accepts, line for line."""
    assert _accepts(parse_item, line) == _accepts(TaskLine.model_validate, line) == valid


def _accepts(validate, line) -> bool:
    try:
        validate(line)
    except ValueError:  # pydantic's ValidationError is one
        return False
    return True


def test_malformed_json_answers_400_and_invalid_json_422(client, rt):
    side = make_side(rt, "json", n_tasks=0)
    url = f"/api/v1/workspaces/{side.workspace_id}/projects"
    headers = {**side.headers("owner"), "Content-Type": "application/json"}
    r = client.post(url, headers=headers, content=b'{"name": "P", "config": ')
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request" and "not valid JSON" in r.json()["error"]["message"]
    r = client.post(url, headers=headers, content=b'{"name": "P"}')
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


def _created_calls(rt, client, side):
    """One valid call per 201 operation: (operation id, headers, method, url, request kwargs)."""
    admin = make_user(rt, "admin.loc@example.com", admin=True)
    root = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    owner, ann = side.headers("owner"), side.headers("annotator")
    other = client.post("/api/v1/workspaces", headers=root, json={"name": "Other"}).json()["id"]
    task = client.post(f"/api/v1/projects/{side.project_id}/next", headers=ann).json()["id"]
    annotation = client.post(
        f"/api/v1/tasks/{task}/submit-and-next", headers=ann, json={"result": {"label": "pos"}}
    ).json()["annotation"]["id"]
    group = client.post("/api/v1/conflict-groups", headers=root, json={"name": "Sector"}).json()["id"]
    ws, user = side.workspace_id, side.users["annotator"]
    endpoint = client.post(
        f"/api/v1/workspaces/{ws}/model-endpoints",
        headers=owner,
        json={
            "name": "pre",
            "base_url": "http://127.0.0.1:9/v1",
            "default_model": "m",
            "allowed_hosts": ["127.0.0.1:9"],
        },
    ).json()["id"]
    client.patch(
        f"/api/v1/projects/{side.project_id}", headers=owner, json={"settings": {"prelabel": {"endpoint": endpoint}}}
    )
    client.put(f"/api/v1/workspaces/{ws}/pay/settings", headers=owner, json={"currency": "EUR"})
    return {
        "pay_rates_set": (
            owner,
            f"/api/v1/workspaces/{ws}/pay/rates",
            {"json": {"task_type": "classification", "per_task": 1}},
        ),
        "pay_statements_create": (
            owner,
            f"/api/v1/workspaces/{ws}/pay/statements",
            {"json": {"user_id": user, "period_start": 0, "period_end": 1}},
        ),
        "jobs_submit_prelabel": (owner, f"/api/v1/projects/{side.project_id}/prelabel", {"json": {}}),
        "workspaces_create": (root, "/api/v1/workspaces", {"json": {"name": "New"}}),
        "workspaces_add_member": (
            owner,
            f"/api/v1/workspaces/{ws}/members",
            {"json": {"user": "admin.loc@example.com", "role": "auditor"}},
        ),
        "projects_create": (
            owner,
            f"/api/v1/workspaces/{ws}/projects",
            {"json": {"name": "P2", "config": {"type": "classification", "labels": ["a"]}}},
        ),
        "projects_create_from_label_studio": (
            owner,
            f"/api/v1/workspaces/{ws}/projects/from-label-studio",
            {
                "json": {
                    "name": "P3",
                    "label_config": '<View><Text name="text" value="$text"/>'
                    '<Choices name="label" toName="text"><Choice value="a"/></Choices></View>',
                }
            },
        ),
        "annotations_submit": (
            ann,
            f"/api/v1/tasks/{_next(client, side)}/annotations",
            {"json": {"result": {"label": "neg"}}},
        ),
        "people_create_token": (owner, "/api/v1/tokens", {"json": {"name": "ci"}}),
        "credentials_add_workspace": (
            owner,
            f"/api/v1/workspaces/{ws}/credentials",
            {"json": {"person": "reviewer.loc@example.com", "kind": "nda", "name": "NDA", "issuer": "Client"}},
        ),
        "credentials_add_deployment": (
            root,
            "/api/v1/credentials",
            {"json": {"person": "reviewer.loc@example.com", "kind": "clearance", "name": "SC", "issuer": "Gov"}},
        ),
        "jobs_submit": (
            owner,
            f"/api/v1/workspaces/{ws}/jobs",
            {"json": {"kind": "search.reindex", "params": {"project_id": side.project_id}}},
        ),
        "people_create_user": (root, "/api/v1/users", {"json": {"email": "new.loc@example.com"}}),
        "files_upload": (
            owner,
            f"/api/v1/projects/{side.project_id}/files",
            {"files": {"file": ("a.png", io.BytesIO(PNG), "image/png")}},
        ),
        "workforce_add_conflict": (owner, f"/api/v1/workspaces/{ws}/conflicts", {"json": {"competitor": other}}),
        "workforce_add_exclusion": (
            owner,
            f"/api/v1/workspaces/{ws}/exclusions",
            {"json": {"org": "Acme & Co", "kind": "investor"}},
        ),
        "workforce_create_group": (root, "/api/v1/conflict-groups", {"json": {"name": "Sector 2"}}),
        "workforce_add_group_member": (
            root,
            f"/api/v1/conflict-groups/{group}/members",
            {"json": {"workspace_id": other}},
        ),
        "workforce_add_affiliation": (
            root,
            f"/api/v1/users/{user}/affiliations",
            {"json": {"org": "Beta", "kind": "employer"}},
        ),
        "workforce_grant_skill": (root, f"/api/v1/users/{user}/skills", {"json": {"skill": "law:2"}}),
        "quality_review": (owner, f"/api/v1/annotations/{annotation}/review", {"json": {"decision": "accept"}}),
        "need_to_know_create_canary": (
            owner,
            f"/api/v1/projects/{side.project_id}/canaries",
            {"json": {"data": {"text": "{name} {figure} {date} {place}"}}},
        ),
        "model_endpoints_create": (
            owner,
            f"/api/v1/workspaces/{ws}/model-endpoints",
            {
                "json": {
                    "name": "lab",
                    "base_url": "http://127.0.0.1:9/v1",
                    "default_model": "m",
                    "allowed_hosts": ["127.0.0.1:9"],
                }
            },
        ),
        "webhooks_create": (
            owner,
            f"/api/v1/workspaces/{ws}/webhooks",
            {"json": {"url": "http://127.0.0.1:9/h", "events": ["task.completed"], "allowed_hosts": ["127.0.0.1:9"]}},
        ),
        "approvals_request": (
            owner,
            f"/api/v1/workspaces/{ws}/approvals",
            {"json": {"kind": "workspace.delete", "params": {}, "reason": "x"}},
        ),
        "guidelines_create_version": (
            owner,
            f"/api/v1/projects/{side.project_id}/guidelines",
            {"json": {"body": "# Rules\n\nBe kind.\n"}},
        ),
        "guidelines_promote_question": (
            owner,
            f"/api/v1/projects/{side.project_id}/questions/{_answered_question(rt, client, side)}/promote",
            {"json": {"question": "Which label?", "answer": "The first.", "requires_ack": False}},
        ),
    }


def _answered_question(rt, client, side) -> str:
    asked = questions.ask_question(side.ctx(rt, "annotator"), side.project_id, _next(client, side), "Which one?")
    questions.answer_question(side.ctx(rt, "owner"), side.project_id, asked["id"], "The first.")
    return asked["id"]


def _next(client, side) -> str:
    return client.post(f"/api/v1/projects/{side.project_id}/next", headers=side.headers("annotator")).json()["id"]


def test_every_201_carries_its_location(client, rt):
    side = make_side(rt, "loc", n_tasks=4)
    spec = client.get("/api/v1/openapi.json").json()
    creating = {op["operationId"]: (path, method) for path, method, op in _operations(spec) if "201" in op["responses"]}
    for operation_id in creating:
        headers = spec["paths"][creating[operation_id][0]][creating[operation_id][1]]["responses"]["201"]["headers"]
        assert "Location" in headers, operation_id
    calls = _created_calls(rt, client, side)
    assert set(calls) == set(creating), "add a valid call for each 201 operation to _created_calls"
    gets = {
        re.compile("^" + re.sub(r"{\w+}", "[^/?]+", path) + "$")
        for path, item in spec["paths"].items()
        if "get" in item
    }
    resolvable = 0
    for operation_id, (headers, url, kwargs) in calls.items():
        r = client.post(url, headers=headers, **kwargs)
        assert r.status_code == 201, f"{operation_id}: {r.status_code} {r.text[:200]}"
        location = r.headers.get("location", "")
        assert location.startswith("/api/v1/"), f"{operation_id}: {location!r}"
        if any(g.match(location.split("?")[0]) for g in gets):
            found = client.get(location, headers=headers)  # (a canary is read with a two-person approval)
            assert found.status_code == 200 or found.json()["error"]["code"] == "approval_required", operation_id
            resolvable += 1
    assert resolvable >= 5


def _import(
    client,
    side,
    body: bytes,
    *,
    key: str | None,
    role: str = "owner",
    media="application/x-ndjson",
    strict: bool = False,
):
    headers = {**side.headers(role), "Content-Type": media}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/projects/{side.project_id}/tasks",
        headers=headers,
        content=body,
        params={"strict": "true"} if strict else None,
    )


def _task_count(client, side) -> int:
    return client.get(f"/api/v1/projects/{side.project_id}", headers=side.headers("owner")).json()["counts"]["tasks"]


@pytest.mark.parametrize(
    "media,body",
    [
        ("application/x-ndjson", b'{"data": {"text": "a"}}\n{"data": {"text": "b"}}\n{"text": "bad"}\n'),
        ("application/json", b'[{"data": {"text": "a"}}, {"data": {"text": "b"}}, {"text": "bad"}]'),
    ],
)
def test_an_import_sent_again_with_its_key_answers_the_first_report(client, rt, media, body):
    side = make_side(rt, "idem", n_tasks=0)
    first = _import(client, side, body, key="load-2024-06-01", media=media)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    assert first.json()["imported"] == 2 and first.json()["rejected_count"] == 1
    again = _import(client, side, body, key="load-2024-06-01", media=media)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the same import_id: nothing was imported again
    assert _task_count(client, side) == 2
    # Without a key, the same body is a new import (its tasks are duplicates).
    plain = _import(client, side, body, key=None, media=media)
    assert plain.json()["import_id"] != first.json()["import_id"] and plain.json()["duplicates"] == 2


def test_the_same_key_with_another_body_is_refused_naming_the_key(client, rt):
    side = make_side(rt, "idem2", n_tasks=0)
    assert _import(client, side, b'{"data": {"text": "a"}}\n', key="k-1").status_code == 200
    other = _import(client, side, b'{"data": {"text": "z"}}\n', key="k-1")
    assert other.status_code == 409 and "Idempotency-Key 'k-1'" in other.json()["error"]["message"]
    strict = _import(client, side, b'{"data": {"text": "a"}}\n', key="k-1", strict=True)
    assert strict.status_code == 409  # another request: strict is part of it
    assert _task_count(client, side) == 1


def test_a_key_is_per_person_and_lasts_a_day(client, rt):
    side = make_side(rt, "idem3", n_tasks=0)
    first = _import(client, side, b'{"data": {"text": "a"}}\n', key="daily")
    managers = _import(client, side, b'{"data": {"text": "a"}}\n', key="daily", role="manager")
    assert "idempotent-replayed" not in managers.headers and managers.json()["duplicates"] == 1
    with operator_tx(rt) as tx:  # a day and a minute later
        tx.execute(update(schema.import_keys).values(created_at=schema.import_keys.c.created_at - 86_460_000))
    later = _import(client, side, b'{"data": {"text": "a"}}\n', key="daily")
    assert "idempotent-replayed" not in later.headers and later.json()["import_id"] != first.json()["import_id"]
    assert _import(client, side, b'{"data": {"text": "a"}}\n', key="daily").headers["idempotent-replayed"] == "true"


def test_a_key_does_not_open_another_workspace(client, rt):
    a, b = make_side(rt, "idem4a", n_tasks=0), make_side(rt, "idem4b", n_tasks=0)
    _import(client, b, b'{"data": {"text": "secret"}}\n', key="shared")
    headers = {**a.headers("owner"), "Content-Type": "application/x-ndjson", "Idempotency-Key": "shared"}
    r = client.post(f"/api/v1/projects/{b.project_id}/tasks", headers=headers, content=b'{"data": {"text": "x"}}\n')
    assert r.status_code == 404 and b"secret" not in r.content


def test_a_bad_key_is_invalid_input(client, rt):
    side = make_side(rt, "idem5", n_tasks=0)
    r = _import(client, side, b'{"data": {"text": "a"}}\n', key="with space")
    assert r.status_code == 422 and "Idempotency-Key" in r.text
    assert _task_count(client, side) == 0
