"""Deactivating a person takes effect on their very next request, whichever way they come in.

The invariant: once ``deactivate_user`` commits, a cookie or token that worked a moment ago is
refused (401, or the sign-in page), the sign-in form refuses the right password, their leases are
back in the pool (each workspace's log says so), and reactivating them revives none of it.
"""

from __future__ import annotations

import re

import orjson
import pytest
from sqlalchemy import select

from bastion.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.services import queue, users, workspaces
from bastion.storage import schema
from factories import as_user, fold_audit, make_side, make_token, make_user, operator_tx, system

PASSWORD = "a good long password"


def _login(client, email, password):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}, follow_redirects=False
    )


def _events(rt, ws):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaves = tx.execute(
            select(schema.audit_events.c.leaf)
            .where(schema.audit_events.c.workspace_id == ws)
            .order_by(schema.audit_events.c.seq)
        ).scalars()
        return [orjson.loads(x) for x in leaves]


def _open_leases(rt, ws, user_id):
    a = schema.assignments
    with operator_tx(rt, write=False) as tx:
        return tx.execute(
            select(a.c.id).where(a.c.workspace_id == ws, a.c.user_id == user_id, a.c.state == "leased")
        ).all()


def _ways_in(client, cookie, token):
    """Status of: a page with the cookie, the API with the cookie, the API with the token."""
    client.cookies.set("bastion_session", cookie)
    page = client.get("/", follow_redirects=False).status_code
    api_cookie = client.get("/api/v1/me").status_code
    client.cookies.clear()
    api_token = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
    return page, api_cookie, api_token


def test_the_request_right_after_deactivation_is_refused_every_way_in(client, rt):
    a = make_side(rt, "da", n_tasks=3)
    b = make_side(rt, "db", n_tasks=3)
    admin = make_user(rt, "boss@example.com", admin=True)
    admin_headers = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    person = make_user(rt, "leaver@example.com", password=PASSWORD)
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    token = make_token(rt, person.id)
    read_token = make_token(rt, person.id, scope="read")
    assert _login(client, person.email, PASSWORD).status_code == 303
    cookie = client.cookies.get("bastion_session")
    client.cookies.clear()
    for side in (a, b):  # a lease in each workspace
        assert queue.next_task(as_user(rt, person.id), side.project_id) is not None
        assert len(_open_leases(rt, side.workspace_id, person.id)) == 1
    assert _ways_in(client, cookie, token) == (200, 200, 200)

    r = client.post(f"/api/v1/users/{person.id}/deactivate", headers=admin_headers)
    assert r.status_code == 200 and r.json()["is_active"] is False

    assert _ways_in(client, cookie, token) == (303, 401, 401)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {read_token}"}).status_code == 401
    assert _login(client, person.email, PASSWORD).status_code == 401  # the right password, refused
    for side in (a, b):
        assert _open_leases(rt, side.workspace_id, person.id) == []  # the tasks are back in the pool
        [event] = [e for e in _events(rt, side.workspace_id) if e["action"] == "person.deactivated"]
        assert event["target"] == person.id and event["details"]["leases_released"] == 1
        assert event["details"]["tokens_revoked"] == 2 and event["actor"] == admin.id
    assert all(t.revoked_at is not None for t in users.list_tokens(system(rt), person.id))
    # Their history stays: still a member, their rows kept.
    assert person.id in {m.user_id for m in workspaces.list_members(system(rt), a.workspace_id)}

    r = client.post(f"/api/v1/users/{person.id}/activate", headers=admin_headers)
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert _ways_in(client, cookie, token) == (303, 401, 401)  # nothing from before comes back
    assert _login(client, person.email, PASSWORD).status_code == 303  # they sign in afresh
    fresh = make_token(rt, person.id)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert "person.activated" in [e["action"] for e in _events(rt, a.workspace_id)]


def test_only_platform_admins_deactivate_and_never_themselves(client, rt):
    side = make_side(rt, "dp", n_tasks=0)
    admin = make_user(rt, "root@example.com", admin=True)
    victim = side.users["annotator"]
    for role in ("owner", "manager", "auditor"):
        r = client.post(f"/api/v1/users/{victim}/deactivate", headers=side.headers(role))
        assert r.status_code == 403, role
        with pytest.raises(PermissionDenied):
            users.deactivate_user(side.ctx(rt, role), victim)
    with pytest.raises(InvalidInput, match="cannot deactivate yourself"):
        users.deactivate_user(as_user(rt, admin.id, is_admin=True), admin.id)
    with pytest.raises(NotFound):
        users.deactivate_user(system(rt), "usr_nobody")
    assert client.get("/api/v1/me", headers=side.headers("annotator")).status_code == 200
    assert users.deactivate_user(system(rt), victim) is True
    assert users.deactivate_user(system(rt), victim) is False  # already so: nothing changes twice


def test_a_deactivated_person_cannot_join_a_workspace(client, rt):
    side = make_side(rt, "dj", n_tasks=0)
    person = make_user(rt, "gone@example.com")
    users.deactivate_user(system(rt), person.id)
    with pytest.raises(Conflict, match="gone@example.com is deactivated"):
        workspaces.add_member(system(rt), side.workspace_id, person.email, "annotator")
    r = client.post(
        f"/api/v1/workspaces/{side.workspace_id}/members",
        json={"user": person.email, "role": "annotator"},
        headers=side.headers("owner"),
    )
    assert r.status_code == 409 and "deactivated" in r.json()["error"]["message"]
    with pytest.raises(Conflict, match="deactivated"):
        workspaces.create_workspace(system(rt), "Theirs", owner=person.email)
    users.activate_user(system(rt), person.id)
    workspaces.add_member(system(rt), side.workspace_id, person.email, "annotator")


def test_the_people_page_deactivates_and_activates(client, rt):
    make_user(rt, "pageadmin@example.com", admin=True, password=PASSWORD)
    person = make_user(rt, "someone@example.com", password=PASSWORD)
    assert _login(client, "pageadmin@example.com", PASSWORD).status_code == 303
    page = client.get("/people")
    assert page.status_code == 200 and "Deactivate someone@example.com" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/people/{person.id}/active", data={"csrf_token": "forged", "active": "0"})
    assert r.status_code == 403 and users.get_user(system(rt), person.id).is_active
    r = client.post(f"/people/{person.id}/active", data={"csrf_token": csrf, "active": "0"}, follow_redirects=False)
    assert r.status_code == 303 and not users.get_user(system(rt), person.id).is_active
    assert "Activate someone@example.com" in client.get("/people").text
    r = client.post(f"/people/{person.id}/active", data={"csrf_token": csrf, "active": "1"}, follow_redirects=False)
    assert r.status_code == 303 and users.get_user(system(rt), person.id).is_active
