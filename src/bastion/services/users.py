"""People, passwords, API tokens and browser sessions.

Secrets are never stored: passwords as argon2id hashes, API tokens and session
cookies as SHA-256 digests (they are 256-bit random, so a fast hash is enough).
A token is shown once, when created.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import auth_cache, telemetry
from .auth_cache import Credential, Kind, Pending
from .context import Context, Unit
from .runtime import Runtime
from .. import ids
from ..access import Actor
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited, Unauthenticated
from ..domain.users import ApiToken, User, check_password, is_external_email, normalise_email
from ..storage import auth_store, memberships_store, queue_store, users_store
from ..storage.database import now_ms

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no account (evens out timing); made on first use,
    since each argon2id hash briefly takes 64 MiB."""
    return _hasher.hash("not a real password, used to even out timing")


TOKEN_PREFIX = "bst_"
LAST_USED_RESOLUTION_MS = 60_000


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    ctx: Context, email: str, *, name: str = "", password: str | None = None, is_admin: bool = False
) -> User:
    """Create a person (platform admins, or the local operator)."""
    email = normalise_email(email)
    if password is not None:
        check_password(password)
    if len(name) > 200:
        raise InvalidInput("name: at most 200 characters")
    with ctx.write() as w:
        w.access.require_admin("user.manage")
        if users_store.email_taken(w.tx, email):
            raise Conflict(f"email: a user with e-mail {email} already exists")
        user_id = ids.new_id("usr")
        users_store.insert_user(
            w.tx,
            user_id,
            email,
            name=name.strip(),
            password_hash=_hasher.hash(password) if password else None,
            is_admin=is_admin,
            now=w.now,
        )
        created = users_store.find_user(w.tx, user_id)
    assert created is not None  # inserted just above, in the same transaction
    return created


def find_user_by_email(ctx: Context, email: str) -> User | None:
    with ctx.read() as r:
        return users_store.find_user_by_email(r.tx, normalise_email(email))


def get_user(ctx: Context, user_id: str) -> User:
    with ctx.read() as r:
        user = users_store.find_user(r.tx, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def list_users(ctx: Context) -> list[User]:
    with ctx.read() as r:
        r.access.require_admin("user.manage")
        return users_store.list_users(r.tx)


def set_password(ctx: Context, user_id: str, new_password: str, *, old_password: str | None = None) -> None:
    """Change a password; ends every session of that person.

    A person changing their own password proves the current one. Those proofs are
    password guesses too (a stolen session or token could brute-force it), so they
    are limited like sign-ins: one attempt reserved per person before the check,
    ``MAX_FAILURES["password"]`` per window, wrong ones and the lockout audited.
    Platform admins and the local operator set other people's passwords unchecked.
    """
    check_password(new_password)
    if ctx.actor.user_id != user_id or ctx.actor.is_system:
        with ctx.write() as w:
            w.access.require_admin("user.manage")
            person = users_store.find_user(w.tx, user_id)
            if person is None:
                raise NotFound("user not found")
            if is_external_email(person.email):
                raise InvalidInput("an external annotator cannot sign in: no token, no password")
            _store_password(w, user_id, new_password)
        return
    if ctx.actor.read_only:
        raise PermissionDenied("this API token is read-only")
    if not old_password:
        raise PermissionDenied("the current password is wrong")
    subject = _subject(ctx.rt, "password", user_id)
    counts, now = _reserve(ctx.rt, [("password", subject)])
    if _over_limit(counts):
        if counts["password"][0] == MAX_FAILURES["password"] + 1:  # the first refusal of this window
            with ctx.write() as w:
                record_for_person(w, user_id, "auth.password_change_locked", user_id)
        raise RateLimited(f"too many wrong current passwords; try again in {_minutes_left(counts, now)} minute(s)")
    with ctx.read() as r:
        stored = users_store.get_password_hash(r.tx, user_id)  # NotFound: no such person
    if not _verify(stored, old_password):
        with ctx.write() as w:
            record_for_person(w, user_id, "auth.password_change_failed", user_id)
        raise PermissionDenied("the current password is wrong")
    with ctx.write() as w:
        changed = _store_password(w, user_id, new_password, replacing=stored)
        if not changed:
            raise Conflict("the password was changed meanwhile; try again with the new one")
        users_store.delete_attempts(w.tx, subject)


def _store_password(w: Unit, user_id: str, new_password: str, *, replacing: str | None = None) -> bool:
    """Set the hash, end every session, audit. ``replacing``: only if the hash is still this one."""
    if not users_store.update_password(w.tx, user_id, _hasher.hash(new_password), replacing=replacing, now=w.now):
        return False
    users_store.delete_sessions_of(w.tx, user_id)
    record_for_person(w, user_id, "auth.password_changed", user_id)
    return True


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate(rt: Runtime, email: str, password: str) -> User:
    """Check an e-mail and password; raises Unauthenticated (same message either way)."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    with rt.db.transaction(write=False) as tx:
        found = users_store.find_credentials(tx, email)
    stored = found.password_hash if found is not None and found.user.is_active else None
    verified = _verify(stored, password)  # also run without a person, so both refusals take as long
    if found is None or not verified:
        raise Unauthenticated("wrong e-mail or password")
    return found.user


# -- API tokens --------------------------------------------------------------


def create_token(ctx: Context, user_id: str, *, name: str = "", scope: str = "full") -> tuple[str, ApiToken]:
    """Create an API token for a person; returns the secret (shown once) and its record."""
    if scope not in ("full", "read"):
        raise InvalidInput("scope: 'full' or 'read'")
    if len(name) > 200:
        raise InvalidInput("name: at most 200 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.write() as w:
        if ctx.actor.user_id != user_id:
            w.access.require_admin("user.manage")
        elif ctx.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        person = users_store.find_user(w.tx, user_id)
        if person is None:
            raise NotFound("user not found")
        if is_external_email(person.email):
            raise InvalidInput("an external annotator cannot sign in: no token, no password")
        token_id = ids.new_id("tok")
        users_store.insert_token(w.tx, token_id, user_id, name=name, token_hash=_digest(secret), scope=scope, now=w.now)
        record_for_person(w, user_id, "token.created", token_id, scope=scope)
        return secret, ApiToken(token_id, user_id, name, scope, w.now, None, None)


def list_tokens(ctx: Context, user_id: str) -> list[ApiToken]:
    with ctx.read() as r:
        if ctx.actor.user_id != user_id:
            r.access.require_admin("user.manage")
        return users_store.list_tokens_of(r.tx, user_id)


def revoke_token(ctx: Context, token_id: str) -> None:
    with ctx.write() as w:
        token = users_store.find_token(w.tx, token_id)
        if token is None or (token.user_id != ctx.actor.user_id and not ctx.actor.is_admin):
            raise NotFound("token not found")
        if ctx.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        if token.revoked_at is None:
            users_store.revoke_token(w.tx, token_id, w.now)
            record_for_person(w, token.user_id, "token.revoked", token_id)


def resolve_token(rt: Runtime, secret: str) -> Actor:
    """The actor an API token stands for; Unauthenticated if unknown, revoked or inactive.

    Always resolved in a transaction of its own (and cached: ``auth_cache``); requests use
    ``token_context``, which does without that transaction while the cached resolution stands."""
    digest = _token_digest(secret)
    return _resolve_apart(rt, "token", digest).actor


def token_context(rt: Runtime, secret: str, *, may_bind: bool = True) -> Context:
    """A request's context for an API token: from the cache, checked in the request's first
    transaction (``auth_cache``), or resolved now when not cached or its last use is to be marked."""
    digest = _token_digest(secret)
    return _cached_token(rt, digest, may_bind) or Context(
        rt, _resolve_apart(rt, "token", digest).actor, may_bind=may_bind
    )


def cached_token_context(rt: Runtime, secret: str, *, may_bind: bool = True) -> Context | None:
    """``token_context`` when it needs no database (the token is cached and its use marked recently);
    None when it does. Without I/O, so the web layer may call it on the event loop."""
    return _cached_token(rt, _token_digest(secret), may_bind)


def _cached_token(rt: Runtime, digest: str, may_bind: bool) -> Context | None:
    cached = rt.auth_cache.credential(digest)
    if cached is not None and now_ms() - cached.marked_at <= LAST_USED_RESOLUTION_MS:
        return Context(rt, cached.actor, may_bind=may_bind, pending=Pending("token", digest, cached.generation))
    return None


def _token_digest(secret: str) -> str:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        telemetry.count_auth_failure("token")
        raise Unauthenticated("invalid API token")
    return _digest(secret)


def _resolve_apart(rt: Runtime, kind: Kind, digest: str) -> Credential:
    """Resolve a credential in a read-only transaction of its own and cache it; then mark a token's
    use, or slide a session's expiry, at most once a minute (a short write of its own)."""
    try:
        with rt.db.transaction(write=False) as tx:
            generation = auth_store.generation(tx)  # before the rows: the cache never holds rows older than it
            credential = auth_cache.resolve_in(tx, kind, digest, generation)
    except Unauthenticated:
        rt.auth_cache.forget(digest)
        telemetry.count_auth_failure(kind)
        raise
    if kind == "token":
        if tx.now - credential.marked_at > LAST_USED_RESOLUTION_MS:
            with rt.db.transaction(write=True) as wtx:
                users_store.touch_token(wtx, credential.actor.token_id or "", wtx.now)
            credential = replace(credential, marked_at=wtx.now)
    else:
        new_expiry = tx.now + rt.settings.session_seconds * 1000
        if new_expiry - credential.marked_at > LAST_USED_RESOLUTION_MS:
            with rt.db.transaction(write=True) as wtx:
                users_store.extend_session(wtx, digest, new_expiry)
            credential = replace(credential, marked_at=new_expiry)
    rt.auth_cache.keep(digest, credential)
    return credential


# -- browser sessions ----------------------------------------------------------


def session_id(secret: str) -> str:
    """The stored id of a session cookie's secret (its digest: the secret itself is never stored)."""
    return _digest(secret)


def create_session(
    rt: Runtime, user: User, *, provider: str | None = None, id_token: str | None = None
) -> tuple[str, str]:
    """Start a browser session; returns (cookie secret, CSRF token).

    ``provider`` and ``id_token``: the single sign-on that started it (services/oidc.py), kept with the
    session for the provider's sign-out and gone with it."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with rt.db.transaction(write=True) as tx:
        users_store.insert_session(
            tx,
            _digest(secret),
            user.id,
            csrf_token=csrf,
            now=tx.now,
            expires_at=tx.now + rt.settings.session_seconds * 1000,
            provider=provider,
            id_token=id_token,
        )
        # Housekeeping: expired sessions of this person go now.
        users_store.delete_expired_sessions(tx, user.id, tx.now)
    return secret, csrf


def resolve_session(rt: Runtime, secret: str) -> tuple[Actor, str]:
    """The actor and CSRF token of a session cookie; Unauthenticated when not valid (resolved in a
    transaction of its own, like ``resolve_token``; requests use ``session_context``)."""
    credential = _resolve_apart(rt, "session", _session_digest(secret))
    return credential.actor, credential.csrf


def session_context(rt: Runtime, secret: str, *, may_bind: bool = True) -> tuple[Context, str]:
    """A request's context and CSRF token for a session cookie: from the cache while its sliding
    expiry needs no refresh (checked in the request's first transaction), else resolved now."""
    digest = _session_digest(secret)
    found = _cached_session(rt, digest, may_bind)
    if found is not None:
        return found
    credential = _resolve_apart(rt, "session", digest)
    return Context(rt, credential.actor, may_bind=may_bind), credential.csrf


def cached_session_context(rt: Runtime, secret: str, *, may_bind: bool = True) -> tuple[Context, str] | None:
    """``session_context`` when it needs no database; None when it does (no I/O: see ``cached_token_context``)."""
    return _cached_session(rt, _session_digest(secret), may_bind)


def _cached_session(rt: Runtime, digest: str, may_bind: bool) -> tuple[Context, str] | None:
    cached = rt.auth_cache.credential(digest)
    if cached is None:
        return None
    now = now_ms()
    # Expired, or the expiry is to slide: resolve (the stored expiry may have slid elsewhere).
    if (
        cached.marked_at >= now
        and now + rt.settings.session_seconds * 1000 - cached.marked_at <= LAST_USED_RESOLUTION_MS
    ):
        pending = Pending("session", digest, cached.generation)
        return Context(rt, cached.actor, may_bind=may_bind, pending=pending), cached.csrf
    return None


def _session_digest(secret: str) -> str:
    if not secret or len(secret) > 100:
        telemetry.count_auth_failure("session")
        raise Unauthenticated("not signed in")
    return _digest(secret)


def end_all_sessions(ctx: Context, user_id: str) -> None:
    """Sign a person out everywhere (every browser session ends)."""
    with ctx.write() as w:
        if ctx.actor.user_id != user_id:
            w.access.require_admin("user.manage")
        users_store.void_sessions(w.tx, user_id, w.now)
        users_store.delete_sessions_of(w.tx, user_id)
        record_for_person(w, user_id, "auth.logout", user_id)


# -- deactivation ------------------------------------------------------------------------


def deactivate_user(ctx: Context, user_id: str, *, via: str = "admin") -> bool:
    """Deactivate a person (platform admins, the operator, SCIM); returns whether they were active.

    In one transaction: every browser session ends (and any issued before now is void), every
    API token is revoked, every queue lease they hold in any workspace ends (the tasks return
    to the pool; each workspace's log records it), and the person is marked inactive, so
    ``sign_in``, ``resolve_session`` and ``resolve_token`` refuse them from the next request on
    (the check is part of the one query that resolves a cookie or token). Their rows, memberships
    and history stay: the audit trail of what they did is never lost. Reactivating them
    (``activate_user``) revives none of the old sessions or tokens.
    """
    with ctx.write() as w:
        w.access.require_admin("user.manage")
        if not ctx.actor.is_system and ctx.actor.user_id == user_id:
            raise InvalidInput("you cannot deactivate yourself; another platform admin can")
        person = users_store.find_user(w.tx, user_id)
        if person is None:
            raise NotFound("user not found")
        return deactivate_in(w, user_id, via=via)


def deactivate_in(w: Unit, user_id: str, *, via: str) -> bool:
    """``deactivate_user``'s work, in the caller's transaction (the caller has decided)."""
    if not users_store.set_active(w.tx, user_id, False, w.now):
        return False
    users_store.delete_sessions_of(w.tx, user_id)
    revoked = users_store.revoke_tokens_of(w.tx, user_id, w.now)
    workspace_ids = memberships_store.list_workspace_ids_of(w.tx, user_id)
    released = {ws: _release_all(w, ws, user_id) for ws in workspace_ids}
    for workspace_id in workspace_ids:
        extra = {"leases_released": released[workspace_id]} if released[workspace_id] else {}
        w.audit(workspace_id, "person.deactivated", user_id, via=via, tokens_revoked=len(revoked), **extra)
    return True


def _release_all(w: Unit, workspace_id: str, user_id: str) -> int:
    """A person's open leases in a workspace end now (the caller may be no member of it)."""
    with w.acting_in((workspace_id,)):
        return queue_store.release_leases(w.tx, workspace_id, user_id)


def activate_user(ctx: Context, user_id: str, *, via: str = "admin") -> bool:
    """Reactivate a deactivated person; returns whether they were inactive. They sign in afresh:
    no session or token from before comes back."""
    with ctx.write() as w:
        w.access.require_admin("user.manage")
        person = users_store.find_user(w.tx, user_id)
        if person is None:
            raise NotFound("user not found")
        if is_external_email(person.email):
            raise InvalidInput("an external annotator cannot sign in: there is nothing to activate")
        return activate_in(w, user_id, via=via)


def activate_in(w: Unit, user_id: str, *, via: str) -> bool:
    """``activate_user``'s work, in the caller's transaction (the caller has decided)."""
    if not users_store.set_active(w.tx, user_id, True, w.now):
        return False
    record_for_person(w, user_id, "person.activated", user_id, via=via)
    return True


def record_for_person(w: Unit, user_id: str, action: str, target: str | None = None, **details) -> None:
    """Audit a person-level event in every workspace they belong to (each client sees it)."""
    for workspace_id in memberships_store.list_workspace_ids_of(w.tx, user_id):
        w.audit(workspace_id, action, target, **details)


# -- signing in, rate limited ----------------------------------------------------
#
# Counters of attempts per subject, in the database (every server process shares
# them): per account (the e-mail typed) and per address for sign-ins, per person for
# password changes. A subject is stored as a keyed hash (HMAC-SHA256 under a
# deployment secret held in the keyring, never in this database) of its normalised
# value: whatever was typed into the e-mail field — a password, often — never
# reaches the database.
#
# The trap: reading a count, checking the password and writing the failure after
# lets parallel guesses all pass the count. An attempt is reserved first instead —
# one UPSERT that raises the counter and returns it, in its own short transaction,
# before any argon2 work — so at most MAX_FAILURES attempts per window are checked.

LOGIN_WINDOW_MS = 15 * 60 * 1000
MAX_FAILURES = {"email": 5, "address": 50, "password": 5, "sso": 100}


def _subject(rt: Runtime, kind: str, value: str) -> str:
    key = rt.keyring.deployment_secret("attempt-subjects")
    digest = hmac.new(key, f"{kind}|{value}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"{kind}:{digest}"


def _email_key(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidInput:
        return (email or "").strip().lower()[:320]


def _reserve(rt: Runtime, subjects: list[tuple[str, str]]) -> tuple[dict[str, tuple[int, int]], int]:
    """Reserve one attempt on each counter; ({kind: (count, window start)}, now)."""
    with rt.db.transaction(write=True) as tx:
        cutoff = tx.now - LOGIN_WINDOW_MS
        counts: dict[str, tuple[int, int]] = {
            kind: users_store.reserve_attempt(tx, subject, now=tx.now, cutoff=cutoff) for kind, subject in subjects
        }
    return counts, tx.now


def _over_limit(counts: dict[str, tuple[int, int]]) -> bool:
    return any(count > MAX_FAILURES[kind] for kind, (count, _start) in counts.items())


def _minutes_left(counts: dict[str, tuple[int, int]], now: int) -> int:
    ends = max(start + LOGIN_WINDOW_MS for kind, (count, start) in counts.items() if count > MAX_FAILURES[kind])
    return max(1, (ends - now) // 60000 + 1)


def sign_in(rt: Runtime, email: str, password: str, address: str | None = None) -> User:
    """Password sign-in, limited per account and per address, audited either way."""
    key = _email_key(email)
    account = _subject(rt, "email", key)
    subjects = [("email", account)]
    if address:
        subjects.append(("address", _subject(rt, "address", address)))
    counts, now = _reserve(rt, subjects)
    if _over_limit(counts):
        if counts["email"][0] == MAX_FAILURES["email"] + 1:  # the first refusal of this window
            _audit_account(rt, key, "auth.login_locked", address)
        telemetry.count_auth_failure("sign_in_locked")
        raise RateLimited(f"too many failed sign-ins; try again in {_minutes_left(counts, now)} minute(s)")
    try:
        user = authenticate(rt, email, password)
    except Unauthenticated:
        _audit_account(rt, key, "auth.login_failed", address)
        telemetry.count_auth_failure("sign_in")
        raise
    actor = Actor(kind="user", user_id=user.id, email=user.email, is_admin=user.is_admin, via="session")
    with Context(rt, actor).write() as w:
        users_store.delete_attempts(w.tx, account)
        if address:  # a successful sign-in gives its address's attempt back: only failures use up an address
            users_store.refund_attempt(w.tx, subjects[1][1])
        record_for_person(w, user.id, "auth.login", user.id, address=address)
    return user


def reserve_sso_start(rt: Runtime, address: str | None) -> None:
    """A sign-in through an identity provider is starting from ``address``: each start writes a pending
    row before anyone is known, so at most ``MAX_FAILURES["sso"]`` unfinished starts per address and
    window are let through (a finished sign-in gives its start back: ``refund_sso_start``)."""
    if not address:
        return
    subject = _subject(rt, "sso", address)
    counts, now = _reserve(rt, [("sso", subject)])
    if _over_limit(counts):
        with rt.db.transaction(write=True) as tx:  # a refused start writes no pending row: it does not count
            users_store.refund_attempt(tx, subject)
        telemetry.count_auth_failure("sso_start_limited")
        raise RateLimited(
            f"too many sign-ins started from this address; try again in {_minutes_left(counts, now)} minute(s)"
        )


def refund_sso_start(w: Unit, address: str | None) -> None:
    """A sign-in through a provider finished: its start no longer counts against the address."""
    if address:
        users_store.refund_attempt(w.tx, _subject(w.rt, "sso", address))


def _audit_account(rt: Runtime, email: str, action: str, address: str | None) -> None:
    """A known person's workspaces see what happened to their account (nothing is recorded otherwise)."""
    with rt.db.transaction(write=False) as tx:
        row = users_store.find_user_by_email(tx, email)
    if row is not None:
        actor = Actor(kind="user", user_id=row.id, email=row.email, is_admin=bool(row.is_admin), via="session")
        with Context(rt, actor).write() as w:
            record_for_person(w, row.id, action, row.id, address=address)
