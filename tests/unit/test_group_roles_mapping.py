"""The group -> workspace role mapping: parsing errors name the path, the strongest role wins."""

from __future__ import annotations

import pytest

from bastion.domain.errors import InvalidInput
from bastion.domain.group_roles import NO_GROUP_ROLES, parse_group_roles
from bastion.domain.workspaces import Role


def test_strongest_role_wins_and_unmapped_groups_grant_nothing():
    mapping = parse_group_roles(
        '{"labellers": {"ws_a": "annotator"}, "leads": {"ws_a": "manager", "ws_b": "auditor"},'
        ' "audit": {"ws_b": "annotator"}}'
    )
    assert mapping.managed == {"ws_a", "ws_b"}
    assert mapping.roles_for(["labellers", "leads", "unknown"]) == {"ws_a": Role.MANAGER, "ws_b": Role.AUDITOR}
    assert mapping.roles_for(["leads", "audit"])["ws_b"] is Role.ANNOTATOR  # any working role outranks auditor
    assert mapping.roles_for([]) == {}
    assert parse_group_roles(None) is NO_GROUP_ROLES and parse_group_roles("  ") is NO_GROUP_ROLES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "BASTION_GROUP_ROLES: not JSON"),
        ("[]", "BASTION_GROUP_ROLES: must be an object"),
        ('{"g": []}', "BASTION_GROUP_ROLES.g: must be a non-empty object"),
        ('{"g": {}}', "BASTION_GROUP_ROLES.g: must be a non-empty object"),
        ('{"g": {"prj_1": "owner"}}', "BASTION_GROUP_ROLES.g: 'prj_1' is not a workspace id"),
        ('{"g": {"ws_1": "boss"}}', "BASTION_GROUP_ROLES.g.ws_1: 'boss' is not a role"),
        ('{" ": {"ws_1": "owner"}}', "a group name is empty"),
    ],
)
def test_errors_name_what_is_wrong(text, expected):
    with pytest.raises(InvalidInput) as info:
        parse_group_roles(text)
    assert expected in info.value.message
