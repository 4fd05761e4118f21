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
