"""The jobs API and the workspace's jobs page: progress, polling while active, cancel and retry, who sees what."""

from __future__ import annotations

from bastion.services import users, workspaces
from bastion.services.job_runner import Runner
from factories import as_user, make_side, make_user, system

PASSWORD = "jobs page password"
HTMX = {"HX-Request": "true"}


def _sign_in(client, rt, email):
    secret, csrf = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def test_the_api_submits_lists_reads_cancels_and_retries(client, rt):
    side = make_side(rt, "api", n_tasks=4)
    owner, url = side.headers("owner"), f"/api/v1/workspaces/{side.workspace_id}/jobs"
    body = {"kind": "search.reindex", "params": {"project_id": side.project_id, "batch": 2}}
    r = client.post(url, headers=owner, json=body)
    assert r.status_code == 201 and r.headers["Location"] == f"/api/v1/jobs/{r.json()['id']}"
    job = r.json()
    assert client.post(url, headers=owner, json=body).json()["id"] == job["id"]  # deduplicated while queued
    bad = client.post(url, headers=owner, json={"kind": "search.reindex", "params": {"project_id": 5}})
    assert bad.status_code == 422 and "params.project_id" in bad.json()["error"]["message"]
    assert client.post(url, headers=side.headers("annotator"), json=body).status_code == 403
    assert [j["id"] for j in client.get(url, headers=side.headers("manager")).json()] == [job["id"]]
    assert client.get(url, headers=side.headers("reviewer")).json() == []
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=side.headers("auditor")).status_code == 404
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=owner)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=owner)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert client.post(f"/api/v1/jobs/{job['id']}/retry", headers=owner).json()["state"] == "queued"
    assert Runner(rt).run_once()
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=owner).json()
    assert done["state"] == "succeeded" and done["progress"] == {"done": 4, "total": 4}
    assert client.get(url, headers=owner, params={"state": "failed"}).json() == []
    assert client.get(url, headers=owner, params={"state": "nope"}).status_code == 422


def test_the_jobs_page_polls_while_a_job_is_active_and_cancels_and_retries(client, rt):
    side = make_side(rt, "page", n_tasks=3)
    person = make_user(rt, "jobs.owner@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "owner")
    csrf = _sign_in(client, rt, person.email)
    assert f'href="/workspaces/{side.workspace_id}/jobs"' in client.get("/").text
    page = client.get(f"/workspaces/{side.workspace_id}/jobs")
    assert page.status_code == 200 and "No jobs yet" in page.text and 'data-active="no"' in page.text
    client.post(
        f"/api/v1/workspaces/{side.workspace_id}/jobs",
        headers=side.headers("owner"),
        json={"kind": "search.reindex", "params": {"project_id": side.project_id}},
    )
    page = client.get(f"/workspaces/{side.workspace_id}/jobs")
    assert 'data-active="yes"' in page.text and 'hx-get="/workspaces/' in page.text and "queued" in page.text
    job_id = page.text.split('data-job="')[1].split('"')[0]
    form = {"csrf_token": csrf, "job": job_id, "action": "cancel"}
    r = client.post(f"/workspaces/{side.workspace_id}/jobs", data=form, follow_redirects=False)
    assert r.status_code == 303
    table = client.get(f"/workspaces/{side.workspace_id}/jobs", headers=HTMX)
    assert 'data-state="cancelled"' in table.text and "hx-get" not in table.text and "<h1" not in table.text
    r = client.post(f"/workspaces/{side.workspace_id}/jobs", data={**form, "action": "cancel"})
    assert r.status_code == 409 and "already been cancelled" in r.text
    r = client.post(f"/workspaces/{side.workspace_id}/jobs", data={**form, "action": "retry"}, follow_redirects=False)
    assert r.status_code == 303
    Runner(rt).run_once()
    table = client.get(f"/workspaces/{side.workspace_id}/jobs", headers=HTMX).text
    assert 'data-state="succeeded"' in table and 'value="3"' in table and "3 / 3" in table
    assert client.post(f"/workspaces/{side.workspace_id}/jobs", data={**form, "csrf_token": "x"}).status_code == 403
    other = make_side(rt, "other", n_tasks=1)
    assert client.get(f"/workspaces/{other.workspace_id}/jobs").status_code == 404
    assert client.get(f"/workspaces/{other.workspace_id}/jobs", headers=HTMX).status_code == 404


def test_the_data_browser_starts_a_reindex_job_when_its_index_lacks_tasks(client, rt):
    from sqlalchemy import insert

    from bastion.storage import schema
    from factories import operator_tx

    side = make_side(rt, "dbr", n_tasks=2)
    person = make_user(rt, "jobs.manager@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "manager")
    with operator_tx(rt) as tx:  # as migration 0014 leaves a project imported before the index
        tx.execute(
            insert(schema.search_reindex).values(workspace_id=side.workspace_id, project_id=side.project_id, since=1)
        )
    csrf = _sign_in(client, rt, person.email)
    from bastion.services import content

    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    page = client.get(f"/projects/{side.project_id}/tasks")
    assert 'id="reindex-form"' in page.text
    form = {"csrf_token": csrf, "action": "reindex", "project": side.project_id}
    other = make_side(rt, "dbr2", n_tasks=1)
    r = client.post(f"/workspaces/{side.workspace_id}/jobs", data={**form, "project": other.project_id})
    assert r.status_code == 404  # not a project of this workspace: nothing queued
    r = client.post(f"/workspaces/{side.workspace_id}/jobs", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/workspaces/{side.workspace_id}/jobs"
    Runner(rt).run_once()
    assert 'id="reindex-note"' not in client.get(f"/projects/{side.project_id}/tasks").text
    assert 'data-state="succeeded"' in client.get(f"/workspaces/{side.workspace_id}/jobs").text
