"""Sign-in hardening: rate limits, audit of sign-ins, sessions ending on logout and password change."""

from __future__ import annotations

import re

import orjson
from sqlalchemy import select

from bastion.services import users, workspaces
from bastion.storage import schema
from factories import fold_audit, make_side, make_user, operator_tx, system

PASSWORD = "a good long password"


def _login(client, email, password):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}, follow_redirects=False
    )


def _actions(rt, ws):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaves = (
            tx.execute(
                select(schema.audit_events.c.leaf)
                .where(schema.audit_events.c.workspace_id == ws)
                .order_by(schema.audit_events.c.seq)
            )
            .scalars()
            .all()
        )
    return [orjson.loads(x)["action"] for x in leaves]


def test_failed_sign_ins_are_limited_per_account_and_audited(client, rt):
    side = make_side(rt, "lg", n_tasks=0)
    user = make_user(rt, "victim@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
    for _ in range(5):
        assert _login(client, "victim@example.com", "wrong password!").status_code == 401
    r = _login(client, "victim@example.com", PASSWORD)  # even the right password waits now
    assert r.status_code == 429 and "too many failed sign-ins" in r.text
    assert _actions(rt, side.workspace_id).count("auth.login_failed") == 5
    other = make_user(rt, "other@example.com", password=PASSWORD)
    assert _login(client, other.email, PASSWORD).status_code == 303  # another account is unaffected


def test_login_csrf_and_open_redirects(client, rt):
    make_user(rt, "r@example.com", password=PASSWORD)
    r = client.post(
        "/login", data={"email": "r@example.com", "password": PASSWORD, "csrf_token": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403
    page = client.get("/login?next=//evil.example/x")
    assert 'value="/"' in page.text and "evil" not in page.text


def test_logout_and_password_change_end_every_session(client, rt):
    side = make_side(rt, "ss", n_tasks=0)
    user = make_user(rt, "s@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
    first = users.create_session(rt, users.authenticate(rt, "s@example.com", PASSWORD))[0]
    assert _login(client, "s@example.com", PASSWORD).status_code == 303
    assert client.get("/").status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set("bastion_session", first)
    assert client.get("/", follow_redirects=False).status_code == 303  # the other session ended too
    assert "auth.logout" in _actions(rt, side.workspace_id) and "auth.login" in _actions(rt, side.workspace_id)

    token = users.create_token(system(rt), user.id)[0]
    session = users.create_session(rt, users.authenticate(rt, "s@example.com", PASSWORD))[0]
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post(
        "/api/v1/me/password",
        headers=headers,
        json={"current_password": "not it", "new_password": "another long password"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "another long password"},
    )
    assert r.status_code == 204
    client.cookies.set("bastion_session", session)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert users.authenticate(rt, "s@example.com", "another long password").id == user.id
    client.cookies.clear()


def test_token_events_carry_the_token_id(client, rt):
    side = make_side(rt, "tk", n_tasks=1)
    r = client.post(f"/api/v1/projects/{side.project_id}/next", headers=side.headers("annotator"))
    assert r.status_code == 200
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaf = tx.execute(
            select(schema.audit_events.c.leaf).where(
                schema.audit_events.c.workspace_id == side.workspace_id, schema.audit_events.c.action == "task.shown"
            )
        ).scalar_one()
    assert orjson.loads(leaf)["details"]["token"].startswith("tok_")
    assert "token.created" in _actions(rt, side.workspace_id)


def test_deleted_workspace_leaves_a_signed_tombstone(client, rt):
    side = make_side(rt, "tb", n_tasks=1)
    saved = client.get(f"/api/v1/workspaces/{side.workspace_id}/audit/checkpoint", headers=side.headers("owner")).json()
    assert (
        client.delete(
            f"/api/v1/workspaces/{side.workspace_id}",
            headers=side.headers("owner"),
            params={"approval": side.approval(rt, "workspace.delete")},
        ).status_code
        == 204
    )
    stone = client.get(f"/api/v1/audit/tombstones/{side.workspace_id}", headers=side.headers("owner")).json()
    assert stone["deleted_by"] == side.users["owner"]
    final = stone["final_checkpoint"]
    assert final["size"] > saved["size"]
    from bastion.audit import parse_and_verify_checkpoint

    key = client.get("/api/v1/audit/public-key").json()["verifier_key"]
    assert parse_and_verify_checkpoint(final["note"], key).size == final["size"]
    assert client.get(f"/api/v1/workspaces/{side.workspace_id}", headers=side.headers("owner")).status_code == 404
