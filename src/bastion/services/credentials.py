"""People's credentials: NDAs, clearances and certificates, the credentials a project requires, and
the reminders before they expire (docs/workforce.md, "Credentials").

Who does what:

* a credential is scoped to **one client workspace** (recorded by that workspace's holders of
  ``people.manage``: owners, managers, workforce managers; or by a platform admin) or to **every
  workspace** (deployment data, like skills: platform admins only, ``workforce.manage``);
* nobody but a platform admin records or revokes their own credential (an annotator, or a manager,
  cannot vouch for themselves);
* ``people.read`` lists the credentials of a workspace's members that count there; a person sees
  their own (``mine``); a workspace the caller is not a member of, a credential of another
  workspace and a person outside the workspace are all "not found".

Routing (``require_credentials``, called by services/queue.py and services/annotations.py):
a project with ``required_credentials`` serves, shows and takes answers only from people holding
a valid (unrevoked, begun, unexpired) credential of each in scope; the refusal
(``CredentialRequired``, HTTP 403 ``credential_required``) names each one and when it expired. The
check runs on every ``next`` — also when the person already holds a lease — on the labelling page's
showing of a held task and on every submit, so an expired NDA refuses the very next request: the
person reads and answers nothing more. A project requiring nothing pays nothing (no query); one
requiring something pays one indexed query (``credentials_store.held_in_scope``).

Leases: a revocation ends the person's leases, at once, in the projects the credential no longer
lets them work on; an expiry ends them at the next sweep (``sweep``: every
``credential_sweep_seconds`` in a job runner, or ``bastion credential remind``) — meanwhile the
lease is held but nothing is shown or taken from it, and it runs out by itself anyway.

Reminders: the sweep announces each credential's approach to expiry once per threshold
(``credential_reminder_days``, default 30 and 7 days) as a ``credential.expiring`` event, and the
expiry itself once as ``credential.expired``, in the workspace it is scoped to (every workspace the
person belongs to, for a deployment-wide one). The threshold announced is recorded on the row by a
guarded update in the events' transaction, so no threshold is announced twice, whichever runners
sweep at once; a sweep that comes late announces only the nearest threshold passed.

Everything is audited (``person.credential_added``, ``person.credential_revoked``,
``person.credential_expired``) in the logs of the workspaces the credential counts in. Never task
content: kinds, names, issuers, dates and ids.
"""

from __future__ import annotations

from typing import Any

from .context import Context, Unit
from .. import ids
from ..access import Action
from ..domain.credentials import (
    CredentialRequired,
    CredentialRequirement,
    Held,
    check_kind,
    unmet,
)
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.users import User, normalise_email
from ..storage import credentials_store, memberships_store, projects_store, users_store, workspaces_store
from ..storage.credentials_store import CredentialRow
from ..storage.projects_store import settings_of

DAY_MS = 24 * 3600 * 1000
SWEEP_BATCH = 200
SWEEP_ROUNDS = 50
MAX_TEXT = 200
MAX_DOCUMENT = 500


# -- routing ---------------------------------------------------------------------------------


def require_credentials(w: Unit, project, user_id: str) -> None:
    """Refuse (``CredentialRequired``) a person lacking a valid credential the project requires, in scope.

    No query when the project requires none; one indexed query otherwise."""
    required = project.settings.required_credentials
    if not required:
        return
    kinds = [r.kind for r in required]
    missing = unmet(required, credentials_store.held_in_scope(w.tx, user_id, project.workspace_id, kinds), w.now)
    if missing:
        raise CredentialRequired.of(missing)


# -- input -----------------------------------------------------------------------------------


def _text(value: Any, field: str, limit: int = MAX_TEXT, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise InvalidInput(f"{field}: required (1 to {limit} characters)")
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise InvalidInput(f"{field}: 1 to {limit} characters")
    text = " ".join(value.split())
    if any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{field}: no control characters")
    return text


def _instant(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 253_402_300_799_000:
        raise InvalidInput(f"{field}: an instant in epoch milliseconds")
    return value


def _person(w: Unit, ref: str) -> User:
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("person: an e-mail address or a user id")
    ref = ref.strip()
    row = users_store.find_user_by_email(w.tx, normalise_email(ref)) if "@" in ref else users_store.find_user(w.tx, ref)
    if row is None:
        raise NotFound("person not found")
    return row


def _member(w: Unit, workspace_id: str, ref: str) -> User:
    """A member of the workspace (platform admins: anyone); anyone else is not found."""
    row = _person(w, ref)
    if not w.actor.is_admin and memberships_store.find_role(w.tx, workspace_id, row.id) is None:
        raise NotFound("person not found")
    return row


def _manage(w: Unit, workspace_id: str | None) -> None:
    """May the caller record or revoke a credential of this scope (None: every workspace)?"""
    if workspace_id is None:
        w.access.require_admin("workforce.manage")
        return
    if w.actor.is_admin:
        if w.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        if not workspaces_store.workspace_exists(w.tx, workspace_id):
            raise NotFound("workspace not found")
        return
    w.access.require(Action.PEOPLE_MANAGE, workspace_id)


def _logs(w: Unit, row: CredentialRow) -> list[str]:
    """The workspaces a credential counts in: its own, or (deployment-wide) the person's."""
    if row.workspace_id is not None:
        return [row.workspace_id]
    return sorted(memberships_store.list_workspace_ids_of(w.tx, row.user_id))


def _out(row: CredentialRow, now: int, email: str | None = None) -> dict[str, Any]:
    held = Held(row.kind, row.name, row.issued_at, row.expires_at, row.revoked_at)
    if row.revoked_at is not None:
        state = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    elif not held.valid(now):
        state = "not_yet_valid"
    else:
        state = "valid"
    return {
        "id": row.id,
        "user_id": row.user_id,
        **({"email": email} if email is not None else {}),
        "workspace_id": row.workspace_id,
        "scope": "all" if row.workspace_id is None else "workspace",
        "kind": row.kind,
        "name": row.name,
        "issuer": row.issuer,
        "issued_at": row.issued_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
        "document": row.document,
        "state": state,
        "created_at": row.created_at,
    }


# -- recording, listing, revoking ----------------------------------------------------------


def add_credential(
    ctx: Context,
    person: str,
    *,
    kind: Any,
    name: Any,
    issuer: Any,
    workspace_id: str | None,
    issued_at: Any = None,
    expires_at: Any = None,
    document: Any = None,
) -> dict[str, Any]:
    """Record a credential a person holds, for one workspace (``workspace_id``) or every workspace (None)."""
    try:
        kind_v = check_kind(kind)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    name_v = _text(name, "name")
    issuer_v = _text(issuer, "issuer")
    document_v = _text(document, "document", MAX_DOCUMENT, required=False)
    issued = _instant(issued_at, "issued_at")
    expires = _instant(expires_at, "expires_at")
    if issued is not None and expires is not None and expires <= issued:
        raise InvalidInput("expires_at: must be after issued_at")
    if workspace_id is not None and (not isinstance(workspace_id, str) or not workspace_id.strip()):
        raise InvalidInput("workspace_id: a workspace id, or none for every workspace")
    with ctx.write() as w:
        _manage(w, workspace_id)
        row = _member(w, workspace_id, person) if workspace_id is not None else _person(w, person)
        if row.id == ctx.actor.user_id and not ctx.actor.is_admin:
            raise PermissionDenied("nobody records their own credentials: ask another manager")
        if expires is not None and expires <= w.now:
            raise InvalidInput("expires_at: already past (record the renewed credential's dates)")
        record = CredentialRow(
            id=ids.new_id("crd"),
            user_id=row.id,
            workspace_id=workspace_id,
            kind=kind_v,
            name=name_v or "",
            issuer=issuer_v or "",
            issued_at=issued,
            expires_at=expires,
            revoked_at=None,
            document=document_v,
            reminded_days=None,
            created_by=None if ctx.actor.is_system else ctx.actor.user_id,
            created_at=w.now,
        )
        credentials_store.insert_credential(w.tx, record)
        for ws in _logs(w, record):
            w.audit(
                ws,
                "person.credential_added",
                row.id,
                credential=record.id,
                kind=kind_v,
                name=name_v,
                issuer=issuer_v,
                scope=workspace_id or "all",
                expires_at=expires,
            )
        return _out(record, w.now, row.email)


def _visible(w: Unit, credential_id: str) -> CredentialRow:
    """A credential the caller may know of: platform admins any; members with people.read in its
    workspace (a deployment-wide one: in a workspace the person belongs to); its holder."""
    row = credentials_store.find_credential(w.tx, credential_id) if isinstance(credential_id, str) else None
    if row is None or w.actor.is_admin or row.user_id == w.actor.user_id:
        if row is None:
            raise NotFound("credential not found")
        return row
    readable = set(w.access.workspace_ids(Action.PEOPLE_READ))
    if row.workspace_id is not None:
        if row.workspace_id not in w.access.workspace_ids():
            raise NotFound("credential not found")
        return row
    if not readable & set(memberships_store.list_workspace_ids_of(w.tx, row.user_id)):
        raise NotFound("credential not found")
    return row


def revoke_credential(ctx: Context, credential_id: str) -> dict[str, Any]:
    """Revoke a credential now: it no longer counts, and the person's leases in the projects that
    required it end at once."""
    with ctx.write() as w:
        row = _visible(w, credential_id)
        if row.user_id == ctx.actor.user_id and not ctx.actor.is_admin:
            raise PermissionDenied("nobody revokes their own credentials: ask a manager")
        _manage(w, row.workspace_id)
        if not credentials_store.revoke_credential(w.tx, row.id, w.now):
            raise Conflict("this credential is already revoked")
        row = row._replace(revoked_at=w.now)
        released = 0
        for ws in _logs(w, row):
            w.audit(ws, "person.credential_revoked", row.user_id, credential=row.id, kind=row.kind, name=row.name)
            released += _release_unmet(w, row.user_id, ws, row.kind, reason="credential revoked")
        return {**_out(row, w.now), "released_leases": released}


def list_credentials(ctx: Context, workspace_id: str, person: str | None = None) -> list[dict[str, Any]]:
    """The credentials that count in a workspace (its own and the deployment-wide ones) of its members
    (or of one member), newest first: ``people.read``."""
    with ctx.read() as r:
        if not (ctx.actor.is_admin and not r.access.role(workspace_id)):
            r.access.require(Action.PEOPLE_READ, workspace_id)
        elif not workspaces_store.workspace_exists(r.tx, workspace_id):
            raise NotFound("workspace not found")
        members = set(memberships_store.list_user_ids(r.tx, workspace_id))
        user_id = None
        if person is not None:
            user_id = _person(r, person).id
            if user_id not in members:
                raise NotFound("person not found")
        rows = credentials_store.list_credentials(r.tx, user_id, workspace_ids=[workspace_id])
        emails = users_store.emails_of(r.tx, sorted({c.user_id for c in rows} & members))
        return [_out(c, r.now, emails.get(c.user_id)) for c in rows if c.user_id in members]


def mine(ctx: Context) -> list[dict[str, Any]]:
    """The caller's own credentials, every scope."""
    with ctx.read() as r:
        rows = credentials_store.list_credentials(r.tx, ctx.actor.user_id)
        return [_out(c, r.now) for c in rows]


def person_credentials(ctx: Context, person: str) -> list[dict[str, Any]]:
    """Every credential of a person, every scope (platform admins; a person asking about themselves)."""
    with ctx.read() as r:
        row = _person(r, person)
        if row.id != ctx.actor.user_id and not ctx.actor.is_admin:
            raise NotFound("person not found")
        return [_out(c, r.now, row.email) for c in credentials_store.list_credentials(r.tx, row.id)]


# -- expiry: reminders and leases ------------------------------------------------------------


def _release_unmet(w: Unit, user_id: str, workspace_id: str, kind: str, *, reason: str) -> int:
    """End the person's leases in the workspace's projects that require ``kind`` and that their
    credentials no longer satisfy."""
    from .workforce import release_leases

    with w.acting_in((workspace_id,)):  # a platform admin's revocation reaches workspaces they are no member of
        records = projects_store.list_projects(w.tx, workspace_id=workspace_id)
    released = 0
    for record in records:
        required = settings_of(record).required_credentials
        if not any(r.kind == kind for r in required):
            continue
        held = credentials_store.held_in_scope(w.tx, user_id, workspace_id, [r.kind for r in required])
        if unmet(required, held, w.now):
            released += release_leases(w, user_id, workspace_id, reason=reason, project_id=record.id)
    return released


def reminder_days(text: str) -> list[int]:
    """The thresholds of ``credential_reminder_days`` ("30,7"), nearest first, without 0."""
    return sorted({int(part) for part in text.split(",") if part.strip() and int(part) > 0})


def sweep(ctx: Context, thresholds: list[int] | None = None) -> dict[str, int]:
    """Announce what is due (each threshold once per credential) and end expired credentials' leases.

    Run by a job runner every ``credential_sweep_seconds`` and by ``bastion credential remind``; the
    local operator's context (it reads every workspace's credentials). Bounded batches, one
    transaction each."""
    days = [0, *(thresholds if thresholds is not None else reminder_days(ctx.rt.settings.credential_reminder_days))]
    counts = {"expiring": 0, "expired": 0, "released_leases": 0}
    for _ in range(SWEEP_ROUNDS):
        with ctx.write() as w:
            done = _sweep_batch(w, sorted(set(days)), counts)
        if done:
            break
    return counts


def _sweep_batch(w: Unit, days: list[int], counts: dict[str, int]) -> bool:
    """One batch; True when nothing more was due."""
    finished = True
    for threshold in days:  # nearest first: a late sweep announces only the nearest threshold passed
        rows = credentials_store.due_reminders(w.tx, threshold, until=w.now + threshold * DAY_MS, limit=SWEEP_BATCH)
        finished = finished and len(rows) < SWEEP_BATCH
        for row in rows:
            if not credentials_store.mark_reminded(w.tx, row.id, threshold):
                continue
            expires_at = row.expires_at or 0
            for ws in _logs(w, row):
                data = {"user": row.user_id, "credential_kind": row.kind, "expires_at": expires_at}
                if threshold == 0:
                    w.event(ws, "credential.expired", row.id, **data)
                    w.audit(ws, "person.credential_expired", row.user_id, credential=row.id, kind=row.kind)
                    counts["released_leases"] += _release_unmet(
                        w, row.user_id, ws, row.kind, reason="credential expired"
                    )
                else:
                    days_left = max(0, -(-(expires_at - w.now) // DAY_MS))
                    w.event(ws, "credential.expiring", row.id, **data, days=threshold, days_left=days_left)
            counts["expired" if threshold == 0 else "expiring"] += 1
    return finished


__all__ = [
    "CredentialRequirement",
    "add_credential",
    "list_credentials",
    "mine",
    "person_credentials",
    "reminder_days",
    "require_credentials",
    "revoke_credential",
    "sweep",
]
