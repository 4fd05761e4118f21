"""A walled-off person's view: the rival workspace is gone from their home page, and every
refusal (the 403 page, the API's error) speaks in dates and names — never a raw millisecond
timestamp or a ``ws_`` id.

The person is an annotator of two competing workspaces (a declared conflict, no cooling-off),
and has worked in one: the other is walled off for them.
"""

from __future__ import annotations

import re

from bastion.services import queue, users, workforce, workspaces
from factories import make_side, make_token, make_user, system

PASSWORD = "wall wording password"
RAW_MS = re.compile(r"\b1\d{12}\b")  # a millisecond timestamp of this century
IDS = re.compile(r"\b(ws|prj|usr)_[0-9a-z]{6,}")


def _walled(rt, *, cooling_off_days=None):
    a, b = make_side(rt, "acme", 2), make_side(rt, "globex", 2)
    workforce.add_conflict(system(rt), a.workspace_id, b.workspace_id, cooling_off_days=cooling_off_days)
    person = make_user(rt, "both.wording@example.com", password=PASSWORD)
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    from factories import as_user

    assert queue.next_task(as_user(rt, person.id), a.project_id) is not None  # works on A's data: B is walled
    return a, b, person


def _sign_in(client, rt, email):
    user = users.authenticate(rt, email, PASSWORD)
    secret, csrf = users.create_session(rt, user)
    client.cookies.set("bastion_session", secret)
    return csrf


def _speaks_plainly(message: str) -> None:
    message = re.sub(r"<[^>]*>", " ", message)  # what the person reads, not the markup's attributes
    assert not RAW_MS.search(message), message
    assert not IDS.search(message), message


def test_home_page_leaves_out_the_walled_workspace_and_says_why(client, rt):
    a, b, person = _walled(rt)
    _sign_in(client, rt, person.email)
    page = client.get("/")
    assert page.status_code == 200
    assert "Project acme" in page.text and f"/projects/{a.project_id}/label" in page.text
    # B's projects are gone: no name, no link, no Label button.
    assert "Project globex" not in page.text
    assert f"/projects/{b.project_id}" not in page.text
    # One line names it and says why, as its 403 would.
    section = page.text[page.text.index('id="walled-off"') :]
    assert "Workspace globex" in section and "Workspace acme" in section
    _speaks_plainly(section.split("</section>")[0])
    client.cookies.clear()


def test_refusal_page_speaks_in_dates_and_names(client, rt):
    a, b, person = _walled(rt)
    _sign_in(client, rt, person.email)
    page = client.get(f"/projects/{b.project_id}", headers={"accept": "text/html"})
    assert page.status_code == 403
    text = page.text
    assert "Workspace acme" in text and "Workspace globex" in text
    assert re.search(r"\d{1,2} [A-Z][a-z]+ 20\d\d, \d\d:\d\d UTC", text), text
    _speaks_plainly(text[text.index("<main") :])
    client.cookies.clear()


def test_api_refusal_speaks_in_dates_and_names_and_when_the_wall_lifts(client, rt):
    a, b, person = _walled(rt, cooling_off_days=30)
    token = make_token(rt, person.id)
    r = client.post(f"/api/v1/projects/{b.project_id}/next", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    message = r.json()["error"]["message"]
    assert message.startswith("access refused by a conflict-of-interest wall")
    assert "you have worked on Workspace acme since" in message and "Workspace globex" in message
    assert "until" in message and " UTC" in message  # a cooling-off wall says when it lifts
    _speaks_plainly(message)


def test_a_workspace_the_person_is_no_longer_in_is_not_named(client, rt):
    a, b, person = _walled(rt)
    workspaces.remove_member(system(rt), a.workspace_id, person.id)
    token = make_token(rt, person.id)
    r = client.post(f"/api/v1/projects/{b.project_id}/next", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    message = r.json()["error"]["message"]
    assert "Workspace acme" not in message and "a competing client's workspace" in message
    _speaks_plainly(message)
