"""No GET changes state: a link another site makes the browser follow must not lease, bind or renew.

Every page route and every API route that answers GET — enumerated from the app and
its OpenAPI document, so a route added tomorrow is covered — is called in a signed-in
browser session (SameSite=Lax cookies go with a cross-site top-level navigation) by
a member in every role, by one holding a lease and by one who never opened the
workspace. No row changes except the audit log's, the session's sliding expiry and
the last-access time of a workspace the person is already bound to (a page view is
a view: cooling-off periods count from it; docs/walls.md).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bastion.services import (
    annotations,
    approvals,
    canaries,
    guidelines,
    jobs,
    model_endpoints,
    projects,
    queue,
    users,
    webhooks,
    workspaces,
)
from bastion.storage import schema
from factories import (
    ROLES,
    add_tasks,
    as_user,
    make_export,
    make_side,
    make_statement,
    make_user,
    operator_tx,
    system,
)
from page_routes import page_gets

PASSWORD = "safe gets password"
# Records of reads: the audit log, and the export records (with their manifests) that an export GET writes.
IGNORED_TABLES = {"audit_events", "audit_heads", "audit_nodes", "audit_checkpoints", "audit_queue", "exports"}
# ... and the event announcing such an export ready: no other event may come of a GET.
IGNORED_EVENTS = {"export.ready"}
IGNORED_COLUMNS = {("web_sessions", "expires_at"), ("person_history", "last_at")}
QUERIES = {
    "/api/v1/workspaces/{workspace_id}/audit/proof/inclusion": {"seq": 0},
    "/api/v1/workspaces/{workspace_id}/audit/proof/consistency": {"old_size": 1},
    "/api/v1/projects/{project_id}/guidelines/diff": {"from": 1, "to": 2},
}


def _state(rt) -> dict[str, list[tuple]]:
    out = {}
    with operator_tx(rt, write=False) as tx:
        for table in schema.metadata.sorted_tables:
            if table.name in IGNORED_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in IGNORED_COLUMNS]
            query = select(*columns)
            if table is schema.events or table is schema.event_queue:
                query = query.where(table.c.kind.not_in(IGNORED_EVENTS))
            out[table.name] = sorted(tx.execute(query).all(), key=repr)
    return out


def _changes(before, after) -> dict[str, tuple]:
    return {
        name: (set(before[name]) - set(after[name]), set(after[name]) - set(before[name]))
        for name in before
        if before[name] != after[name]
    }


def _gets(client, ids):
    spec = client.get("/api/v1/openapi.json").json()
    paths = [p for p, methods in spec["paths"].items() if "get" in methods] + page_gets(client.app)
    for path in paths:
        if path in ("/login",):
            continue
        url = path
        for name in re.findall(r"{(\w+)}", path):
            assert name in ids, f"no id for path parameter {name} of {path}: add one to this test"
            url = url.replace("{" + name + "}", ids[name])
        params = dict(QUERIES.get(path, {}))
        if path.endswith("/walls/explain") or path.endswith("/walls"):
            params["user" if path.startswith("/api/") else "person"] = ids["user_id"]
        yield path, url, params


@pytest.mark.parametrize("who", [*ROLES, "holding a lease", "never opened it"])
def test_no_get_changes_anything(client, rt, who):
    side = make_side(rt, "safe", 4, settings={"quality": {"review": "all"}})
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)
    annotation = annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    canary = canaries.create_canary(side.ctx(rt, "owner"), side.project_id, {"text": "{name} {figure} {date} {place}"})
    if who in ROLES:
        person = make_user(rt, f"{who}.member@example.com", password=PASSWORD)
        workspaces.add_member(system(rt), side.workspace_id, person.id, who)
        projects.get_project(as_user(rt, person.id), side.project_id)  # opened: bound to the workspace
    else:
        person = make_user(rt, f"{who.split()[0]}.member@example.com", password=PASSWORD)
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
        if who == "holding a lease":
            assert queue.next_task(as_user(rt, person.id), side.project_id) is not None
    # Made after the lease: the person holding it owes an acknowledgement, which a GET must not give.
    guidelines.create_version(side.ctx(rt, "owner"), side.project_id, "# Rules\n\nBe kind.\n")
    guidelines.create_version(side.ctx(rt, "owner"), side.project_id, "# Rules\n\nBe kind, and brief.\n")
    ids = {
        "workspace_id": side.workspace_id,
        "project_id": side.project_id,
        "task_id": task["id"],
        "annotation_id": annotation["id"],
        "user_id": person.id,
        "token_id": "tok_" + "0" * 32,
        "file_id": "fil_" + "0" * 32,
        "competitor_id": side.workspace_id,
        "group_id": "grp_" + "0" * 32,
        "skill": "history",
        "provider": "no-such-provider",  # single sign-on's callback: 404, nothing changes
        "canary_id": canary["id"],
        "version": "1",
        "export_id": make_export(side.ctx(rt, "owner"), side.project_id),
        "approval_id": approvals.request(side.ctx(rt, "owner"), side.workspace_id, "keys.rotate", {}, "x")["id"],
        "endpoint_id": model_endpoints.create_endpoint(
            side.ctx(rt, "owner"),
            side.workspace_id,
            name="lab",
            base_url="http://127.0.0.1:9/v1",
            default_model="m",
            allowed_hosts=["127.0.0.1:9"],
        )["id"],
        "job_id": jobs.submit(
            side.ctx(rt, "owner"), side.workspace_id, "search.reindex", {"project_id": side.project_id}
        )["id"],
    }
    hook = webhooks.create_webhook(
        side.ctx(rt, "owner"),
        side.workspace_id,
        url="http://127.0.0.1:9/h",
        events=["tasks.imported"],
        allowed_hosts=["127.0.0.1:9"],
    )
    add_tasks(rt, side.project_id, 1, prefix="hooked")  # an event, so a delivery
    ids["webhook_id"] = hook["id"]
    ids["delivery_id"] = webhooks.list_deliveries(side.ctx(rt, "owner"), hook["id"])[0]["id"]
    ids["statement_id"] = make_statement(rt, side.workspace_id, side.users["annotator"])
    secret, _ = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    checked = 0
    for path, url, params in _gets(client, ids):
        before = _state(rt)
        r = client.get(url, params=params, headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code < 500, f"{who}: GET {url} -> {r.status_code} {r.text[:200]}"
        changed = _changes(before, _state(rt))
        assert not changed, f"{who}: GET {path} ({r.status_code}) changed {changed}"
        checked += 1
    client.cookies.clear()
    assert checked >= 40
