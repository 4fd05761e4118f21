"""Memberships that follow groups: added, changed, removed; what a group may not do, it does not."""

from __future__ import annotations

import pytest

from bastion.domain.errors import PermissionDenied
from bastion.domain.group_roles import parse_group_roles
from bastion.services import audit, queue, workforce, workspaces
from bastion.services.group_roles import apply_group_roles
from bastion.storage import memberships_store
from factories import as_user, make_side, make_user, operator_tx, system


def _role(rt, workspace_id, user_id):
    with operator_tx(rt, write=False) as tx:
        return memberships_store.find_role(tx, workspace_id, user_id)


def _actions(rt, workspace_id):
    return [e["action"] for e in audit.list_entries(system(rt), workspace_id, limit=500)["items"]]


def test_groups_add_change_and_remove_only_in_managed_workspaces(rt):
    a, b = make_side(rt, "ga", 2), make_side(rt, "gb", 2)
    person = make_user(rt, "sso@example.com")
    workspaces.add_member(system(rt), b.workspace_id, person.id, "reviewer")  # b is not managed by groups
    mapping = parse_group_roles(
        f'{{"labellers": {{"{a.workspace_id}": "annotator"}}, "leads": {{"{a.workspace_id}": "manager"}}}}'
    )

    sync = apply_group_roles(system(rt), person.id, ["labellers"], via="oidc", mapping=mapping)
    assert sync.added == {a.workspace_id: "annotator"} and _role(rt, a.workspace_id, person.id) == "annotator"
    assert apply_group_roles(system(rt), person.id, ["labellers"], via="oidc", mapping=mapping).changes == 0

    sync = apply_group_roles(system(rt), person.id, ["labellers", "leads"], via="scim", mapping=mapping)
    assert sync.changed == {a.workspace_id: "manager"} and _role(rt, a.workspace_id, person.id) == "manager"

    apply_group_roles(system(rt), person.id, ["labellers"], via="scim", mapping=mapping)
    assert queue.next_task(as_user(rt, person.id), a.project_id) is not None  # a lease, to be released
    sync = apply_group_roles(system(rt), person.id, [], via="scim", mapping=mapping)
    assert sync.removed == [a.workspace_id] and _role(rt, a.workspace_id, person.id) is None
    assert _role(rt, b.workspace_id, person.id) == "reviewer"  # untouched: b is not in the mapping
    assert queue.next_task(a.ctx(rt, "annotator"), a.project_id) is not None
    assert {"member.added", "member.role_changed", "member.removed"} <= set(_actions(rt, a.workspace_id))


def test_a_group_cannot_bypass_the_competitor_approval_or_an_exclusion(rt):
    a, b = make_side(rt, "ca", 1), make_side(rt, "cb", 1)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    person = make_user(rt, "both@example.com")
    mapping = parse_group_roles(f'{{"everyone": {{"{a.workspace_id}": "annotator", "{b.workspace_id}": "annotator"}}}}')
    sync = apply_group_roles(system(rt), person.id, ["everyone"], via="oidc", mapping=mapping)
    first, second = sorted([a.workspace_id, b.workspace_id])
    assert sync.added == {first: "annotator"}
    assert "two-person approval" in sync.refused[second]
    assert _role(rt, second, person.id) is None
    assert "member.group_refused" in _actions(rt, second)


def test_the_last_owner_is_never_removed_by_groups(rt):
    a = make_side(rt, "lo", 0)
    mapping = parse_group_roles(f'{{"x": {{"{a.workspace_id}": "annotator"}}}}')
    owner = a.users["owner"]
    sync = apply_group_roles(system(rt), owner, [], via="scim", mapping=mapping)
    assert a.workspace_id in sync.refused and _role(rt, a.workspace_id, owner) == "owner"
    # Each person's memberships follow their own groups when theirs are applied (at sign-in, on a SCIM change):
    # applying the owner's touched nobody else.
    assert _role(rt, a.workspace_id, a.users["annotator"]) == "annotator"


def test_only_the_deployment_applies_groups(rt):
    a = make_side(rt, "pd", 0)
    mapping = parse_group_roles(f'{{"x": {{"{a.workspace_id}": "owner"}}}}')
    for role in ("owner", "manager", "annotator"):
        with pytest.raises(PermissionDenied):
            apply_group_roles(a.ctx(rt, role), a.users[role], ["x"], via="oidc", mapping=mapping)
