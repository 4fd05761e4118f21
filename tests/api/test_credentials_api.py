"""Credentials over HTTP: record, list, revoke; a project's required_credentials refuse `next` with
403 credential_required naming the credential (docs/workforce.md, docs/api.md)."""

from __future__ import annotations

import time

from factories import ROLES, make_side, make_token, make_user

DAY = 24 * 3600 * 1000


def test_record_require_refuse_and_revoke(client, rt):
    side = make_side(rt, "capi", n_tasks=2)
    manager, annotator = side.headers("manager"), side.headers("annotator")
    url = f"/api/v1/projects/{side.project_id}"
    r = client.patch(url, headers=side.headers("owner"), json={"settings": {"required_credentials": [{"kind": "NDA"}]}})
    assert r.status_code == 422 and "required_credentials" in r.json()["error"]["message"]
    r = client.patch(
        url,
        headers=side.headers("owner"),
        json={"settings": {"required_credentials": [{"kind": "nda", "name": "Acme NDA"}]}},
    )
    assert r.status_code == 200
    assert r.json()["settings"]["required_credentials"] == [{"kind": "nda", "name": "Acme NDA"}]

    refused = client.post(f"{url}/next", headers=annotator)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "credential_required" and 'nda "Acme NDA"' in error["message"]
    assert error["details"]["unmet"] == [{"kind": "nda", "name": "Acme NDA", "reason": "missing", "at": None}]

    body = {
        "person": "annotator.capi@example.com",
        "kind": "nda",
        "name": "Acme NDA",
        "issuer": "Acme Legal",
        "expires_at": int(time.time() * 1000) + 90 * DAY,
        "document": "dms://legal/4711",
    }
    made = client.post(f"/api/v1/workspaces/{side.workspace_id}/credentials", headers=manager, json=body)
    assert made.status_code == 201, made.text
    credential = made.json()
    assert made.headers["location"].endswith(f"/credentials?person={side.users['annotator']}")
    assert credential["state"] == "valid" and credential["scope"] == "workspace"
    assert client.post(f"{url}/next", headers=annotator).status_code == 200

    listed = client.get(f"/api/v1/workspaces/{side.workspace_id}/credentials", headers=manager).json()
    assert [c["id"] for c in listed] == [credential["id"]] and listed[0]["email"] == "annotator.capi@example.com"
    assert [c["id"] for c in client.get("/api/v1/me/credentials", headers=annotator).json()] == [credential["id"]]

    revoked = client.post(f"/api/v1/credentials/{credential['id']}/revoke", headers=manager)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert revoked.json()["released_leases"] == 1
    assert client.post(f"/api/v1/credentials/{credential['id']}/revoke", headers=manager).status_code == 409
    again = client.post(f"{url}/next", headers=annotator)
    assert again.status_code == 403 and "revoked" in again.json()["error"]["message"]


def test_roles_and_deployment_wide_credentials(client, rt):
    side = make_side(rt, "croles", n_tasks=0)
    body = {"person": "reviewer.croles@example.com", "kind": "clearance", "name": "SC", "issuer": "Gov"}
    for role in ROLES:
        r = client.post(f"/api/v1/workspaces/{side.workspace_id}/credentials", headers=side.headers(role), json=body)
        assert r.status_code == (201 if role in ("owner", "manager") else 403), (role, r.text)
        listed = client.get(f"/api/v1/workspaces/{side.workspace_id}/credentials", headers=side.headers(role))
        assert listed.status_code == (200 if role in ("owner", "manager") else 403), role
    own = {**body, "person": "annotator.croles@example.com"}
    r = client.post(f"/api/v1/workspaces/{side.workspace_id}/credentials", headers=side.headers("annotator"), json=own)
    assert r.status_code == 403  # nobody records their own
    assert client.post("/api/v1/credentials", headers=side.headers("owner"), json=body).status_code == 403
    admin = make_user(rt, "admin.croles@example.com", admin=True)
    headers = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    everywhere = client.post("/api/v1/credentials", headers=headers, json=body)
    assert everywhere.status_code == 201 and everywhere.json()["workspace_id"] is None
    person = side.users["reviewer"]
    seen = client.get(f"/api/v1/users/{person}/credentials", headers=headers).json()
    assert {c["scope"] for c in seen} == {"all", "workspace"}
    assert client.get(f"/api/v1/users/{person}/credentials", headers=side.headers("owner")).status_code == 404
    r = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/credentials",
        headers=side.headers("owner"),
        json={**body, "expires_at": 5},
    )
    assert r.status_code == 422 and "expires_at" in r.json()["error"]["message"]
