"""Every read of client content passes the wall: an enumerating invariant over every GET route.

The attackers are people bound to workspace A, which conflicts with B: an owner of B
(and annotator of A), and an annotator of both. B's project config, tasks, canary,
review comment and labels carry a marker word; whatever GET route they call with B's
ids — every route of the OpenAPI document and every page route, so a route added
tomorrow is covered — the answer never contains it (a 403 from the wall, a 404, or
metadata only), and they stay unbound to B. A control person bound to B sees the
marker through the same routes, so the marker is there to find.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bastion.services import (
    annotations,
    approvals,
    canaries,
    guidelines,
    jobs,
    model_endpoints,
    queue,
    reviews,
    users,
    webhooks,
    workforce,
    workspaces,
)
from bastion.storage import schema
from factories import (
    add_tasks,
    as_user,
    make_export,
    make_project,
    make_side,
    make_statement,
    make_token,
    make_user,
    operator_tx,
    system,
)
from page_routes import page_gets

MARK = "zebraquartz"
PASSWORD = "content walls password"
QUERIES = {
    "/api/v1/workspaces/{workspace_id}/audit/proof/inclusion": {"seq": 0},
    "/api/v1/workspaces/{workspace_id}/audit/proof/consistency": {"old_size": 1},
    "/api/v1/projects/{project_id}/guidelines/diff": {"from": 1, "to": 2},
}


def _world(rt):
    a = make_side(rt, "wall-a", 2)
    b = make_side(rt, "wall-b", 0)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    project = make_project(
        rt,
        b.workspace_id,
        name="Launch",
        settings={"quality": {"review": "all"}},
        config={
            "type": "classification",
            "field": "text",
            "labels": [f"{MARK}-yes", f"{MARK}-no"],
            "instructions": f"Read the {MARK} brief first.",
        },
    )
    add_tasks(rt, project.id, 3, prefix=f"{MARK} item")
    worker, reviewer = b.ctx(rt, "annotator"), b.ctx(rt, "reviewer")
    done = []
    for _ in range(2):
        task = queue.next_task(worker, project.id)
        done.append(annotations.submit_annotation(worker, task["id"], {"label": f"{MARK}-yes"}))
    item = reviews.review_next(reviewer, project.id)
    reviews.review_annotation(reviewer, item["annotation"]["id"], "reject", comment=f"{MARK} is wrong here")
    canary = canaries.create_canary(
        b.ctx(rt, "owner"), project.id, {"text": f"{MARK} {{name}} {{figure}} {{date}} {{place}}"}
    )
    guidelines.create_version(b.ctx(rt, "owner"), project.id, f"# The {MARK} rules\n")
    guidelines.create_version(b.ctx(rt, "owner"), project.id, f"# The {MARK} rules\n\nAnd {MARK} more.\n")
    ids = {
        "version": "1",
        "workspace_id": b.workspace_id,
        "project_id": project.id,
        "task_id": done[1]["task_id"],
        "annotation_id": done[1]["id"],
        "user_id": b.users["annotator"],
        "token_id": "tok_" + "0" * 32,
        "file_id": "fil_" + "0" * 32,
        "competitor_id": a.workspace_id,
        "group_id": "grp_" + "0" * 32,
        "skill": "history",
        "canary_id": canary["id"],
        "export_id": make_export(b.ctx(rt, "owner"), project.id),
        "approval_id": approvals.request(b.ctx(rt, "owner"), b.workspace_id, "keys.rotate", {}, "yearly")["id"],
        "endpoint_id": model_endpoints.create_endpoint(
            b.ctx(rt, "owner"),
            b.workspace_id,
            name="b model",  # a name is metadata, as a project's is
            base_url="http://127.0.0.1:9/v1",
            default_model="m",
            allowed_hosts=["127.0.0.1:9"],
        )["id"],
        "job_id": jobs.submit(b.ctx(rt, "owner"), b.workspace_id, "search.reindex", {"project_id": project.id})["id"],
    }
    hook = webhooks.create_webhook(
        b.ctx(rt, "owner"),
        b.workspace_id,
        url="http://127.0.0.1:9/h",
        events=["tasks.imported"],
        allowed_hosts=["127.0.0.1:9"],
    )
    add_tasks(rt, project.id, 1, prefix=MARK)  # an event, so a delivery
    ids["webhook_id"] = hook["id"]
    ids["delivery_id"] = webhooks.list_deliveries(b.ctx(rt, "owner"), hook["id"])[0]["id"]
    ids["statement_id"] = make_statement(rt, b.workspace_id, b.users["annotator"])
    return a, b, ids


def _attackers(rt, a, b):
    owner_b = make_user(rt, "owner.of.b@example.com", password=PASSWORD)
    both = make_user(rt, "annotator.of.both@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), b.workspace_id, owner_b.id, "owner")
    for person in (owner_b, both):
        workspaces.add_member(system(rt), a.workspace_id, person.id, "annotator")
        assert queue.next_task(as_user(rt, person.id), a.project_id) is not None  # bound to A
    workspaces.add_member(system(rt), b.workspace_id, both.id, "annotator")
    return {"owner of B": owner_b, "annotator of both": both}


def _api_gets(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path, methods in spec["paths"].items():
        if "get" in methods and "{" in path:
            yield path


def _fill(path, ids):
    for name in re.findall(r"{(\w+)}", path):
        assert name in ids, f"no id of B for path parameter {name} of {path}: add one to this test"
        path = path.replace("{" + name + "}", ids[name])
    return path


def _sign_in(client, rt, email):
    secret, _ = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)


def _history(rt, user_id):
    with operator_tx(rt, write=False) as tx:
        return set(
            tx.execute(
                select(schema.person_history.c.workspace_id).where(schema.person_history.c.user_id == user_id)
            ).scalars()
        )


def _read_everything(client, rt, person, ids, *, explain_user):
    """Every GET route with B's ids: by API token, then in a signed-in browser session."""
    answers = []
    headers = {"Authorization": f"Bearer {make_token(rt, person.id)}"}
    for path in _api_gets(client):
        params = dict(QUERIES.get(path, {}))
        if path.endswith("/walls/explain"):
            params["user"] = explain_user
        r = client.get(_fill(path, ids), headers=headers, params=params)
        answers.append((f"GET {path}", r))
    _sign_in(client, rt, person.email)
    for path in page_gets(client.app):
        if path in ("/login", "/login/oidc/{provider}/callback"):  # signing in shows no workspace's content
            continue
        r = client.get(_fill(path, ids), headers={"Accept": "text/html"})
        answers.append((f"page {path}", r))
        if path == "/workspaces/{workspace_id}/walls":
            r = client.get(_fill(path, ids), params={"person": explain_user}, headers={"Accept": "text/html"})
            answers.append((f"page {path}?person=", r))
    client.cookies.clear()
    return answers


def test_people_bound_to_a_competitor_never_read_b_content(client, rt):
    a, b, ids = _world(rt)
    people = _attackers(rt, a, b)
    control = make_user(rt, "control@example.com", password=PASSWORD)  # an owner of B, bound to B by their first read
    workspaces.add_member(system(rt), b.workspace_id, control.id, "owner")
    control = _read_everything(client, rt, control, ids, explain_user=b.users["annotator"])
    leaking = {name for name, r in control if MARK in r.text}
    # The marker is there to find: B's own (bound) owner reads it through these routes. (The canary routes
    # need a second owner's approval even for them: tests/services/test_approvals.py reads them with one.)
    assert {
        "GET /api/v1/projects/{project_id}",
        "GET /api/v1/workspaces/{workspace_id}/projects",
        "GET /api/v1/tasks/{task_id}",
        "page /projects/{project_id}",
        "page /tasks/{task_id}",
        "GET /api/v1/projects/{project_id}/guidelines/{version}",
        "GET /api/v1/projects/{project_id}/guidelines/diff",
        "page /projects/{project_id}/guidelines",
        "page /projects/{project_id}/guidelines/diff",
    } <= leaking, leaking
    for who, person in people.items():
        for name, r in _read_everything(client, rt, person, ids, explain_user=b.users["annotator"]):
            assert r.status_code in (200, 204, 303, 403, 404), f"{who}: {name} -> {r.status_code} {r.text[:200]}"
            assert MARK not in r.text, f"{who}: {name} -> {r.status_code} shows B's content: {r.text[:300]}"
        assert b.workspace_id not in _history(rt, person.id), f"{who} was bound to B by a read"
        assert queue.next_task(as_user(rt, person.id), a.project_id) is not None  # A still open to them


def test_a_walled_read_is_refused_and_recorded(client, rt):
    a, b, ids = _world(rt)
    owner_b = _attackers(rt, a, b)["owner of B"]
    headers = {"Authorization": f"Bearer {make_token(rt, owner_b.id)}"}
    for url in (
        f"/api/v1/projects/{ids['project_id']}",
        f"/api/v1/workspaces/{b.workspace_id}/projects",
        f"/api/v1/projects/{ids['project_id']}/canaries",
        f"/api/v1/canaries/{ids['canary_id']}",
        f"/api/v1/projects/{ids['project_id']}/held",
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["details"]["reasons"] == ["wall"], (url, r.text)
    from bastion.services import audit

    log = audit.list_entries(system(rt), b.workspace_id, limit=1000)["items"]
    refusals = [e for e in log if e["action"] == "wall.denied" and e["actor"] == owner_b.id]
    assert len(refusals) == 5


def _sections(html):
    return {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r'data-workspace="([^"]+)" data-wall="([^"]*)">(.*?)</section>', html, re.S)
    }


def test_the_home_page_lists_metadata_binds_nobody_and_marks_walls(client, rt):
    a, b, ids = _world(rt)
    both = _attackers(rt, a, b)["annotator of both"]
    fresh = make_user(rt, "fresh@example.com", password=PASSWORD)
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, fresh.id, "annotator")
    _sign_in(client, rt, both.email)
    text = client.get("/").text
    home = _sections(text)
    assert b.workspace_id not in home  # walled off: not listed with the others, its projects gone
    assert "Launch" not in text and f"/projects/{ids['project_id']}" not in text  # no name, link or Label button
    walled = text[text.index('id="walled-off"') :].split("</section>")[0]
    assert "Workspace wall-b" in walled and "Workspace wall-a" in walled  # named, and why
    assert home[a.workspace_id][0] == "bound" and f"/projects/{a.project_id}/label" in home[a.workspace_id][1]
    _sign_in(client, rt, fresh.email)
    home = _sections(client.get("/").text)
    assert {home[a.workspace_id][0], home[b.workspace_id][0]} == {"choose"}
    assert f"/projects/{ids['project_id']}/label" in home[b.workspace_id][1]
    assert _history(rt, fresh.id) == set()  # listing both bound them to neither
    client.cookies.clear()


def test_a_first_access_in_the_browser_is_a_deliberate_post(client, rt):
    a, b, ids = _world(rt)
    fresh = make_user(rt, "chooser@example.com", password=PASSWORD)
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, fresh.id, "manager")
    secret, csrf = users.create_session(rt, users.authenticate(rt, fresh.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    page = client.get(f"/projects/{ids['project_id']}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'id="first-access"' in page.text and MARK not in page.text
    assert f'action="/workspaces/{b.workspace_id}/open"' in page.text
    api = client.get(f"/api/v1/projects/{ids['project_id']}")  # the API, with the session cookie: no binding either
    assert api.status_code == 403 and api.json()["error"]["code"] == "first_access"
    bad = client.post(
        f"/workspaces/{b.workspace_id}/open", data={"csrf_token": "forged", "next": "/"}, follow_redirects=False
    )
    assert bad.status_code == 403 and _history(rt, fresh.id) == set()
    opened = client.post(
        f"/workspaces/{b.workspace_id}/open",
        follow_redirects=False,
        data={"csrf_token": csrf, "next": "//elsewhere.example/x"},
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/"  # never off-site
    assert _history(rt, fresh.id) == {b.workspace_id}
    assert MARK in client.get(f"/projects/{ids['project_id']}", headers={"Accept": "text/html"}).text
    walled = client.post(
        f"/workspaces/{a.workspace_id}/open", data={"csrf_token": csrf, "next": "/"}, follow_redirects=False
    )
    assert walled.status_code == 403 and _history(rt, fresh.id) == {b.workspace_id}
    client.cookies.clear()
