"""Workspaces (tenants) and their members.

Deleting a workspace crypto-shreds it: its data keys are destroyed in the
keyring first, then its rows are deleted, then the folder of its files. Once the
keys are gone nothing sealed with them can be read again, from this database or
from any copy of it. What remains is a tombstone (when, by whom, the log's final
signed checkpoint), readable by platform admins and by the people who were the
workspace's owners or auditors at deletion, and by whoever deleted it.
"""

from __future__ import annotations

from . import approvals, workforce
from .audit import checkpoint_now
from .context import Context, Unit
from .. import ids
from ..access import Action, policy_table_roles
from ..audit import checkpoint_to_json
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.projects import check_name
from ..domain.users import User, is_external_email, normalise_email
from ..domain.workspaces import Member, Role, Workspace
from ..storage import memberships_store, queue_store, users_store, workspaces_store


def _role(value) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"role: {value!r} is not a role (one of: {', '.join(r.value for r in Role)})") from None


def _require_active(user: User, what: str = "user") -> None:
    if not user.is_active and not is_external_email(user.email):
        raise Conflict(
            f"{what}: {user.email} is deactivated; a platform admin reactivates them "
            f"(bastion user activate {user.email}) before they can join a workspace"
        )


def _find_user(w: Unit, user_ref: str, what: str = "user") -> User:
    if "@" in user_ref:
        row = users_store.find_user_by_email(w.tx, normalise_email(user_ref))
        if row is None:
            # Accounts are made by platform admins, never as a side effect of adding a member
            # (an owner of one client cannot create people for the whole deployment).
            raise NotFound(
                f"{what}: user not found: no account uses {user_ref.strip()}; a platform admin creates it "
                f"(bastion user create {user_ref.strip()}), then add it here"
            )
        return row
    row = users_store.find_user(w.tx, user_ref)
    if row is None:
        raise NotFound(f"{what}: user not found")
    return row


def create_workspace(ctx: Context, name: str, *, owner: str | None = None) -> Workspace:
    """Create a workspace (platform admins). ``owner`` (id or e-mail) defaults to the creator."""
    name = check_name(name)
    with ctx.write() as w:
        w.access.require_admin("workspace.create")
        if owner is not None:
            found = _find_user(w, owner, "owner")
            _require_active(found, "owner")
            owner = found.id
        elif not ctx.actor.is_system:
            owner = ctx.actor.user_id
        ws_id = ids.new_id("ws")
        workspaces_store.insert_workspace(w.tx, ws_id, name=name, now=w.now, created_by=ctx.actor.user_id)
        if owner is not None:
            memberships_store.insert_membership(w.tx, ws_id, owner, Role.OWNER.value, w.now)
        w.audit(ws_id, "workspace.created", ws_id, name_length=len(name), owner=owner)
        return Workspace(ws_id, name, w.now, Role.OWNER if owner == ctx.actor.user_id else None)


def list_workspaces(ctx: Context) -> list[Workspace]:
    """The caller's workspaces (platform admins and the operator: all of them)."""
    with ctx.read() as r:
        if ctx.actor.is_admin:
            rows = workspaces_store.list_workspaces(r.tx, None)
        else:
            ws_ids = r.access.workspace_ids()
            if not ws_ids:
                return []
            rows = workspaces_store.list_workspaces(r.tx, ws_ids)
        return [Workspace(x.id, x.name, x.created_at, r.access.role(x.id)) for x in rows]


def get_workspace(ctx: Context, workspace_id: str) -> Workspace:
    with ctx.read() as r:
        r.access.require(Action.WORKSPACE_READ, workspace_id)
        row = workspaces_store.find_workspace(r.tx, workspace_id)
        if row is None:
            raise NotFound("workspace not found")
        return Workspace(row.id, row.name, row.created_at, r.access.role(row.id))


def delete_workspace(
    ctx: Context, workspace_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> int:
    """Crypto-shred a workspace: destroy its keys, then delete its rows. Returns keys destroyed.

    A two-person operation (services/approvals.py): the approval is used up before any key is destroyed.
    """
    with ctx.write() as r:
        r.access.require(Action.WORKSPACE_DELETE, workspace_id)
        if not workspaces_store.workspace_exists(r.tx, workspace_id):
            raise NotFound("workspace not found")
        approvals.consume(r, "workspace.delete", workspace_id, {}, approval_id=approval, break_glass=break_glass)
    # Keys first: if the row deletion below failed, the data would already be unreadable.
    destroyed = ctx.rt.keyring.destroy(workspace_id)
    with ctx.write() as w:
        w.access.require(Action.WORKSPACE_DELETE, workspace_id)
        # Every write acknowledged in the workspace is in the log before it is signed for the last
        # time: the writes still in flight (their queued audit entries reference this row) finish first.
        workspaces_store.lock_workspace(w.tx, workspace_id)
        # The log's last entry records the deletion; its final signed checkpoint outlives
        # the workspace in a tombstone, so the client can prove how its log ended.
        w.audit(workspace_id, "workspace.deleted", workspace_id, keys_destroyed=destroyed)
        w.flush_audit()
        final = checkpoint_now(w, workspace_id)
        assert final is not None  # the log holds at least the entry just flushed
        # Who may still read the tombstone once the memberships are gone: those who could read the log.
        readers = set(memberships_store.list_user_ids(w.tx, workspace_id, roles=policy_table_roles(Action.AUDIT_READ)))
        if not ctx.actor.is_system:
            readers.add(ctx.actor.user_id)
        workspaces_store.insert_tombstone(
            w.tx, workspace_id, deleted_at=w.now, deleted_by=ctx.actor.user_id, final_checkpoint=final, readers=readers
        )
        workspaces_store.delete_workspace(w.tx, workspace_id)
    # The files' bytes are sealed with the keys destroyed above; their folder (names, sizes) goes too.
    ctx.rt.blobs.delete_workspace(workspace_id)
    return destroyed


def get_tombstone(ctx: Context, workspace_id: str) -> dict:
    """What remains of a deleted workspace: when, by whom, and its log's final checkpoint.

    Platform admins, and the people who were its owners or auditors when it was deleted,
    read it; to everyone else it answers NotFound, as for a workspace never deleted.
    """
    with ctx.read() as r:
        row = workspaces_store.find_tombstone(r.tx, workspace_id)
        if row is None:
            raise NotFound("no deleted workspace with this id")
        r.access.require_tombstone(workspaces_store.list_tombstone_readers(r.tx, workspace_id))
    return {
        "workspace_id": row.workspace_id,
        "deleted_at": row.deleted_at,
        "deleted_by": row.deleted_by,
        "final_checkpoint": checkpoint_to_json(row.final_checkpoint),
    }


def add_member(
    ctx: Context,
    workspace_id: str,
    user_ref: str,
    role: str,
    *,
    approval: str | None = None,
    break_glass: str | None = None,
) -> Member:
    """Add a person (by id or e-mail) with a role, or change the role of a member.

    Adding someone tied to a competitor is a two-person operation (services/approvals.py).
    """
    role_v = _role(role)
    with ctx.write() as w:
        w.access.require(Action.MEMBER_MANAGE, workspace_id)
        acting_role = w.access.role(workspace_id)
        if role_v is Role.OWNER and acting_role not in (Role.OWNER, None):
            raise PermissionDenied("only owners and platform admins may make owners")
        user = _find_user(w, user_ref)
        _require_active(user)
        if workforce.is_excluded(w, user.id, workspace_id):
            raise Conflict("this person holds an affiliation this workspace excludes; they cannot be a member")
        existing = memberships_store.find_role(w.tx, workspace_id, user.id)
        if existing is None:
            # Adding a person who belongs to, or has live history with, a competitor: two-person approval.
            if workforce.competitor_ties(w, user.id, workspace_id):
                approvals.consume(
                    w,
                    "member.add_competitor",
                    workspace_id,
                    {"user": user.id, "role": role_v.value},
                    approval_id=approval,
                    break_glass=break_glass,
                )
            memberships_store.insert_membership(w.tx, workspace_id, user.id, role_v.value, w.now)
            w.audit(workspace_id, "member.added", user.id, role=role_v.value)
        elif existing != role_v.value:
            if existing == Role.OWNER.value and acting_role not in (Role.OWNER, None):
                raise PermissionDenied("only owners and platform admins may change an owner's role")
            _keep_an_owner(w, workspace_id, user.id, role_v)
            memberships_store.update_role(w.tx, workspace_id, user.id, role_v.value)
            w.audit(workspace_id, "member.role_changed", user.id, role=role_v.value, previous=existing)
        return Member(workspace_id, user.id, user.email, user.name, role_v, w.now)


def remove_member(ctx: Context, workspace_id: str, user_id: str) -> None:
    with ctx.write() as w:
        w.access.require(Action.MEMBER_MANAGE, workspace_id)
        role = memberships_store.find_role(w.tx, workspace_id, user_id)
        if role is None:
            raise NotFound("member not found")
        if role == Role.OWNER.value and w.access.role(workspace_id) not in (Role.OWNER, None):
            raise PermissionDenied("only owners and platform admins may remove an owner")
        _keep_an_owner(w, workspace_id, user_id, None)
        memberships_store.delete_membership(w.tx, workspace_id, user_id)
        # Their leases, assignments included (services/task_assignees.py), return to the pool.
        released = queue_store.release_leases(w.tx, workspace_id, user_id)
        w.audit(
            workspace_id, "member.removed", user_id, role=role, **({"leases_released": released} if released else {})
        )


def _keep_an_owner(w: Unit, workspace_id: str, user_id: str, new_role: Role | None) -> None:
    owners = memberships_store.list_user_ids(w.tx, workspace_id, roles=(Role.OWNER.value,))
    if owners == [user_id] and new_role is not Role.OWNER:
        raise Conflict("a workspace keeps at least one owner")


def list_members(ctx: Context, workspace_id: str) -> list[Member]:
    with ctx.read() as r:
        r.access.require(Action.MEMBER_READ, workspace_id)
        return memberships_store.list_members(r.tx, workspace_id)


def names_known(ctx: Context, workspace_ids) -> dict[str, str]:
    """The names of those of ``workspace_ids`` the caller may know: workspaces they are a member of
    (platform admins and the operator: all). Others are left out, so a page that names the other side
    of a wall reveals no client's name to a person outside it (docs/walls.md)."""
    wanted = set(workspace_ids)
    if not wanted:
        return {}
    with ctx.read() as r:
        if not ctx.actor.is_admin:
            wanted &= set(r.access.workspace_ids())
        rows = workspaces_store.list_workspaces(r.tx, sorted(wanted)) if wanted else []
        return {row.id: row.name for row in rows}


def allowed_actions(ctx: Context, workspace_id: str) -> frozenset[Action]:
    """What the caller may do in a workspace (for showing the right buttons; services still check)."""
    with ctx.read() as r:
        r.access.require(Action.WORKSPACE_READ, workspace_id)
        return frozenset(a for a in Action if r.access.allows(a, workspace_id))
