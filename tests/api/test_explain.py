"""Wall explanations answer only about the workspace's own members, and show no other client's facts.

Attacks: A's auditor (and owner) asks about a person who works only for B — by
e-mail and by id — to learn their user id, B's workspace id and when they touched
B; and tells a known e-mail from an unknown one by the answer. A member of B asks
about A's people. Platform admins and the person themselves see everything.
"""

from __future__ import annotations

import pytest

from bastion.services import audit, queue, users, workforce, workspaces
from factories import as_user, make_side, make_token, make_user, system

PASSWORD = "explain password long"


@pytest.fixture
def sides(rt):
    a, b = make_side(rt, "xa", 2), make_side(rt, "xb", 2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id, cooling_off_days=30)
    queue.next_task(b.ctx(rt, "annotator"), b.project_id)  # B's annotator has touched B
    return a, b


def _get(client, side, role, ws, user):
    return client.get(f"/api/v1/workspaces/{ws}/walls/explain", params={"user": user}, headers=side.headers(role))


def test_outsiders_are_not_explained_and_known_equals_unknown(client, rt, sides):
    a, b = sides
    stranger = users.get_user(system(rt), b.users["annotator"])  # works for B only
    for role in ("owner", "auditor", "manager"):
        answers = [
            _get(client, a, role, a.workspace_id, ref)
            for ref in (stranger.email, stranger.id, "nobody@example.com", "usr_" + "0" * 32)
        ]
        for r in answers:
            assert r.status_code == 404, (role, r.text)
            assert b.workspace_id not in r.text and stranger.id not in r.text
        assert len({r.text for r in answers}) == 1, [r.text for r in answers]
    # A member of B asking in A (where they are nobody) cannot tell A's people from strangers either.
    answers = [
        _get(client, b, "owner", a.workspace_id, ref)
        for ref in (users.get_user(system(rt), a.users["annotator"]).email, "nobody@example.com")
    ]
    assert {r.status_code for r in answers} == {404} and answers[0].text == answers[1].text


def test_a_member_is_explained_without_the_other_clients_facts(client, rt, sides):
    a, b = sides
    both = make_user(rt, "both.explain@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, both.id, "annotator")
    queue.next_task(as_user(rt, both.id), b.project_id)
    r = _get(client, a, "auditor", a.workspace_id, both.email)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["allowed"] is False and body["member_role"] == "annotator"
    wall = body["reasons"][0]
    assert wall["kind"] == "wall" and wall["edge"]["other_workspace"] == b.workspace_id  # the edge A can list
    assert "history" not in wall  # not when they first or last touched B
    assert not any(ch.isdigit() for ch in wall["message"]), wall["message"]
    # The person themselves, and platform admins, see the whole story.
    own = client.get(
        f"/api/v1/workspaces/{a.workspace_id}/walls/explain",
        params={"user": both.id},
        headers={"Authorization": f"Bearer {make_token(rt, both.id)}"},
    ).json()
    assert own["reasons"][0]["history"]["workspace_id"] == b.workspace_id
    admin = make_user(rt, "root.explain@example.com", admin=True)
    full = client.get(
        f"/api/v1/workspaces/{a.workspace_id}/walls/explain",
        params={"user": both.email},
        headers={"Authorization": f"Bearer {make_token(rt, admin.id)}"},
    ).json()
    assert full["reasons"][0]["history"]["first_at"] > 0
    # Every explanation is on A's record (who asked, about whom), metadata only.
    log = audit.list_entries(system(rt), a.workspace_id, limit=1000)["items"]
    explained = [e for e in log if e["action"] == "wall.explained"]
    assert [e["target"] for e in explained] == [both.id] * 3
    assert explained[0]["actor"] == a.users["auditor"] and explained[0]["details"]["allowed"] is False
    assert set(explained[0]["details"]) == {"allowed", "token"}


def test_the_walls_page_answers_alike_for_outsiders(client, rt, sides):
    a, b = sides
    owner = make_user(rt, "owner.explain@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), a.workspace_id, owner.id, "owner")
    secret, _ = users.create_session(rt, users.authenticate(rt, owner.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    stranger = users.get_user(system(rt), b.users["annotator"])
    pages = [
        client.get(f"/workspaces/{a.workspace_id}/walls", params={"person": ref}, headers={"Accept": "text/html"})
        for ref in (stranger.email, "nobody@example.com")
    ]
    client.cookies.clear()
    for page in pages:  # (B's id is on the page: the competitors A declared; but no explanation is)
        assert page.status_code == 404 and 'id="explanation"' not in page.text and stranger.id not in page.text
    assert pages[0].text.replace(stranger.email, "nobody@example.com") == pages[1].text
