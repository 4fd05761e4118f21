"""POST /api/v1/projects/{p}/prelabel and the prelabel setting over HTTP (docs/prelabel.md)."""

from __future__ import annotations

from bastion.services.job_runner import Runner
from factories import make_side
from model_server import model_server, served  # noqa: F401  (fixtures)


def test_set_the_setting_start_a_job_and_read_the_quality_figures(client, rt, served):
    side = make_side(rt, "api", n_tasks=3)
    owner = side.headers("owner")
    made = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/model-endpoints",
        headers=owner,
        json={
            "name": "labeller",
            "base_url": served.url(),
            "default_model": "labeller",
            "allowed_hosts": [f"127.0.0.1:{served.port}"],
        },
    ).json()["id"]
    url = f"/api/v1/projects/{side.project_id}"
    refused = client.patch(url, headers=owner, json={"settings": {"prelabel": {"endpoint": "mep_" + "0" * 32}}})
    assert refused.status_code == 422 and "settings.prelabel.endpoint" in refused.json()["error"]["message"]
    r = client.patch(url, headers=owner, json={"settings": {"prelabel": {"endpoint": made, "on_import": True}}})
    assert r.status_code == 200 and r.json()["settings"]["prelabel"]["endpoint"] == made
    assert client.post(f"{url}/prelabel", headers=side.headers("annotator")).status_code in (403, 404)
    started = client.post(f"{url}/prelabel", headers=side.headers("manager"), json={"chunk": 2})
    assert started.status_code == 201 and started.json()["kind"] == "prelabel.run"
    assert started.headers["location"] == f"/api/v1/jobs/{started.json()['id']}"
    assert Runner(rt).run_once()
    job = client.get(f"/api/v1/jobs/{started.json()['id']}", headers=owner).json()
    assert job["state"] == "succeeded" and job["checkpoint"]["counts"]["labelled"] == 3
    figures = client.get(f"{url}/quality", headers=owner).json()["prelabels"]
    assert [(f["model_version"], f["tasks"], f["answers"]) for f in figures] == [(job["params"]["version"], 3, 0)]
    removed = client.patch(url, headers=owner, json={"settings": {"prelabel": None}})
    assert removed.status_code == 200 and removed.json()["settings"]["prelabel"] is None


def test_the_labelling_page_starts_from_the_models_label_marked_as_a_suggestion(client, rt, served):
    import re

    from bastion.services import content, projects, users, workspaces
    from factories import as_user, make_user, system

    side = make_side(rt, "lp", n_tasks=1)
    made = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/model-endpoints",
        headers=side.headers("owner"),
        json={
            "name": "labeller",
            "base_url": served.url(),
            "default_model": "labeller",
            "allowed_hosts": [f"127.0.0.1:{served.port}"],
        },
    ).json()["id"]
    projects.update_project(system(rt), side.project_id, settings={"prelabel": {"endpoint": made}})
    client.post(f"/api/v1/projects/{side.project_id}/prelabel", headers=side.headers("owner"))
    assert Runner(rt).run_once()
    person = make_user(rt, "annotator.lp.page@example.com", password="prelabel page password")
    workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, "prelabel page password"))
    client.cookies.set("bastion_session", secret)
    page = client.post(
        f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    ).text
    client.cookies.clear()
    assert "Pre-filled with a model&#39;s suggestion" in page or "Pre-filled with a model's suggestion" in page
    checked = re.findall(r'name="label"\s+value="(\w+)"[^>]*?checked', page)
    assert len(checked) == 1 and checked[0] in ("pos", "neg", "neutral")
