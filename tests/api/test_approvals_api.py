"""Two-person approval over HTTP: request, decide, use once; break-glass and alerts; the pages."""

from __future__ import annotations

from bastion.services import users, workforce, workspaces
from factories import co_owner, make_side, make_token, make_user, system

PASSWORD = "approval pages password"


def _task(client, side):
    return client.post(f"/api/v1/projects/{side.project_id}/next", headers=side.headers("annotator")).json()["id"]


def _co_owner_headers(rt, side):
    return {"Authorization": f"Bearer {make_token(rt, co_owner(rt, side.workspace_id))}"}


def test_request_approve_use_once(client, rt):
    a, b = make_side(rt, "ha", 2), make_side(rt, "hb", 1)
    task_id = _task(client, a)
    owner, second = a.headers("owner"), _co_owner_headers(rt, a)
    url = f"/api/v1/tasks/{task_id}/reidentified"
    r = client.get(url, headers=owner)
    assert r.status_code == 403 and r.json()["error"]["code"] == "approval_required"
    assert r.json()["error"]["details"]["kind"] == "redaction.reidentify"

    for body, field in (
        ({"kind": "nope", "reason": "x"}, "kind"),
        ({"kind": "keys.rotate"}, "reason"),
        ({"kind": "keys.rotate", "reason": "x", "extra": 1}, "extra"),
        ({"kind": "keys.rotate", "reason": "x", "params": {"task": task_id}}, "params"),
    ):
        r = client.post(f"/api/v1/workspaces/{a.workspace_id}/approvals", headers=owner, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["message"], (body, r.text)
    r = client.post(
        f"/api/v1/workspaces/{a.workspace_id}/approvals",
        headers=owner,
        json={"kind": "redaction.reidentify", "params": {"task": task_id}, "reason": "subject access"},
    )
    assert r.status_code == 201, r.text
    asked = r.json()
    assert asked["state"] == "pending" and asked["params"] == {"task": task_id}
    assert client.post(f"/api/v1/approvals/{asked['id']}/approve", headers=owner).status_code == 403  # own request
    assert client.post(f"/api/v1/approvals/{asked['id']}/approve", headers=b.headers("owner")).status_code == 404
    assert client.post(f"/api/v1/approvals/{asked['id']}/approve", headers=a.headers("manager")).status_code == 403
    pending = client.get(
        f"/api/v1/workspaces/{a.workspace_id}/approvals", headers=second, params={"state": "pending"}
    ).json()
    assert [p["id"] for p in pending] == [asked["id"]]
    r = client.post(f"/api/v1/approvals/{asked['id']}/approve", headers=second, json={"note": "checked the ticket"})
    assert r.status_code == 200 and r.json()["state"] == "approved"

    r = client.get(url, headers=second, params={"approval": asked["id"]})  # not the requester
    assert r.status_code == 403 and r.json()["error"]["details"]["problem"] == "not_requester"
    r = client.get(url, headers=owner, params={"approval": asked["id"]})
    assert r.status_code == 200 and r.json()["id"] == task_id
    r = client.get(url, headers=owner, params={"approval": asked["id"]})
    assert r.status_code == 403 and r.json()["error"]["details"]["problem"] == "used"
    assert client.get(f"/api/v1/approvals/{asked['id']}", headers=owner).json()["state"] == "used"


def test_break_glass_alerts_every_owner_who_marks_it_read(client, rt):
    side = make_side(rt, "hg", 1)
    task_id = _task(client, side)
    second = _co_owner_headers(rt, side)
    r = client.get(
        f"/api/v1/tasks/{task_id}/reidentified",
        headers=side.headers("owner"),
        params={"break_glass": "regulator's deadline today"},
    )
    assert r.status_code == 200, r.text
    for headers in (side.headers("owner"), second):
        got = client.get("/api/v1/me/alerts", headers=headers, params={"unread": "true"}).json()
        assert [a["kind"] for a in got] == ["approval.break_glass"]
        assert "regulator's deadline today" in got[0]["message"]
    assert client.get("/api/v1/me/alerts", headers=side.headers("manager")).json() == []
    mine = client.get("/api/v1/me/alerts", headers=second).json()[0]["id"]
    # Someone else's alert ids change nothing.
    assert client.post("/api/v1/me/alerts/read", headers=side.headers("manager"), json={"ids": [mine]}).json() == {
        "marked": 0
    }
    assert client.post("/api/v1/me/alerts/read", headers=second, json={"ids": [mine]}).json() == {"marked": 1}
    assert client.get("/api/v1/me/alerts", headers=second, params={"unread": "true"}).json() == []
    assert client.get("/api/v1/me/alerts", headers=side.headers("owner"), params={"unread": "true"}).json()
    audit = client.get(f"/api/v1/workspaces/{side.workspace_id}/audit", headers=side.headers("owner")).json()
    assert "approval.break_glass" in {e["action"] for e in audit["items"]}


def test_the_setting_and_wall_withdrawal_over_http(client, rt):
    a, b = make_side(rt, "hs", 1), make_side(rt, "ht", 1)
    owner, second = a.headers("owner"), _co_owner_headers(rt, a)
    url = f"/api/v1/workspaces/{a.workspace_id}/two-person-approval"
    assert client.get(url, headers=owner).json()["enabled"] is True
    assert client.get(url, headers=a.headers("manager")).status_code == 403
    r = client.put(url, headers=owner, json={"enabled": False})
    assert r.status_code == 403 and r.json()["error"]["code"] == "approval_required"

    client.post(f"/api/v1/workspaces/{a.workspace_id}/conflicts", headers=owner, json={"competitor": b.workspace_id})
    asked = client.post(
        f"/api/v1/workspaces/{a.workspace_id}/approvals",
        headers=owner,
        json={"kind": "wall.remove", "params": {"competitor": b.workspace_id}, "reason": "merged"},
    ).json()
    client.post(f"/api/v1/approvals/{asked['id']}/approve", headers=second)
    r = client.delete(
        f"/api/v1/workspaces/{a.workspace_id}/conflicts/{b.workspace_id}",
        headers=owner,
        params={"approval": asked["id"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["holder"] == a.workspace_id and r.json()["other_holders"] == []
    listed = client.get(f"/api/v1/workspaces/{b.workspace_id}/conflicts", headers=b.headers("owner")).json()
    assert listed[0]["holders"][0]["withdrawal_effective_at"] == r.json()["effective_at"]
    r = client.post(
        f"/api/v1/workspaces/{b.workspace_id}/conflicts/{a.workspace_id}/consent", headers=b.headers("owner")
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/workspaces/{b.workspace_id}/conflicts", headers=b.headers("owner")).json() == []


def _sign_in(client, rt, email):
    user = users.authenticate(rt, email, PASSWORD)
    secret, csrf = users.create_session(rt, user)
    client.cookies.set("bastion_session", secret)
    return csrf


def test_pages_list_pending_approvals_and_show_the_alert_banner(client, rt):
    side = make_side(rt, "hp", 1)
    first = make_user(rt, "first.owner@example.com", password=PASSWORD)
    second = make_user(rt, "second.owner@example.com", password=PASSWORD)
    for person in (first, second):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "owner")
    csrf = _sign_in(client, rt, first.email)
    page = client.get(f"/workspaces/{side.workspace_id}/approvals")
    assert page.status_code == 200 and "Nothing is waiting" in page.text
    r = client.post(
        f"/workspaces/{side.workspace_id}/approvals",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "action": "request",
            "kind": "keys.rotate",
            "params": "",
            "reason": "yearly <rotation>",
        },
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/workspaces/{side.workspace_id}/approvals").text
    assert "yearly &lt;rotation&gt;" in page and "yours: another owner decides" in page
    approval_id = page.split('name="approval" value="')[1].split('"')[0] if 'name="approval"' in page else None
    assert approval_id is None  # no decision form on one's own request
    r = client.post(
        f"/workspaces/{side.workspace_id}/approvals",
        data={"csrf_token": csrf, "action": "request", "kind": "keys.reencrypt", "params": "project", "reason": "x"},
    )
    assert r.status_code == 422 and "name=id" in r.text
    assert (
        client.post(
            f"/workspaces/{side.workspace_id}/approvals", data={"csrf_token": "forged", "action": "request"}
        ).status_code
        == 403
    )

    csrf = _sign_in(client, rt, second.email)
    home = client.get("/").text
    assert 'id="alerts"' in home and "asks for approval of keys.rotate" in home  # the decider is alerted
    page = client.get(f"/workspaces/{side.workspace_id}/approvals").text
    approval_id = page.split('name="approval" value="')[1].split('"')[0]
    r = client.post(
        f"/workspaces/{side.workspace_id}/approvals",
        follow_redirects=False,
        data={"csrf_token": csrf, "action": "approve", "approval": approval_id},
    )
    assert r.status_code == 303
    assert "approved" in client.get(f"/workspaces/{side.workspace_id}/approvals").text
    assert client.post("/alerts/read", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert 'id="alerts"' not in client.get("/").text
    assert client.get(f"/workspaces/{make_side(rt, 'hq', 0).workspace_id}/approvals").status_code == 404
    client.cookies.clear()


def test_walls_page_offers_the_other_side_consent(client, rt):
    a, b = make_side(rt, "wpa", 1), make_side(rt, "wpb", 1)
    b_owner = make_user(rt, "b.owner.pages@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), b.workspace_id, b_owner.id, "owner")
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    workforce.remove_conflict(
        a.ctx(rt, "owner"),
        a.workspace_id,
        b.workspace_id,
        approval=a.approval(rt, "wall.remove", {"competitor": b.workspace_id}),
    )
    csrf = _sign_in(client, rt, b_owner.email)
    page = client.get(f"/workspaces/{b.workspace_id}/walls").text
    assert "withdrawn, effective" in page and "Consent now" in page
    r = client.post(
        f"/workspaces/{b.workspace_id}/walls",
        follow_redirects=False,
        data={"csrf_token": csrf, "action": "consent", "competitor": a.workspace_id},
    )
    assert r.status_code == 303
    assert "No competitors declared" in client.get(f"/workspaces/{b.workspace_id}/walls").text
    client.cookies.clear()
