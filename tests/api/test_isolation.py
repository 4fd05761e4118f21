"""Tenant isolation over every route: a caller of workspace A gets 404 for B's ids, never data.

The routes come from the OpenAPI document, so a new route is covered the day it
is added. Each path parameter is filled with an id of workspace B (or of its
people and tokens), and every role of workspace A calls it.
"""

from __future__ import annotations

import re

import pytest

from bastion.services import approvals, credentials, guidelines, jobs, model_endpoints, questions, webhooks
from factories import ROLES, make_side, make_statement, system

ALLOWED = {404}
QUERIES = {  # required query parameters, so that requests reach the access check
    "inclusion:get": {"seq": 0},
    "consistency:get": {"old_size": 1},
    "explain:get": {"user": "annotator.a@example.com"},
    "exclusions:delete": {"org": "Acme"},
    "diff:get": {"from": 1, "to": 2},
}
# Person- and deployment-level routes (not objects of a workspace): a non-admin gets 403 or 404.
NOT_WORKSPACE_OBJECTS = ("/api/v1/conflict-groups/", "/api/v1/users/")


def _ids_of_b(rt, client, b):
    owner = b.headers("owner")
    task = client.post(f"/api/v1/projects/{b.project_id}/next", headers=b.headers("annotator")).json()
    ann = client.post(
        f"/api/v1/tasks/{task['id']}/annotations", headers=b.headers("annotator"), json={"result": {"label": "pos"}}
    ).json()
    token = client.get("/api/v1/tokens", headers=owner).json()[0]
    canary = client.post(
        f"/api/v1/projects/{b.project_id}/canaries",
        headers=owner,
        json={"data": {"text": "{name} {figure} {date} {place}"}},
    ).json()
    export = client.get(f"/api/v1/projects/{b.project_id}/export", headers=owner)
    hook = webhooks.create_webhook(
        b.ctx(rt, "owner"),
        b.workspace_id,
        url="http://127.0.0.1:9/h",
        events=["tasks.imported"],
        allowed_hosts=["127.0.0.1:9"],
    )
    with system(rt).write() as w:  # an event, so a delivery (B's task count stays as the end checks it)
        w.event(b.workspace_id, "tasks.imported", b.project_id, project=b.project_id, count=0, batch="x")
    delivery = webhooks.list_deliveries(b.ctx(rt, "owner"), hook["id"])[0]
    question = questions.ask_question(b.ctx(rt, "annotator"), b.project_id, task["id"], "B's question?")
    questions.answer_question(b.ctx(rt, "owner"), b.project_id, question["id"], "B's answer.")
    guidelines.create_version(b.ctx(rt, "owner"), b.project_id, "B's guidelines.")
    guidelines.create_version(b.ctx(rt, "owner"), b.project_id, "B's guidelines, again.")
    return {
        "workspace_id": b.workspace_id,
        "project_id": b.project_id,
        "task_id": task["id"],
        "annotation_id": ann["id"],
        "user_id": b.users["annotator"],
        "token_id": token["id"],
        "file_id": "fil_" + "0" * 32,  # B's tasks name no file: the task alone must answer 404
        "competitor_id": b.workspace_id,
        "group_id": "grp_" + "0" * 32,
        "skill": "history",
        "canary_id": canary["id"],
        "export_id": export.headers["x-bastion-export-id"],
        "approval_id": approvals.request(b.ctx(rt, "owner"), b.workspace_id, "workspace.delete", {}, "pending")["id"],
        "endpoint_id": model_endpoints.create_endpoint(
            b.ctx(rt, "owner"),
            b.workspace_id,
            name="b's model",
            base_url="http://127.0.0.1:9/v1",
            default_model="m",
            allowed_hosts=["127.0.0.1:9"],
            api_key="sk-b",
        )["id"],
        "webhook_id": hook["id"],
        "delivery_id": delivery["id"],
        "question_id": question["id"],
        "version": "1",
        "job_id": jobs.submit(b.ctx(rt, "owner"), b.workspace_id, "search.reindex", {"project_id": b.project_id})["id"],
        "statement_id": make_statement(rt, b.workspace_id, b.users["annotator"]),
        "credential_id": credentials.add_credential(
            b.ctx(rt, "owner"), b.users["annotator"], kind="nda", name="B NDA", issuer="B", workspace_id=b.workspace_id
        )["id"],
    }


def _bodies(method: str, path: str):
    if path.endswith("/members") and "conflict-groups" in path:
        return {"workspace_id": "ws_x"}
    if path.endswith("/members"):
        return {"user": "x@example.com", "role": "annotator"}
    if path.endswith("/projects"):
        return {"name": "n", "config": {"type": "classification", "labels": ["a"]}}
    if path.endswith("/projects/from-label-studio"):
        return {"name": "n", "label_config": '<View><Text name="t" value="$t"/><TextArea name="a" toName="t"/></View>'}
    if path.endswith(("/annotations", "/submit-and-next", "/me/annotations/{annotation_id}")):
        return {"result": {"label": "pos"}}
    if path.endswith("/conflicts"):
        return {"competitor": "ws_x"}
    if path.endswith("/exclusions") and method == "post":
        return {"org": "Acme"}
    if path.endswith("/affiliations"):
        return {"org": "Acme", "kind": "investor"}
    if path.endswith("/history"):
        return {"workspace_id": "ws_x", "source": "prior"}
    if path.endswith("/skills"):
        return {"skill": "law"}
    if path.endswith("/members") and "conflict-groups" in path:
        return {"workspace_id": "ws_x"}
    if path.endswith("/review"):
        return {"decision": "accept"}
    if path.endswith("/canaries") and method == "post":
        return {"data": {"text": "{name} {figure} {date} {place}"}}
    if path.endswith("/approvals") and method == "post":
        return {"kind": "workspace.delete", "params": {}, "reason": "x"}
    if path.endswith("/jobs") and method == "post":
        return {"kind": "search.reindex", "params": {"project_id": "prj_" + "0" * 32}}
    if path.endswith("/two-person-approval") and method == "put":
        return {"enabled": False}
    if path.endswith("/model-endpoints") and method == "post":
        return {
            "name": "n",
            "base_url": "http://127.0.0.1:9/v1",
            "default_model": "m",
            "allowed_hosts": ["127.0.0.1:9"],
        }
    if path.endswith("/webhooks") and method == "post":
        return {"url": "http://127.0.0.1:9/h", "events": ["tasks.imported"], "allowed_hosts": ["127.0.0.1:9"]}
    if path.endswith("/guidelines") and method == "post":
        return {"body": "A's rules."}
    if path.endswith("/guidelines/acknowledge"):
        return {"version": 1}
    if path.endswith("/promote"):
        return {"question": "q?", "answer": "a."}
    if path.endswith("/pay/settings") and method == "put":
        return {"currency": "EUR"}
    if path.endswith("/pay/rates") and method == "post":
        return {"task_type": "classification", "per_task": 1}
    if path.endswith("/pay/statements") and method == "post":
        return {"user_id": "usr_x", "period_start": 0, "period_end": 1}
    if path.endswith("/credentials") and method == "post":
        return {"person": "annotator.a@example.com", "kind": "nda", "name": "n", "issuer": "i"}
    if path.endswith("/trace"):
        return {"excerpts": ["leaked text"]}
    if path.endswith("/tasks") and method == "patch":
        return {"filter": {"priority_min": -1000}, "patch": {"priority": 1}}
    if path.endswith("/tasks/delete"):
        return {"filter": {"priority_min": -1000}}
    if path.endswith("/assignee") and method == "post":
        return {"user": "annotator.b@example.com"}
    if path.endswith("/tasks/{task_id}") and method == "patch":
        return {"priority": 1}
    if method == "patch":
        return {"name": "renamed"}
    return None


def test_every_route_hides_other_workspaces(client, rt):
    a = make_side(rt, "a", n_tasks=2)
    b = make_side(rt, "b", n_tasks=2)
    ids = _ids_of_b(rt, client, b)
    spec = client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        if not params:
            continue
        for method in methods:
            url = path
            for p in params:
                assert p in ids, f"no foreign id for path parameter {p} of {path}: add it to this test"
                url = url.replace("{" + p + "}", ids[p])
            query = QUERIES.get(path.rsplit("/", 1)[-1] + ":" + method, {})
            for role in ROLES:
                kwargs = {"headers": a.headers(role), "params": query}
                body = _bodies(method, path)
                if path.endswith("/tasks") and method == "post":
                    kwargs["content"] = b'{"data": {"text": "x"}}\n'
                    kwargs["headers"] = {**kwargs["headers"], "Content-Type": "application/x-ndjson"}
                elif body is not None:
                    kwargs["json"] = body
                r = client.request(method.upper(), url, **kwargs)
                if path.startswith("/api/v1/workspaces/{workspace_id}/members/") and method == "delete":
                    pass
                allowed = {403, 404} if path.startswith(NOT_WORKSPACE_OBJECTS) else ALLOWED
                assert r.status_code in allowed, f"{role} {method.upper()} {url} -> {r.status_code} {r.text[:200]}"
                assert b.workspace_id.encode() not in r.content or r.status_code == 404
                checked += 1
    assert checked >= 5 * 15
    # Nothing of B changed.
    project = client.get(f"/api/v1/projects/{b.project_id}", headers=b.headers("owner")).json()
    assert project["name"] == "Project b" and project["counts"]["tasks"] == 2


def test_outsider_sees_empty_lists(client, rt):
    make_side(rt, "x", n_tasks=1)
    from factories import make_token, make_user

    outsider = make_user(rt, "nobody@example.com")
    headers = {"Authorization": f"Bearer {make_token(rt, outsider.id)}"}
    assert client.get("/api/v1/workspaces", headers=headers).json() == []
    assert client.get("/api/v1/me", headers=headers).json()["workspaces"] == []


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 200), ("manager", 200), ("reviewer", 200), ("annotator", 403), ("auditor", 403)],
)
def test_roles_on_task_listing(client, rt, role, expected):
    side = make_side(rt, "roles", n_tasks=1)
    assert client.get(f"/api/v1/projects/{side.project_id}/tasks", headers=side.headers(role)).status_code == expected
