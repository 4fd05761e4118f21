"""/api/v1 events and webhooks: the secret is answered once, roles as docs/permissions.md says, clear
JSON errors for bad input, a delivery replayed through the route."""

from __future__ import annotations

import pytest

from bastion.services.job_runner import Runner
from factories import add_tasks, make_side
from webhook_receiver import start_receiver


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the services tests cover PostgreSQL
def test_feed_webhooks_deliveries_and_replay_over_http(client, rt):
    rt.settings = rt.settings.model_copy(update={"job_retry_seconds": 0, "webhook_attempts": 2})  # retry at once
    receiver = start_receiver()
    try:
        side = make_side(rt, "wapi", n_tasks=1)
        owner = side.headers("owner")
        base = f"/api/v1/workspaces/{side.workspace_id}"
        body = {"url": receiver.url(), "events": ["tasks.imported"], "allowed_hosts": [f"127.0.0.1:{receiver.port}"]}
        assert client.post(f"{base}/webhooks", headers=side.headers("manager"), json=body).status_code == 403
        bad = client.post(f"{base}/webhooks", headers=owner, json={**body, "events": ["nope"]})
        assert bad.status_code == 422 and "nope" in bad.json()["error"]["message"]
        made = client.post(f"{base}/webhooks", headers=owner, json=body)
        assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
        hook = made.json()["id"]
        receiver.secret = made.json()["secret"]
        assert made.headers["location"] == f"/api/v1/webhooks/{hook}"
        listed = client.get(f"{base}/webhooks", headers=side.headers("auditor"))
        assert listed.status_code == 200 and "secret" not in listed.json()[0]
        assert "whsec_" not in client.get(f"/api/v1/webhooks/{hook}", headers=owner).text

        feed = client.get(f"{base}/events", headers=side.headers("auditor"))
        assert feed.status_code == 200 and [e["kind"] for e in feed.json()["events"]] == ["tasks.imported"]
        assert client.get(f"{base}/events", headers=side.headers("annotator")).status_code == 403
        assert client.get(f"{base}/events?after=x", headers=owner).status_code == 422

        receiver.mode = "fail"
        add_tasks(rt, side.project_id, 1, start=5)
        while Runner(rt).run_once():
            pass
        dead = client.get(f"/api/v1/webhooks/{hook}/deliveries?state=dead", headers=owner).json()
        assert len(dead) == 1 and dead[0]["history"][0]["status"] == 500
        assert client.get(f"/api/v1/webhooks/{hook}/deliveries?state=lost", headers=owner).status_code == 422
        receiver.mode = "ok"
        again = client.post(f"/api/v1/webhooks/{hook}/deliveries/{dead[0]['id']}/replay", headers=owner)
        assert again.status_code == 202 and again.json()["state"] == "pending"
        Runner(rt).run_once()
        done = client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=owner).json()
        assert [d["state"] for d in done] == ["delivered"]
        assert all(r.valid for r in receiver.received)
        assert client.post(f"/api/v1/webhooks/{hook}/replay-dead", headers=owner).json() == {"replayed": 0}
        assert client.delete(f"/api/v1/webhooks/{hook}", headers=owner).status_code == 204
        assert client.get(f"/api/v1/webhooks/{hook}", headers=owner).status_code == 404
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
