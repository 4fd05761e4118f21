"""/api/v1 model endpoints: owners manage, the key is write-only, failures are clear JSON errors."""

from __future__ import annotations

from factories import make_side
from model_server import model_server, served  # noqa: F401  (fixtures)


def test_create_patch_test_delete(client, rt, served):
    side = make_side(rt, "api", n_tasks=1)
    owner = side.headers("owner")
    base = f"/api/v1/workspaces/{side.workspace_id}/model-endpoints"
    body = {
        "name": "lab",
        "base_url": served.url(),
        "default_model": "lab-7b",
        "allowed_hosts": [f"127.0.0.1:{served.port}"],
        "api_key": "sk-api-secret",
    }
    assert client.post(base, headers=side.headers("manager"), json=body).status_code == 403
    r = client.post(base, headers=owner, json=body)
    assert r.status_code == 201 and "sk-api-secret" not in r.text and r.json()["has_api_key"] is True
    endpoint = r.json()["id"]
    assert r.headers["location"] == f"/api/v1/model-endpoints/{endpoint}"
    assert client.get(base, headers=side.headers("auditor")).json()[0]["id"] == endpoint
    assert client.get(base, headers=side.headers("annotator")).status_code == 403

    probe = client.post(f"/api/v1/model-endpoints/{endpoint}/test", headers=owner)
    assert probe.status_code == 200 and probe.json()["model"] == "lab-7b"
    assert probe.json()["prompt_tokens"] == 6 and probe.json()["completion_tokens"] == 4

    # the endpoint fails: a clear 502, never a 500
    client.patch(f"/api/v1/model-endpoints/{endpoint}", headers=owner, json={"default_model": "error-500"})
    failed = client.post(f"/api/v1/model-endpoints/{endpoint}/test", headers=owner)
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "remote_error"
    assert "HTTP 500" in failed.json()["error"]["message"]
    # refused by the egress guard: 403 egress_refused naming the rule
    client.patch(
        f"/api/v1/model-endpoints/{endpoint}",
        headers=owner,
        json={
            "default_model": "lab-7b",
            "base_url": f"http://localhost:{served.port}/v1",
            "allowed_hosts": [f"localhost:{served.port}"],
        },
    )
    refused = client.post(f"/api/v1/model-endpoints/{endpoint}/test", headers=owner)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "egress_refused"
    assert refused.json()["error"]["details"]["rule"] == "loopback"

    bad = client.patch(f"/api/v1/model-endpoints/{endpoint}", headers=owner, json={"allowed_hosts": ["*.x.com"]})
    assert bad.status_code == 422 and "wildcards" in bad.json()["error"]["message"]
    cleared = client.patch(f"/api/v1/model-endpoints/{endpoint}", headers=owner, json={"api_key": None})
    assert cleared.json()["has_api_key"] is False
    assert client.delete(f"/api/v1/model-endpoints/{endpoint}", headers=owner).status_code == 204
    assert client.get(f"/api/v1/model-endpoints/{endpoint}", headers=owner).status_code == 404
