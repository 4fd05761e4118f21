"""SCIM 2.0 provisioning: an identity provider creates, changes and deactivates people, and groups
them (web/scim.py speaks the protocol; this module decides).

* **Who may call.** A SCIM token (``bscim_…``), created by a platform admin (``bastion scim token
  create``), kept apart from people's API tokens (its own table): it resolves to the operator
  acting for the identity provider and is accepted by /scim/v2 alone; a person's token is
  refused there, and a SCIM token everywhere else (``resolve_token`` of services/users.py never
  finds it).
* **People.** ``userName`` is the person's e-mail; ``displayName`` (or ``name.formatted``) their
  name; ``active`` whether they may sign in (``users.deactivate_user``: sessions end, tokens are
  revoked, leases return to the pool, at once); ``externalId`` is kept for the identity provider.
  An e-mail already in use answers a conflict: an identity provider links an existing person by
  finding them (``filter=userName eq …``). External annotators (``ext:…``) are never shown.
* **DELETE** deactivates the person and unlinks them: SCIM answers 404 for them afterwards and
  their group memberships end, but their row, memberships' history and every audit entry stay —
  Bastion never loses the record of what a person did. Creating the same e-mail again links the
  same person anew (active as the request says; no old session or token comes back).
* **Groups** follow ``BASTION_GROUP_ROLES`` (services/group_roles.py): whenever a group's members
  change, or a group is renamed or deleted, every affected person's workspace memberships are made
  to match the display names of all their groups.

Every change is audited in the logs of the workspaces the person belongs to
(``users.record_for_person``), with the SCIM token's id; SCIM runs in the operator's
row-level-security scope.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from . import users
from .context import Context, Unit
from .group_roles import apply_group_roles
from .runtime import Runtime
from .. import ids
from ..access import Actor
from ..domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from ..domain.text import MESSAGE, NUL
from ..domain.users import normalise_email
from ..storage import scim_store, users_store, workspaces_store
from ..storage.scim_store import ScimGroup, ScimPerson, ScimToken

TOKEN_PREFIX = "bscim_"
LAST_USED_RESOLUTION_MS = 60_000
MAX_TEXT = 200


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _text(what: str, value: str | None, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{what}: required")
        return None if value is None else ""
    if NUL in value:
        raise InvalidInput(f"{what}: {MESSAGE}")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what}: at most {MAX_TEXT} characters")
    return value


# -- tokens ---------------------------------------------------------------------------------


def create_token(ctx: Context, name: str = "") -> tuple[str, ScimToken]:
    """A SCIM token (platform admins, the operator); the secret is returned once, only its digest kept.
    Every workspace's log records it: the token can deactivate anyone."""
    name = _text("name", name) or ""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        token_id = ids.new_id("stk")
        scim_store.insert_token(
            w.tx, token_id, name=name, token_hash=_digest(secret), created_by=ctx.actor.user_id, now=w.now
        )
        for workspace_id in workspaces_store.list_workspace_ids(w.tx):
            w.audit(workspace_id, "scim.token_created", token_id, name=name)
        token = scim_store.find_token(w.tx, token_id)
    assert token is not None  # inserted just above
    return secret, token


def list_tokens(ctx: Context) -> list[ScimToken]:
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        return scim_store.list_tokens(r.tx)


def revoke_token(ctx: Context, token_id: str) -> None:
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        if scim_store.find_token(w.tx, token_id) is None:
            raise NotFound("SCIM token not found")
        if scim_store.revoke_token(w.tx, token_id, w.now):
            for workspace_id in workspaces_store.list_workspace_ids(w.tx):
                w.audit(workspace_id, "scim.token_revoked", token_id)


def resolve_token(rt: Runtime, secret: str) -> Context:
    """The context a SCIM request runs in; Unauthenticated for anything but a live SCIM token."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        raise Unauthenticated("a SCIM token is required (bastion scim token create)")
    operator = Context(rt, Actor.system())
    with operator.read() as r:
        token = scim_store.find_token_by_hash(r.tx, _digest(secret))
        now = r.now
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("invalid or revoked SCIM token")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION_MS:
        with operator.write() as w:
            scim_store.touch_token(w.tx, token.id, w.now)
    return Context(rt, Actor(kind="system", user_id="system", is_admin=True, via="scim", token_id=token.id))


# -- people ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonIn:
    """What a SCIM request says of a person."""

    email: str
    name: str
    active: bool = True
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class PersonView:
    person: ScimPerson
    groups: list[ScimGroup] = field(default_factory=list)


def _check_person(data: PersonIn) -> PersonIn:
    return PersonIn(
        email=normalise_email(_text("userName", data.email, required=True) or ""),
        name=(_text("displayName", data.name) or "").strip(),
        active=data.active,
        external_id=_text("externalId", data.external_id),
    )


def _view(w: Unit, user_id: str) -> PersonView:
    person = scim_store.find_person(w.tx, user_id)
    if person is None:
        raise NotFound("user not found")
    return PersonView(person, scim_store.groups_of(w.tx, user_id))


def get_person(ctx: Context, user_id: str) -> PersonView:
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        return _view(r, user_id)


def find_people(ctx: Context, *, email: str | None = None, external_id: str | None = None) -> list[PersonView]:
    """People by e-mail (userName, emails.value) or externalId; an e-mail that is none matches nobody."""
    if email is not None:
        try:
            email = normalise_email(email)
        except InvalidInput:
            return []
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        found = scim_store.find_people(r.tx, email=email, external_id=external_id)
        return [PersonView(p, scim_store.groups_of(r.tx, p.id)) for p in found]


def list_people(ctx: Context, *, offset: int = 0, limit: int | None = None) -> tuple[int, list[PersonView]]:
    """(how many SCIM shows, one page of them in id order)."""
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        total = scim_store.count_people(r.tx)
        page = scim_store.list_people(r.tx, offset=offset, limit=limit)
        return total, [PersonView(p, scim_store.groups_of(r.tx, p.id)) for p in page]


def create_person(ctx: Context, data: PersonIn) -> PersonView:
    """A new person (or one deleted through SCIM before, linked anew); Conflict when the e-mail is in use."""
    data = _check_person(data)
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        existing = users_store.find_user_by_email(w.tx, data.email)
        if existing is not None and not scim_store.is_unlinked(w.tx, existing.id):
            raise Conflict(f"userName: a user with e-mail {data.email} already exists")
        if existing is None:
            user_id = ids.new_id("usr")
            users_store.insert_user(
                w.tx, user_id, data.email, name=data.name, password_hash=None, is_admin=False, now=w.now
            )
            action = "scim.user_created"
        else:
            user_id = existing.id
            users_store.update_name(w.tx, user_id, data.name)
            action = "scim.user_relinked"
        scim_store.link(w.tx, user_id, external_id=data.external_id, now=w.now)
        _set_active(w, user_id, data.active)
        users.record_for_person(w, user_id, action, user_id, active=data.active)
        return _view(w, user_id)


def replace_person(ctx: Context, user_id: str, data: PersonIn) -> PersonView:
    """PUT (and PATCH, once applied): the person becomes what ``data`` says."""
    data = _check_person(data)
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        before = scim_store.find_person(w.tx, user_id)
        if before is None:
            raise NotFound("user not found")
        changed = []
        if data.email != before.email:
            if users_store.email_taken(w.tx, data.email):
                raise Conflict(f"userName: a user with e-mail {data.email} already exists")
            users_store.update_email(w.tx, user_id, data.email)
            changed.append("userName")
        if data.name != before.name:
            users_store.update_name(w.tx, user_id, data.name)
            changed.append("displayName")
        if data.external_id != before.external_id:
            changed.append("externalId")
        if data.active != before.is_active:
            changed.append("active")
        scim_store.link(w.tx, user_id, external_id=data.external_id, now=w.now)
        _set_active(w, user_id, data.active)
        if changed:
            users.record_for_person(w, user_id, "scim.user_changed", user_id, changed=changed)
        view = _view(w, user_id)
    if data.active and not before.is_active:  # groups grant no role while deactivated: now they do
        _sync_roles(ctx, {user_id})
    return view


def _set_active(w: Unit, user_id: str, active: bool) -> None:
    if active:
        users.activate_in(w, user_id, via="scim")
    else:
        users.deactivate_in(w, user_id, via="scim")


def delete_person(ctx: Context, user_id: str) -> None:
    """Deactivate and unlink: SCIM shows them no more (404); their row and history stay."""
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        if scim_store.find_person(w.tx, user_id) is None:
            raise NotFound("user not found")
        users.deactivate_in(w, user_id, via="scim")
        groups = scim_store.remove_from_all_groups(w.tx, user_id)
        scim_store.unlink(w.tx, user_id, w.now)
        users.record_for_person(w, user_id, "scim.user_deleted", user_id, groups_left=len(groups))
    _sync_roles(ctx, {user_id})


# -- groups ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupIn:
    display_name: str
    external_id: str | None = None
    members: frozenset[str] = frozenset()  # user ids


@dataclass(frozen=True, slots=True)
class GroupView:
    group: ScimGroup
    members: list[scim_store.Member]


def _check_group(data: GroupIn) -> GroupIn:
    name = (_text("displayName", data.display_name, required=True) or "").strip()
    if not name:
        raise InvalidInput("displayName: required")
    return GroupIn(name, _text("externalId", data.external_id), frozenset(data.members))


def _group_view(w: Unit, group_id: str) -> GroupView:
    group = scim_store.find_group(w.tx, group_id)
    if group is None:
        raise NotFound("group not found")
    return GroupView(group, scim_store.members_of(w.tx, [group_id])[group_id])


def _require_people(w: Unit, user_ids: frozenset[str]) -> None:
    unknown = set(user_ids) - scim_store.existing_user_ids(w.tx, set(user_ids))
    if unknown:
        raise InvalidInput(f"members: no such user: {', '.join(sorted(unknown)[:5])}")


def get_group(ctx: Context, group_id: str) -> GroupView:
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        return _group_view(r, group_id)


def find_groups(ctx: Context, *, display_name: str | None = None, external_id: str | None = None) -> list[GroupView]:
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        found = scim_store.find_groups(r.tx, display_name=display_name, external_id=external_id)
        members = scim_store.members_of(r.tx, [g.id for g in found])
        return [GroupView(g, members[g.id]) for g in found]


def list_groups(ctx: Context, *, offset: int = 0, limit: int | None = None) -> tuple[int, list[GroupView]]:
    with ctx.read() as r:
        r.access.require_admin("scim.manage")
        total = scim_store.count_groups(r.tx)
        page = scim_store.list_groups(r.tx, offset=offset, limit=limit)
        members = scim_store.members_of(r.tx, [g.id for g in page])
        return total, [GroupView(g, members[g.id]) for g in page]


def create_group(ctx: Context, data: GroupIn) -> GroupView:
    data = _check_group(data)
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        if scim_store.group_name_taken(w.tx, data.display_name):
            raise Conflict(f"displayName: a group named {data.display_name!r} already exists")
        _require_people(w, data.members)
        group_id = ids.new_id("grp")
        scim_store.insert_group(w.tx, group_id, display_name=data.display_name, external_id=data.external_id, now=w.now)
        scim_store.add_members(w.tx, group_id, set(data.members))
        for user_id in sorted(data.members):
            users.record_for_person(w, user_id, "scim.group_joined", user_id, group=data.display_name)
        view = _group_view(w, group_id)
    _sync_roles(ctx, set(data.members))
    return view


def replace_group(ctx: Context, group_id: str, data: GroupIn) -> GroupView:
    """PUT (and PATCH, once applied): name, external id and members become what ``data`` says."""
    data = _check_group(data)
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        before = scim_store.find_group(w.tx, group_id)
        if before is None:
            raise NotFound("group not found")
        if scim_store.group_name_taken(w.tx, data.display_name, other_than=group_id):
            raise Conflict(f"displayName: a group named {data.display_name!r} already exists")
        held = scim_store.member_ids(w.tx, group_id)
        joining = set(data.members) - held
        _require_people(w, frozenset(joining))
        leaving = held - set(data.members)
        scim_store.update_group(w.tx, group_id, display_name=data.display_name, external_id=data.external_id, now=w.now)
        scim_store.add_members(w.tx, group_id, joining)
        scim_store.remove_members(w.tx, group_id, leaving)
        renamed = before.display_name != data.display_name
        for user_id in sorted(joining):
            users.record_for_person(w, user_id, "scim.group_joined", user_id, group=data.display_name)
        for user_id in sorted(leaving):
            users.record_for_person(w, user_id, "scim.group_left", user_id, group=before.display_name)
        if renamed:
            for user_id in sorted(held & set(data.members)):
                users.record_for_person(
                    w, user_id, "scim.group_renamed", user_id, group=data.display_name, previous=before.display_name
                )
        view = _group_view(w, group_id)
    _sync_roles(ctx, joining | leaving | (set(data.members) if renamed else set()))
    return view


def delete_group(ctx: Context, group_id: str) -> None:
    with ctx.write() as w:
        w.access.require_admin("scim.manage")
        group = scim_store.find_group(w.tx, group_id)
        if group is None:
            raise NotFound("group not found")
        held = scim_store.member_ids(w.tx, group_id)
        scim_store.delete_group(w.tx, group_id)
        for user_id in sorted(held):
            users.record_for_person(w, user_id, "scim.group_left", user_id, group=group.display_name, deleted=True)
    _sync_roles(ctx, held)


def _sync_roles(ctx: Context, user_ids: set[str]) -> None:
    """Each affected person's managed memberships follow the names of all their groups (BASTION_GROUP_ROLES)."""
    if not user_ids:
        return
    for user_id in sorted(user_ids):
        with ctx.read() as r:
            if users_store.find_user(r.tx, user_id) is None:
                continue
            names = scim_store.group_names_of(r.tx, user_id)
        apply_group_roles(ctx, user_id, names, via="scim")
