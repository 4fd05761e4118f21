"""The workforce pages: conflicts, exclusions, explanations, people."""

from __future__ import annotations

from bastion.services import queue, users, workspaces
from factories import make_side, make_user, system

PASSWORD = "pages password long"


def _sign_in(client, rt, email):
    user = users.authenticate(rt, email, PASSWORD)
    secret, csrf = users.create_session(rt, user)
    client.cookies.set("bastion_session", secret)
    return csrf


def test_owner_declares_a_competitor_and_explains(client, rt):
    a, b = make_side(rt, "pa", 1), make_side(rt, "pb", 1)
    owner = make_user(rt, "owner.pages@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), a.workspace_id, owner.id, "owner")
    csrf = _sign_in(client, rt, owner.email)
    page = client.get(f"/workspaces/{a.workspace_id}/walls")
    assert page.status_code == 200 and "No competitors declared" in page.text
    r = client.post(
        f"/workspaces/{a.workspace_id}/walls",
        data={"csrf_token": csrf, "action": "add-conflict", "competitor": b.workspace_id, "cooling_off_days": "30"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert b.workspace_id in client.get(f"/workspaces/{a.workspace_id}/walls").text
    r = client.post(
        f"/workspaces/{a.workspace_id}/walls",
        data={"csrf_token": csrf, "action": "add-exclusion", "org": "Rival <Capital>", "kind": "investor"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Rival &lt;Capital&gt;" in client.get(f"/workspaces/{a.workspace_id}/walls").text
    r = client.post(
        f"/workspaces/{a.workspace_id}/walls",
        data={"csrf_token": csrf, "action": "add-conflict", "competitor": "ws_nope"},
    )
    assert r.status_code == 422 and "not found" in r.text
    # A member who worked for B is explained as walled.
    both = make_user(rt, "both.pages@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, both.id, "annotator")
    from factories import as_user

    queue.next_task(as_user(rt, both.id), b.project_id)
    page = client.get(f"/workspaces/{a.workspace_id}/walls", params={"person": both.email})
    assert "Denied" in page.text and b.workspace_id in page.text
    assert (
        client.post(f"/workspaces/{a.workspace_id}/walls", data={"csrf_token": "bad", "action": "x"}).status_code == 403
    )
    assert client.get(f"/workspaces/{b.workspace_id}/walls").status_code == 404  # not a member of B
    client.cookies.clear()


def test_people_page_is_for_admins(client, rt):
    make_user(rt, "admin.pages@example.com", admin=True, password=PASSWORD)
    make_user(rt, "plain.pages@example.com", password=PASSWORD)
    _sign_in(client, rt, "admin.pages@example.com")
    page = client.get("/people")
    assert page.status_code == 200 and "plain.pages@example.com" in page.text
    _sign_in(client, rt, "plain.pages@example.com")
    assert client.get("/people").status_code == 403
    client.cookies.clear()
