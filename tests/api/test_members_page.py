"""The members page: names and e-mails with roles; add by e-mail, change a role, remove — owners and
managers, as the API decides; an e-mail with no account is refused and creates nothing."""

from __future__ import annotations

import html
import re

import pytest

from bastion.services import audit, users, workforce, workspaces
from factories import ROLES, make_side, make_user, system

PASSWORD = "members page password"
HTML = {"Accept": "text/html"}


def _text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", response.text))


def _member(rt, side, role, tag="p"):
    person = make_user(rt, f"{role}.{tag}.{side.workspace_id[-6:]}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    return person


def _sign_in(client, rt, person) -> str:
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def _roles(rt, workspace_id) -> dict[str, str]:
    return {m.email: m.role.value for m in workspaces.list_members(system(rt), workspace_id)}


def test_a_manager_adds_changes_and_removes_members_by_name_and_email(client, rt):
    side = make_side(rt, "mem", 1)
    manager = _member(rt, side, "manager")
    newcomer = make_user(rt, "newcomer.mem@example.com")
    csrf = _sign_in(client, rt, manager)
    url = f"/workspaces/{side.workspace_id}/members"
    page = client.get(url, headers=HTML)
    assert page.status_code == 200
    assert "owner.mem@example.com" in page.text and "manager.p." in page.text
    assert "usr_" not in _text(page)  # people by name and e-mail, never by id
    assert 'value="owner"' not in page.text.split('id="add-member"')[1]  # only owners make owners

    r = client.post(
        url, data={"csrf_token": csrf, "action": "add", "email": " Newcomer.Mem@example.com ", "role": "reviewer"}
    )
    assert r.status_code == 200 and "Member added." in r.text  # followed the 303 back
    assert _roles(rt, side.workspace_id)["newcomer.mem@example.com"] == "reviewer"
    assert "newcomer" in _text(client.get(url, headers=HTML))

    r = client.post(
        url,
        data={"csrf_token": csrf, "action": "role", "user": newcomer.id, "role": "annotator"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _roles(rt, side.workspace_id)["newcomer.mem@example.com"] == "annotator"
    r = client.post(url, data={"csrf_token": csrf, "action": "remove", "user": newcomer.id}, follow_redirects=False)
    assert r.status_code == 303 and "newcomer.mem@example.com" not in _roles(rt, side.workspace_id)
    events = [e["action"] for e in audit.list_entries(system(rt), side.workspace_id, limit=1000)["items"]]
    assert {"member.added", "member.role_changed", "member.removed"} <= set(events)

    # Refusals, each named, nothing changed.
    before = _roles(rt, side.workspace_id)
    r = client.post(
        url, data={"csrf_token": csrf, "action": "add", "email": "nobody.mem@example.com", "role": "annotator"}
    )
    assert r.status_code == 422
    assert "no account uses nobody.mem@example.com" in _text(r) and "bastion user create" in _text(r)
    assert users.find_user_by_email(system(rt), "nobody.mem@example.com") is None  # no account is made
    r = client.post(url, data={"csrf_token": csrf, "action": "add", "email": "x@example.com", "role": "boss"})
    assert r.status_code == 422 and "role" in _text(r)
    r = client.post(url, data={"csrf_token": csrf, "action": "add", "email": "not-an-email", "role": "annotator"})
    assert r.status_code == 422 and "email" in _text(r)
    owner_id = side.users["owner"]
    r = client.post(url, data={"csrf_token": csrf, "action": "role", "user": owner_id, "role": "annotator"})
    assert r.status_code == 403  # a manager does not unmake an owner
    r = client.post(url, data={"csrf_token": csrf, "action": "add", "email": newcomer.email, "role": "owner"})
    assert r.status_code == 403  # nor make one
    assert client.post(url, data={"action": "remove", "user": owner_id}).status_code == 403  # no CSRF token
    assert _roles(rt, side.workspace_id) == before
    client.cookies.clear()


def test_the_last_owner_stays_and_a_competitors_person_needs_approval(client, rt):
    side, rival = make_side(rt, "own", 1), make_side(rt, "riv", 1)
    workforce.add_conflict(system(rt), side.workspace_id, rival.workspace_id)
    owner = make_user(rt, "sole.owner@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, owner.id, "owner")
    workspaces.remove_member(system(rt), side.workspace_id, side.users["owner"])
    csrf = _sign_in(client, rt, owner)
    url = f"/workspaces/{side.workspace_id}/members"
    r = client.post(url, data={"csrf_token": csrf, "action": "remove", "user": owner.id})
    assert r.status_code == 422 and "at least one owner" in _text(r)
    r = client.post(url, data={"csrf_token": csrf, "action": "role", "user": owner.id, "role": "manager"})
    assert r.status_code == 422 and "at least one owner" in _text(r)
    # Someone who belongs to the competitor: a second owner's approval first.
    tied = make_user(rt, "tied.riv@example.com")
    workspaces.add_member(system(rt), rival.workspace_id, tied.id, "annotator")
    r = client.post(url, data={"csrf_token": csrf, "action": "add", "email": tied.email, "role": "annotator"})
    assert r.status_code == 422 and "two-person approval" in _text(r)
    assert tied.email not in _roles(rt, side.workspace_id)
    assert _roles(rt, side.workspace_id)[owner.email] == "owner"
    client.cookies.clear()


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_and_changes_members(client, rt, role):
    side, other = make_side(rt, f"w{role[:3]}", 1), make_side(rt, f"x{role[:3]}", 1)
    person = _member(rt, side, role)
    target = make_user(rt, f"target.{role}@example.com")
    csrf = _sign_in(client, rt, person)
    url = f"/workspaces/{side.workspace_id}/members"
    reads = role in ("owner", "manager", "auditor")
    manages = role in ("owner", "manager")
    page = client.get(url, headers=HTML)
    assert page.status_code == (200 if reads else 403)
    if reads:
        assert ('id="add-member"' in page.text) is manages
    r = client.post(url, data={"csrf_token": csrf, "action": "add", "email": target.email, "role": "annotator"})
    assert r.status_code == (200 if manages else 403)
    assert (target.email in _roles(rt, side.workspace_id)) is manages
    home = client.get("/", headers=HTML).text
    assert (f'href="/workspaces/{side.workspace_id}/members"' in home) is reads
    # Another workspace: as if it did not exist.
    assert client.get(f"/workspaces/{other.workspace_id}/members", headers=HTML).status_code == 404
    r = client.post(
        f"/workspaces/{other.workspace_id}/members",
        data={"csrf_token": csrf, "action": "add", "email": target.email, "role": "annotator"},
    )
    assert r.status_code == 404 and target.email not in _roles(rt, other.workspace_id)
    client.cookies.clear()
