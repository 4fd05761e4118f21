"""Workspace roles granted by groups: the mapping an identity provider's groups are read through.

Single sign-on (OpenID Connect claims) and provisioning (SCIM groups) both hand Bastion a person's
group names; the deployment's mapping (``BASTION_GROUP_ROLES``) says which workspace role each group
grants::

    {"labellers-northwind": {"ws_01…": "annotator"},
     "leads":               {"ws_01…": "manager", "ws_02…": "reviewer"}}

A workspace named anywhere in the mapping is *managed by groups*: a person's role there is the
strongest role their groups grant, and a person none of whose groups names it is not a member of it.
Workspaces the mapping never names are left to their owners. Pure logic: parsing and resolving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

from .errors import InvalidInput
from .workspaces import Role

# When several groups grant roles in one workspace, the strongest wins. An auditor reads the log and
# nothing else, so any working role outranks it.
STRENGTH = {
    Role.AUDITOR: 0,
    Role.WORKFORCE_MANAGER: 1,
    Role.ANNOTATOR: 2,
    Role.REVIEWER: 3,
    Role.MANAGER: 4,
    Role.OWNER: 5,
}


@dataclass(frozen=True, slots=True)
class GroupRoles:
    grants: Mapping[str, Mapping[str, Role]]  # group -> workspace id -> role

    @property
    def managed(self) -> frozenset[str]:
        """The workspaces whose membership groups decide."""
        return frozenset(ws for roles in self.grants.values() for ws in roles)

    def roles_for(self, groups: Iterable[str]) -> dict[str, Role]:
        """Workspace id -> the strongest role the given groups grant there."""
        found: dict[str, Role] = {}
        for group in set(groups):
            for workspace_id, role in self.grants.get(group, {}).items():
                held = found.get(workspace_id)
                if held is None or STRENGTH[role] > STRENGTH[held]:
                    found[workspace_id] = role
        return found


NO_GROUP_ROLES = GroupRoles({})


def parse_group_roles(text: str | None, *, where: str = "BASTION_GROUP_ROLES") -> GroupRoles:
    """Read the mapping's JSON; errors name the setting and the path of what is wrong."""
    if text is None or not text.strip():
        return NO_GROUP_ROLES
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: must be an object of group name -> {{workspace id: role}}")
    grants: dict[str, dict[str, Role]] = {}
    for group, roles in value.items():
        if not group.strip():
            raise InvalidInput(f"{where}: a group name is empty")
        if not isinstance(roles, dict) or not roles:
            raise InvalidInput(f"{where}.{group}: must be a non-empty object of workspace id -> role")
        grants[group] = {}
        for workspace_id, role in roles.items():
            if not isinstance(workspace_id, str) or not workspace_id.startswith("ws_"):
                raise InvalidInput(f"{where}.{group}: {workspace_id!r} is not a workspace id (ws_…)")
            try:
                grants[group][workspace_id] = Role(role)
            except ValueError:
                raise InvalidInput(
                    f"{where}.{group}.{workspace_id}: {role!r} is not a role "
                    f"(one of: {', '.join(r.value for r in Role)})"
                ) from None
    return GroupRoles(grants)
