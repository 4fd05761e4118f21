"""Walls a competitor cannot lift: the attack over HTTP, on both databases.

A's owner declares B a competitor. B's owner (who would like A's experts) asks to
remove the wall through B's own URL; a sector group's wall is attacked the same way
by a member workspace's owner. Both are refused, and a person bound to A is still
refused B's tasks afterwards.
"""

from __future__ import annotations

from bastion.services import queue, workforce, workspaces
from factories import as_user, make_side, make_user, system


def _bound_to(rt, side, email):
    person = make_user(rt, email)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    assert queue.next_task(as_user(rt, person.id), side.project_id) is not None  # bound to this side
    return person


def test_the_other_side_cannot_remove_a_declared_wall(client, rt):
    a, b = make_side(rt, "wra", 2), make_side(rt, "wrb", 2)
    r = client.post(
        f"/api/v1/workspaces/{a.workspace_id}/conflicts",
        headers=a.headers("owner"),
        json={"competitor": b.workspace_id},
    )
    assert r.status_code == 201, r.text
    expert = _bound_to(rt, a, "expert.wr@example.com")
    workspaces.add_member(system(rt), b.workspace_id, expert.id, "annotator")

    # B's owner sees the wall (walls.read) but did not declare it: 403, not 404.
    r = client.delete(f"/api/v1/workspaces/{b.workspace_id}/conflicts/{a.workspace_id}", headers=b.headers("owner"))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden" and "declared" in r.json()["error"]["message"]
    # Through A's URL, B's owner is a stranger: 404 like any foreign workspace.
    r = client.delete(f"/api/v1/workspaces/{a.workspace_id}/conflicts/{b.workspace_id}", headers=b.headers("owner"))
    assert r.status_code == 404, r.text

    listed = client.get(f"/api/v1/workspaces/{b.workspace_id}/conflicts", headers=b.headers("owner")).json()
    assert [c["competitor"] for c in listed] == [a.workspace_id]
    headers = {"Authorization": f"Bearer {_token(rt, expert.id)}"}
    r = client.post(f"/api/v1/projects/{b.project_id}/next", headers=headers)
    assert r.status_code == 403 and "conflict-of-interest wall" in r.json()["error"]["message"]


def test_no_member_owner_removes_a_group_wall(client, rt):
    a, b = make_side(rt, "gra", 2), make_side(rt, "grb", 2)
    group = workforce.create_group(system(rt), "Frontier labs")
    for side in (a, b):
        workforce.add_to_group(system(rt), group, side.workspace_id)
    expert = _bound_to(rt, a, "expert.gr@example.com")
    workspaces.add_member(system(rt), b.workspace_id, expert.id, "annotator")
    for side, other in ((a, b), (b, a)):
        r = client.delete(
            f"/api/v1/workspaces/{side.workspace_id}/conflicts/{other.workspace_id}", headers=side.headers("owner")
        )
        assert r.status_code == 403, r.text
        assert "sector group" in r.json()["error"]["message"]
    headers = {"Authorization": f"Bearer {_token(rt, expert.id)}"}
    assert client.post(f"/api/v1/projects/{b.project_id}/next", headers=headers).status_code == 403


def _token(rt, user_id):
    from factories import make_token

    return make_token(rt, user_id)
