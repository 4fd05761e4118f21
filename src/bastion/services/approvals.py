"""Two-person approval: an operation that can leak or destroy a client's data wholesale needs a second person.

The operations (``KINDS``): withdrawing a conflict-of-interest wall, re-identifying
redacted originals (a task, or an export with them), reading canaries and who was
issued them, adding a person tied to a competitor, deleting the workspace, starting
new data keys and re-encrypting, and turning two-person approval off.

The flow, each step audited in the workspace's log:

1. **request** — one owner (``approval.request``) asks for exactly one operation:
   its kind and its parameters (ids; ``params``), with a reason. Platform admins
   are the authority instead for group walls and for deleting a workspace they do
   not own (``authority = admins``).
2. **decide** — a *different* person with the same authority approves or refuses
   it within the window (``approval_window_hours``).
3. **use** — the requester performs the operation passing the approval id; the
   operation's service calls ``consume`` once, inside its own transaction, after
   its own access check. ``consume`` checks kind, parameters, requester, the
   decision, that the approver still holds the authority, the window, and that it
   was not used; and marks it used in that same transaction, so a rolled-back
   operation leaves the approval unused and a committed one can never reuse it.

**Break-glass**: the operation with ``break_glass=<reason>`` works alone; it is
marked in the log (``approval.break_glass``) and alerts every owner of the
workspace (services/alerts.py). **The local operator** (``Actor.system()``, the CLI
on the server) needs no approval: it holds the machine and the key files, so a
second person could not stop it (docs/security.md); an approval it passes is still
checked and used, which ties the operation to the request in the log.

A workspace's ``two_person_approval`` flag (on by default) is turned off only
through an approved ``approval.disable`` request. Admin-authority operations need
approval whatever the flag says: the flag is the owners' choice about their own.

The trap: ``consume`` must run in the operation's transaction, after the access
check and the wall (a walled person is refused as such, approval or not) and
before anything irreversible (key destruction), and the parameters must
name the exact objects — an approval for one task is not one for another, nor for
the project.
"""

from __future__ import annotations

from typing import Any

import orjson

from . import alerts
from .context import Context, Unit
from .. import ids
from ..access import Action
from ..domain.errors import ApprovalRequired, Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.users import normalise_email
from ..domain.workspaces import Role
from ..storage import approvals_store, memberships_store, users_store, workforce_store, workspaces_store
from ..storage.approvals_store import Approval

HOUR_MS = 3600 * 1000
ROLES = tuple(r.value for r in Role)

# kind -> (what it allows, the parameter sets it accepts)
KINDS: dict[str, tuple[str, tuple[frozenset[str], ...]]] = {
    "wall.remove": (
        "Withdraw this workspace's declared wall with a competitor (competitor), or take the "
        "workspace out of a sector group (group; platform admins)",
        (frozenset({"competitor"}), frozenset({"group"})),
    ),
    "redaction.reidentify": (
        "See a task's original text (task), or export a project with the originals (project)",
        (frozenset({"task"}), frozenset({"project"})),
    ),
    "canary.list": (
        "Read a project's canaries (project), or one canary with who was issued it (canary)",
        (frozenset({"project"}), frozenset({"canary"})),
    ),
    "member.add_competitor": (
        "Add a person who belongs to, or worked for, a competitor (user, role)",
        (frozenset({"user", "role"}),),
    ),
    "workspace.delete": ("Delete the workspace and crypto-shred its data", (frozenset(),)),
    "keys.rotate": ("Start new data keys for every project of the workspace", (frozenset(),)),
    "keys.reencrypt": (
        "Re-encrypt a project under its current key and destroy its older keys (project)",
        (frozenset({"project"}),),
    ),
    "approval.disable": ("Turn two-person approval off for this workspace", (frozenset(),)),
}


def _reason(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise InvalidInput(f"{field}: why, in 1 to 500 characters (it is written into the audit log)")
    return value.strip()


def check_params(kind: Any, params: Any) -> dict[str, str]:
    """Validate a kind and its parameters; returns the parameters with their values stripped."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidInput("params: an object of ids")
    for key, value in params.items():
        if not isinstance(value, str) or not value.strip() or len(value) > 320:
            raise InvalidInput(f"params.{key}: an id (1 to 320 characters)")
    params = {key: value.strip() for key, value in params.items()}
    shapes = KINDS[kind][1]
    if frozenset(params) not in shapes:
        wanted = " or ".join("{" + ", ".join(sorted(s)) + "}" if s else "{}" for s in shapes)
        raise InvalidInput(f"params: {kind} takes {wanted}")
    if "role" in params and params["role"] not in ROLES:
        raise InvalidInput(f"params.role: one of {', '.join(ROLES)}")
    return params


def canonical(params: dict[str, str]) -> str:
    return orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()


def _window_ms(w: Unit) -> int:
    return int(w.rt.settings.approval_window_hours * HOUR_MS)


def _authority_of(w: Unit, kind: str, params: dict[str, str], workspace_id: str) -> str:
    """Who requests and decides: the workspace's owners, or platform admins."""
    if kind == "wall.remove" and "group" in params:
        return "admins"
    if kind == "workspace.delete" and w.access.role(workspace_id) is not Role.OWNER and w.actor.is_admin:
        return "admins"
    return "owners"


def _require_authority(w: Unit, authority: str, workspace_id: str, action: Action) -> None:
    if authority == "admins":
        w.access.require_admin("workforce.manage")
    else:
        w.access.require(action, workspace_id, what="approval")


def _holds_authority(w: Unit, authority: str, workspace_id: str, user_id: str) -> bool:
    if authority == "admins":
        return users_store.is_active_admin(w.tx, user_id)
    return memberships_store.find_role(w.tx, workspace_id, user_id) == Role.OWNER.value


def _people_with(w: Unit, authority: str, workspace_id: str) -> list[str]:
    if authority == "admins":
        return users_store.list_active_admin_ids(w.tx)
    return owners_of(w, workspace_id)


def owners_of(w: Unit, workspace_id: str) -> list[str]:
    return memberships_store.list_user_ids(w.tx, workspace_id, roles=(Role.OWNER.value,))


def _resolve_targets(w: Unit, workspace_id: str, kind: str, params: dict[str, str]) -> dict[str, str]:
    """The objects a request names must exist in this workspace (a user: anywhere); e-mails become ids."""
    for what in ("project", "task", "canary"):
        if what in params and not approvals_store.target_exists(w.tx, workspace_id, what, params[what]):
            raise NotFound(f"params.{what}: {what} not found in this workspace")
    if "user" in params:
        ref = params["user"]
        user = (
            users_store.find_user_by_email(w.tx, normalise_email(ref))
            if "@" in ref
            else users_store.find_user(w.tx, ref)
        )
        if user is None:
            raise NotFound("params.user: user not found")
        params = {**params, "user": user.id}
    if "competitor" in params:
        lo, hi = sorted((workspace_id, params["competitor"]))
        if not workforce_store.holds_wall(w.tx, lo, hi, workspace_id):
            raise NotFound("params.competitor: this workspace declared no wall with that workspace")
    if "group" in params and not workforce_store.is_group_member(w.tx, params["group"], workspace_id):
        raise NotFound("params.group: this workspace is not in that group")
    return params


def _state(row: Approval, now: int) -> str:
    """The state as of now: a request or approval past its window is expired, recorded or not yet."""
    return "expired" if row.state in ("pending", "approved") and row.expires_at <= now else row.state


def _out(row: Approval, now: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "kind": row.kind,
        "params": orjson.loads(row.params),
        "reason": row.reason,
        "authority": row.authority,
        "state": _state(row, now),
        "requested_by": row.requested_by,
        "requested_at": row.requested_at,
        "expires_at": row.expires_at,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "decision_note": row.decision_note,
        "used_at": row.used_at,
    }


def _expire_lapsed(w: Unit, workspace_id: str) -> None:
    """Requests and approvals past their window become ``expired`` (audited) at the workspace's next request or
    decision — reads show them expired without writing (no GET changes state)."""
    for row in approvals_store.list_lapsed(w.tx, workspace_id, w.now):
        approvals_store.expire_approval(w.tx, workspace_id, row.id)
        w.audit(workspace_id, "approval.expired", row.id, kind=row.kind, was=row.state)


def request(ctx: Context, workspace_id: str, kind: Any, params: Any, reason: Any) -> dict[str, Any]:
    """Ask for a second person's approval of one operation (owners; platform admins for their kinds)."""
    params = check_params(kind, params)
    reason = _reason(reason, "reason")
    with ctx.write() as w:
        authority = _authority_of(w, kind, params, workspace_id)
        _require_authority(w, authority, workspace_id, Action.APPROVAL_REQUEST)
        if ctx.actor.is_system:
            raise InvalidInput("the local operator needs no approval; a request is made by a person (their token)")
        if not workspaces_store.workspace_exists(w.tx, workspace_id):
            raise NotFound("workspace not found")
        params = _resolve_targets(w, workspace_id, kind, params)
        _expire_lapsed(w, workspace_id)
        approval_id = ids.new_id("apr")
        approvals_store.insert_approval(
            w.tx,
            workspace_id,
            approval_id,
            kind=kind,
            params=canonical(params),
            reason=reason,
            authority=authority,
            requested_by=ctx.actor.user_id,
            now=w.now,
            expires_at=w.now + _window_ms(w),
        )
        w.audit(
            workspace_id,
            "approval.requested",
            approval_id,
            kind=kind,
            params=params,
            reason=reason,
            authority=authority,
        )
        deciders = [p for p in _people_with(w, authority, workspace_id) if p != ctx.actor.user_id]
        alerts.notify(
            w,
            deciders,
            workspace_id,
            "approval.requested",
            f"{ctx.actor.email or ctx.actor.user_id} asks for approval of {kind} {canonical(params)}: {reason}",
            subject=approval_id,
        )
        return _out(approvals_store.get_approval(w.tx, workspace_id, approval_id), w.now)


def _find(w: Unit, approval_id: str, action: Action) -> Approval:
    """An approval within the actor's reach (404 elsewhere), if they hold its authority for ``action``."""
    actor = w.actor
    # admins reach admin-authority requests of every workspace; the local operator, every request
    row = approvals_store.find_approval_in(
        w.tx,
        approval_id,
        workspace_ids=None if actor.is_system else w.access.workspace_ids(),
        admin_authority=actor.is_admin,
    )
    if row is None:
        raise NotFound("approval not found")
    _require_authority(w, row.authority, row.workspace_id, action)
    return row


def get(ctx: Context, approval_id: str) -> dict[str, Any]:
    with ctx.read() as r:
        return _out(_find(r, approval_id, Action.APPROVAL_REQUEST), r.now)


def decide(ctx: Context, approval_id: str, *, approve: bool, note: str | None = None) -> dict[str, Any]:
    """Approve or refuse a request: a person with the same authority who did not make it."""
    if note is not None:
        note = _reason(note, "note")
    expired_at = None
    with ctx.write() as w:
        row = _find(w, approval_id, Action.APPROVAL_DECIDE)
        if ctx.actor.is_system:
            raise InvalidInput("a request is decided by a person (their token), not the local operator")
        if row.requested_by == ctx.actor.user_id:
            raise PermissionDenied("you made this request: a different person must decide it")
        if row.state != "pending":
            raise Conflict(f"this request is already {row.state}")
        ws = row.workspace_id
        if row.expires_at <= w.now:
            _expire_lapsed(w, ws)
            expired_at = row.expires_at
        else:
            state = "approved" if approve else "refused"
            approvals_store.record_decision(
                w.tx,
                ws,
                row.id,
                state=state,
                decided_by=ctx.actor.user_id,
                now=w.now,
                note=note,
                # an approval is then usable for one window from now
                expires_at=w.now + _window_ms(w) if approve else row.expires_at,
            )
            w.audit(
                ws,
                f"approval.{state}",
                row.id,
                kind=row.kind,
                requested_by=row.requested_by,
                **({"note": note} if note else {}),
            )
            alerts.notify(
                w,
                [row.requested_by],
                ws,
                f"approval.{state}",
                f"{ctx.actor.email or ctx.actor.user_id} {state} your request for {row.kind}",
                subject=row.id,
            )
            return _out(approvals_store.get_approval(w.tx, ws, row.id), w.now)
    raise Conflict(f"this request expired at {expired_at} before it was decided; ask again")


def list_approvals(ctx: Context, workspace_id: str, *, state: str | None = None, limit: int = 100) -> list[dict]:
    """A workspace's requests, newest first (owners; platform admins see those they decide)."""
    if state is not None and state not in ("pending", "approved", "refused", "used", "expired"):
        raise InvalidInput("state: pending, approved, refused, used or expired")
    if not 1 <= limit <= 500:
        raise InvalidInput("limit: from 1 to 500")
    with ctx.read() as r:
        if ctx.actor.is_admin and not r.access.allows(Action.APPROVAL_REQUEST, workspace_id):
            r.access.require_admin("workforce.manage")
            authority = "admins"
        else:
            r.access.require(Action.APPROVAL_REQUEST, workspace_id)
            authority = None
        rows = approvals_store.list_approvals(
            r.tx, workspace_id, authority=authority, state=state, now=r.now, limit=limit
        )
        return [_out(row, r.now) for row in rows]


def open_requests(u: Unit, workspace_id: str, kind: str) -> list[dict[str, Any]]:
    """The workspace's requests of ``kind`` still waiting for a decision or approved and unused, within
    their window (newest first): what a page shows beside the operation (the caller has decided access)."""
    rows = [
        row
        for state in ("pending", "approved")
        for row in approvals_store.list_approvals(u.tx, workspace_id, authority=None, state=state, now=u.now, limit=100)
        if row.kind == kind
    ]
    return [_out(row, u.now) for row in sorted(rows, key=lambda row: row.id, reverse=True)]


def is_required(w: Unit, workspace_id: str) -> bool:
    return workspaces_store.is_two_person_approval(w.tx, workspace_id)


def consume(
    w: Unit,
    kind: str,
    workspace_id: str,
    params: dict[str, str],
    *,
    approval_id: str | None = None,
    break_glass: str | None = None,
) -> str | None:
    """The gate of every two-person operation: call once, in its transaction, after its access check.

    Returns the approval id used, "break_glass", or None (no approval needed:
    the local operator, or a workspace that turned it off). Raises
    ``ApprovalRequired`` (403) with ``details.problem`` saying why otherwise.
    """
    if approval_id is not None and break_glass is not None:
        raise InvalidInput("approval, break_glass: give one or the other")
    actor = w.actor
    authority = _authority_of(w, kind, params, workspace_id)
    if break_glass is not None:
        reason = _reason(break_glass, "break_glass")
        w.audit(workspace_id, "approval.break_glass", None, kind=kind, params=params, reason=reason)
        told = owners_of(w, workspace_id)
        if authority == "admins":
            told += _people_with(w, "admins", workspace_id)
        alerts.notify(
            w,
            told,
            workspace_id,
            "approval.break_glass",
            f"break-glass: {actor.email or actor.user_id} did {kind} {canonical(params)} "
            f"without a second person: {reason}",
        )
        return "break_glass"
    if approval_id is None:
        if actor.is_system or (authority == "owners" and not is_required(w, workspace_id)):
            return None
        raise ApprovalRequired(
            f"{kind} needs two-person approval: request it (POST /api/v1/workspaces/{workspace_id}/approvals with "
            f"kind {kind!r} and params {canonical(params)}), have a second "
            f"{'platform admin' if authority == 'admins' else 'owner'} approve it, then pass its id as approval "
            "(or use break_glass with a reason: every owner is alerted)",
            details={"problem": "missing", "kind": kind, "params": params},
        )
    row = approvals_store.find_approval(w.tx, workspace_id, approval_id, lock=True)

    def refuse(problem: str, message: str):
        return ApprovalRequired(
            f"approval {approval_id}: {message}", details={"problem": problem, "kind": kind, "params": params}
        )

    if row is None:
        raise refuse("not_found", "not found in this workspace")
    if row.kind != kind or row.params != canonical(params):
        raise refuse("mismatch", f"it approves {row.kind} {row.params}, not {kind} {canonical(params)}")
    if not actor.is_system and row.requested_by != actor.user_id:
        raise refuse("not_requester", "only the person who requested it may use it")
    if row.state != "approved":
        raise refuse(row.state, f"it is {row.state}" + (" (not yet approved)" if row.state == "pending" else ""))
    if row.expires_at <= w.now:
        raise refuse("expired", f"it expired at {row.expires_at}; ask again")
    if (
        row.decided_by is None
        or row.decided_by == row.requested_by
        or not _holds_authority(w, row.authority, workspace_id, row.decided_by)
    ):
        raise refuse("approver", "whoever approved it no longer holds the authority to")
    if not approvals_store.mark_used(w.tx, workspace_id, row.id, w.now):
        raise refuse("used", "it was used already")
    w.audit(workspace_id, "approval.used", row.id, kind=kind, requested_by=row.requested_by, approved_by=row.decided_by)
    return row.id


def setting(ctx: Context, workspace_id: str) -> dict[str, Any]:
    with ctx.read() as r:
        r.access.require(Action.APPROVAL_REQUEST, workspace_id)
        return {"workspace_id": workspace_id, "enabled": is_required(r, workspace_id)}


def set_required(ctx: Context, workspace_id: str, enabled: bool, *, approval_id: str | None = None) -> dict[str, Any]:
    """Turn two-person approval on (any owner) or off (only through an approved ``approval.disable``)."""
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled: true or false")
    with ctx.write() as w:
        w.access.require(Action.APPROVAL_REQUEST, workspace_id)
        if not workspaces_store.workspace_exists(w.tx, workspace_id):
            raise NotFound("workspace not found")
        if is_required(w, workspace_id) != enabled:
            if not enabled:
                used = consume(w, "approval.disable", workspace_id, {}, approval_id=approval_id)
                if used is None and not w.actor.is_system:  # defensive: off only through an approval
                    raise ApprovalRequired("turning two-person approval off needs an approved approval.disable request")
            workspaces_store.set_two_person_approval(w.tx, workspace_id, enabled)
            w.audit(workspace_id, "approval.setting_changed", workspace_id, enabled=enabled)
        return {"workspace_id": workspace_id, "enabled": enabled}


__all__ = [
    "KINDS",
    "canonical",
    "check_params",
    "consume",
    "decide",
    "get",
    "is_required",
    "list_approvals",
    "open_requests",
    "owners_of",
    "request",
    "set_required",
    "setting",
]
