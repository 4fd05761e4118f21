"""Memberships that follow a person's groups (single sign-on claims, SCIM groups).

``apply_group_roles`` makes a person's memberships of the workspaces the deployment's mapping
manages (domain/group_roles.py) match the groups their identity provider reports: it adds them
where a group grants a role, changes the role where it differs, and removes them where no group
grants one any more (their leases return to the pool). Workspaces the mapping never names are left
alone. The identity provider acts for the deployment, so this runs as the local operator
(``Actor.system()``); every change is audited in the workspace's log with ``via`` naming the source.

What a group cannot do is what an owner could not do alone either: a person with an affiliation the
workspace excludes is not added, and a person tied to a competitor needs the two-person approval
(services/approvals.py) — a group grant does not bypass it; the refusal is audited and returned, and
the person simply is not a member until someone approves an explicit addition. A workspace's last
owner is never removed by a group change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from . import workforce
from .context import Context
from ..domain.group_roles import GroupRoles, parse_group_roles
from ..domain.workspaces import Role
from ..storage import memberships_store, queue_store, users_store, workspaces_store


@dataclass(slots=True)
class GroupSync:
    added: dict[str, str] = field(default_factory=dict)  # workspace id -> role
    changed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # workspace id -> why

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


@lru_cache(maxsize=8)
def mapping_of(text: str | None) -> GroupRoles:
    """The deployment's mapping (parsed once per distinct setting value)."""
    return parse_group_roles(text)


def apply_group_roles(ctx: Context, user_id: str, groups, *, via: str, mapping: GroupRoles | None = None) -> GroupSync:
    """Make ``user_id``'s memberships of the managed workspaces match ``groups``; ``via``: 'oidc', 'scim'."""
    if mapping is None:
        mapping = mapping_of(ctx.rt.settings.group_roles)
    sync = GroupSync()
    if not mapping.managed:
        return sync
    wanted = mapping.roles_for(groups)
    with ctx.write() as w:
        w.access.require_admin("member.groups")  # the identity provider acts for the deployment
        for workspace_id in sorted(mapping.managed):
            if not workspaces_store.workspace_exists(w.tx, workspace_id):
                continue  # a mapping naming a deleted (or mistyped) workspace grants nothing
            role = wanted.get(workspace_id)
            held = memberships_store.find_role(w.tx, workspace_id, user_id)
            if role is not None and held is None:
                why = _refusal(w, user_id, workspace_id)
                if why:
                    sync.refused[workspace_id] = why
                    w.audit(workspace_id, "member.group_refused", user_id, role=role.value, via=via, why=why)
                    continue
                memberships_store.insert_membership(w.tx, workspace_id, user_id, role.value, w.now)
                w.audit(workspace_id, "member.added", user_id, role=role.value, via=via)
                sync.added[workspace_id] = role.value
            elif role is not None and held != role.value:
                if held == Role.OWNER.value and _last_owner(w, workspace_id, user_id):
                    sync.refused[workspace_id] = "the workspace's last owner keeps the role"
                    continue
                memberships_store.update_role(w.tx, workspace_id, user_id, role.value)
                w.audit(workspace_id, "member.role_changed", user_id, role=role.value, previous=held, via=via)
                sync.changed[workspace_id] = role.value
            elif role is None and held is not None:
                if held == Role.OWNER.value and _last_owner(w, workspace_id, user_id):
                    sync.refused[workspace_id] = "the workspace's last owner stays a member"
                    continue
                memberships_store.delete_membership(w.tx, workspace_id, user_id)
                released = queue_store.release_leases(w.tx, workspace_id, user_id)
                extra = {"leases_released": released} if released else {}
                w.audit(workspace_id, "member.removed", user_id, role=held, via=via, **extra)
                sync.removed.append(workspace_id)
    return sync


def _refusal(w, user_id: str, workspace_id: str) -> str | None:
    person = users_store.find_user(w.tx, user_id)
    if person is not None and not person.is_active:
        return "this person is deactivated"
    if workforce.is_excluded(w, user_id, workspace_id):
        return "this person holds an affiliation this workspace excludes"
    if workforce.competitor_ties(w, user_id, workspace_id):
        return "this person is tied to a competitor: adding them needs a two-person approval"
    return None


def _last_owner(w, workspace_id: str, user_id: str) -> bool:
    return memberships_store.list_user_ids(w.tx, workspace_id, roles=(Role.OWNER.value,)) == [user_id]
