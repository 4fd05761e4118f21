"""The review page of a project whose review is off says so, rather than "Nothing waits"."""

from __future__ import annotations

from bastion.services import projects, users, workspaces
from factories import as_user, make_side, make_user, system

PASSWORD = "review off password"


def _reviewer(client, rt, side, tag):
    person = make_user(rt, f"reviewer.{tag}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "reviewer")
    projects.get_project(as_user(rt, person.id), side.project_id)  # opened: bound to the workspace
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def test_review_off_is_said_where_nothing_would_wait(client, rt):
    off = make_side(rt, "rv-off", 2)  # review defaults to none
    csrf = _reviewer(client, rt, off, "off")
    page = client.get(f"/projects/{off.project_id}/review", headers={"accept": "text/html"})
    assert 'id="review-off-note"' in page.text
    done = client.post(
        f"/projects/{off.project_id}/review/next", data={"csrf_token": csrf}, headers={"hx-request": "true"}
    )
    assert done.status_code == 200 and "Review is off for this project" in done.text
    assert "Nothing waits" not in done.text
    client.cookies.clear()

    on = make_side(rt, "rv-on", 2, settings={"quality": {"review": "all"}})
    csrf = _reviewer(client, rt, on, "on")
    assert 'id="review-off-note"' not in client.get(f"/projects/{on.project_id}/review").text
    done = client.post(
        f"/projects/{on.project_id}/review/next", data={"csrf_token": csrf}, headers={"hx-request": "true"}
    )
    assert "Nothing waits for your review" in done.text and "Review is off" not in done.text
    client.cookies.clear()
