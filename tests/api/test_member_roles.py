"""Changing and removing members' roles, every acting role against every target role, as docs/permissions.md says.

The expectations are read from the docs: the roles of the ``member.manage`` row may manage
members (others get 403, people outside the workspace 404), and "Only owners (and platform
admins) make or remove owners; a workspace always keeps one."
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from bastion.services import workspaces
from factories import ROLES, make_side, make_token, make_user, system

DOCS = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
ACTORS = (*ROLES, "admin", "outsider")


def _documented_managers() -> set[str]:
    text = DOCS.read_text()
    assert "Only owners (and platform admins) make or remove owners; a workspace always keeps one." in text
    row = re.search(r"^\| `member\.manage` \|.*\| ([a-z, ]+) \|$", text, re.M)
    return {r.strip() for r in row.group(1).split(",")}


def _expected(actor: str, current: str, new: str | None) -> int:
    managers = _documented_managers() | {"admin"}
    if actor == "outsider":
        return 404
    if actor not in managers:
        return 403
    if (current == "owner" or new == "owner") and actor not in ("owner", "admin"):
        return 403
    return 201 if new is not None else 204


@pytest.fixture
def members_world(rt, client):
    side = make_side(rt, "mr", n_tasks=0)
    # A second owner, so that no case below touches the last one.
    workspaces.add_member(system(rt), side.workspace_id, make_user(rt, "owner2.mr@example.com").id, "owner")
    admin = make_user(rt, "admin.mr@example.com", admin=True)
    outsider = make_side(rt, "other", n_tasks=0)
    headers = {role: side.headers(role) for role in ROLES}
    headers["admin"] = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    headers["outsider"] = outsider.headers("owner")
    return side, headers


def test_every_role_changing_and_removing_every_role(rt, client, members_world):
    side, headers = members_world
    ws = side.workspace_id
    wrong = []
    for n, (actor, current, new) in enumerate(itertools.product(ACTORS, ROLES, (*ROLES, None))):
        target = make_user(rt, f"target{n}.mr@example.com")
        workspaces.add_member(system(rt), ws, target.id, current)
        if new is None:
            r = client.delete(f"/api/v1/workspaces/{ws}/members/{target.id}", headers=headers[actor])
        else:
            r = client.post(
                f"/api/v1/workspaces/{ws}/members", headers=headers[actor], json={"user": target.id, "role": new}
            )
        want = _expected(actor, current, new)
        roles = {m.user_id: m.role.value for m in workspaces.list_members(system(rt), ws)}
        after = roles.get(target.id)
        changed_as_asked = after == new if r.status_code < 300 else after == current
        if r.status_code != want or not changed_as_asked:
            wrong.append(
                f"{actor} {'removing' if new is None else 'making'} {current}"
                f"{'' if new is None else ' ' + new}: {r.status_code} (docs: {want}), role now {after}"
            )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_the_last_owner_stays(rt, client, actor):
    side = make_side(rt, "lo", n_tasks=0)
    admin = make_user(rt, "admin.lo@example.com", admin=True)
    headers = side.headers("owner") if actor == "owner" else {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    ws, owner = side.workspace_id, side.users["owner"]
    r = client.post(f"/api/v1/workspaces/{ws}/members", headers=headers, json={"user": owner, "role": "manager"})
    assert r.status_code == 409
    assert client.delete(f"/api/v1/workspaces/{ws}/members/{owner}", headers=headers).status_code == 409
