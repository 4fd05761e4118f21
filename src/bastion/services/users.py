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

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, func, insert, select, update

from .. import ids
from ..access import Actor
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited, Unauthenticated
from ..domain.users import ApiToken, User, check_password, normalise_email
from ..storage import schema
from ..storage.fast import Statement
from .context import Context
from .runtime import Runtime

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no account (evens out timing); made on first use,
    since each argon2id hash briefly takes 64 MiB."""
    return _hasher.hash("not a real password, used to even out timing")


TOKEN_PREFIX = "bst_"
LAST_USED_RESOLUTION_MS = 60_000

u = schema.users
t = schema.api_tokens
s = schema.web_sessions
# Every API request resolves its token: a driver-level statement (storage/fast.py).
TOKEN = Statement(
    "SELECT t.id, t.scope, t.revoked_at, t.last_used_at, u.id, u.email, u.is_admin, u.is_active "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash"
)
TOKEN_USED = Statement("UPDATE api_tokens SET last_used_at = :now WHERE id = :id")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row) -> User:
    return User(row.id, row.email, row.name, bool(row.is_admin), bool(row.is_active), row.created_at)


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
        if w.execute(select(u.c.id).where(u.c.email == email)).first():
            raise Conflict(f"email: a user with e-mail {email} already exists")
        user_id = ids.new_id("usr")
        w.execute(
            insert(u).values(
                id=user_id,
                email=email,
                name=name.strip(),
                password_hash=_hasher.hash(password) if password else None,
                is_admin=is_admin,
                is_active=True,
                created_at=w.now,
            )
        )
        return _user(w.execute(select(u).where(u.c.id == user_id)).one())


def find_user_by_email(ctx: Context, email: str) -> User | None:
    with ctx.read() as r:
        row = r.execute(select(u).where(u.c.email == normalise_email(email))).first()
        return _user(row) if row else None


def get_user(ctx: Context, user_id: str) -> User:
    with ctx.read() as r:
        row = r.execute(select(u).where(u.c.id == user_id)).first()
    if row is None:
        raise NotFound("user not found")
    return _user(row)


def list_users(ctx: Context) -> list[User]:
    with ctx.read() as r:
        r.access.require_admin("user.manage")
        return [_user(row) for row in r.execute(select(u).order_by(u.c.email)).all()]


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
            if w.execute(select(u.c.id).where(u.c.id == user_id)).first() is None:
                raise NotFound("user not found")
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
        raise RateLimited("too many wrong current passwords; try again in "
                          f"{_minutes_left(counts, now)} minute(s)")
    with ctx.read() as r:
        row = r.execute(select(u.c.password_hash).where(u.c.id == user_id)).first()
    if row is None:
        raise NotFound("user not found")
    if not _verify(row.password_hash, old_password):
        with ctx.write() as w:
            record_for_person(w, user_id, "auth.password_change_failed", user_id)
        raise PermissionDenied("the current password is wrong")
    with ctx.write() as w:
        changed = _store_password(w, user_id, new_password, replacing=row.password_hash)
        if not changed:
            raise Conflict("the password was changed meanwhile; try again with the new one")
        w.execute(f.delete().where(f.c.subject == subject))


def _store_password(w, user_id: str, new_password: str, *, replacing: str | None = None) -> bool:
    """Set the hash, end every session, audit. ``replacing``: only if the hash is still this one."""
    stmt = update(u).where(u.c.id == user_id)
    if replacing is not None:
        stmt = stmt.where(u.c.password_hash == replacing)
    if not w.execute(stmt.values(password_hash=_hasher.hash(new_password), sessions_valid_after=w.now)).rowcount:
        return False
    w.execute(s.delete().where(s.c.user_id == user_id))
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
        row = tx.execute(select(u).where(u.c.email == email)).first()
    stored = row.password_hash if row is not None and row.is_active else None
    if not _verify(stored, password):
        raise Unauthenticated("wrong e-mail or password")
    return _user(row)


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
        if w.execute(select(u.c.id).where(u.c.id == user_id)).first() is None:
            raise NotFound("user not found")
        token_id = ids.new_id("tok")
        w.execute(
            insert(t).values(
                id=token_id, user_id=user_id, name=name, token_hash=_digest(secret),
                scope=scope, created_at=w.now,
            )
        )
        record_for_person(w, user_id, "token.created", token_id, scope=scope)
        return secret, ApiToken(token_id, user_id, name, scope, w.now, None, None)


def list_tokens(ctx: Context, user_id: str) -> list[ApiToken]:
    with ctx.read() as r:
        if ctx.actor.user_id != user_id:
            r.access.require_admin("user.manage")
        rows = r.execute(select(t).where(t.c.user_id == user_id).order_by(t.c.id)).all()
    return [
        ApiToken(x.id, x.user_id, x.name, x.scope, x.created_at, x.last_used_at, x.revoked_at)
        for x in rows
    ]


def revoke_token(ctx: Context, token_id: str) -> None:
    with ctx.write() as w:
        row = w.execute(select(t.c.user_id, t.c.revoked_at).where(t.c.id == token_id)).first()
        if row is None or (row.user_id != ctx.actor.user_id and not ctx.actor.is_admin):
            raise NotFound("token not found")
        if ctx.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        if row.revoked_at is None:
            w.execute(update(t).where(t.c.id == token_id).values(revoked_at=w.now))
            record_for_person(w, row.user_id, "token.revoked", token_id)


def resolve_token(rt: Runtime, secret: str) -> Actor:
    """The actor an API token stands for; Unauthenticated if unknown, revoked or inactive."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        raise Unauthenticated("invalid API token")
    with rt.db.transaction(write=False) as tx:
        row = TOKEN.one(tx, hash=_digest(secret))
    if row is None:
        raise Unauthenticated("invalid or revoked API token")
    token_id, scope, revoked_at, last_used_at, user_id, email, is_admin, is_active = row
    if revoked_at is not None or not is_active:
        raise Unauthenticated("invalid or revoked API token")
    if last_used_at is None or tx.now - last_used_at > LAST_USED_RESOLUTION_MS:
        with rt.db.transaction(write=True) as wtx:
            TOKEN_USED.run(wtx, id=token_id, now=wtx.now)
    return Actor(
        kind="user", user_id=user_id, email=email, is_admin=bool(is_admin),
        read_only=scope == "read", via="token", token_id=token_id,
    )


# -- browser sessions ----------------------------------------------------------


def create_session(rt: Runtime, user: User) -> tuple[str, str]:
    """Start a browser session; returns (cookie secret, CSRF token)."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with rt.db.transaction(write=True) as tx:
        tx.execute(
            insert(s).values(
                id=_digest(secret), user_id=user.id, csrf_token=csrf, created_at=tx.now,
                expires_at=tx.now + rt.settings.session_seconds * 1000,
            )
        )
        # Housekeeping: expired sessions of this person go now.
        tx.execute(s.delete().where(and_(s.c.user_id == user.id, s.c.expires_at < tx.now)))
    return secret, csrf


def resolve_session(rt: Runtime, secret: str) -> tuple[Actor, str]:
    """The actor and CSRF token of a session cookie; Unauthenticated when not valid."""
    if not secret or len(secret) > 100:
        raise Unauthenticated("not signed in")
    with rt.db.transaction(write=False) as tx:
        row = tx.execute(
            select(s.c.id, s.c.csrf_token, s.c.expires_at, s.c.created_at, u.c.id.label("user_id"),
                   u.c.email, u.c.is_admin, u.c.is_active, u.c.sessions_valid_after)
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.id == _digest(secret))
        ).first()
    if (
        row is None
        or row.expires_at < tx.now
        or not row.is_active
        or row.created_at < row.sessions_valid_after
    ):
        raise Unauthenticated("your session has ended; sign in again")
    # Sliding expiry, refreshed at most once a minute.
    new_expiry = tx.now + rt.settings.session_seconds * 1000
    if new_expiry - row.expires_at > LAST_USED_RESOLUTION_MS:
        with rt.db.transaction(write=True) as wtx:
            wtx.execute(update(s).where(s.c.id == row.id).values(expires_at=new_expiry))
    actor = Actor(kind="user", user_id=row.user_id, email=row.email, is_admin=bool(row.is_admin), via="session")
    return actor, row.csrf_token


def end_all_sessions(ctx: Context, user_id: str) -> None:
    """Sign a person out everywhere (every browser session ends)."""
    with ctx.write() as w:
        if ctx.actor.user_id != user_id:
            w.access.require_admin("user.manage")
        w.execute(update(u).where(u.c.id == user_id).values(sessions_valid_after=w.now))
        w.execute(s.delete().where(s.c.user_id == user_id))
        record_for_person(w, user_id, "auth.logout", user_id)


def record_for_person(w, user_id: str, action: str, target: str | None = None, **details) -> None:
    """Audit a person-level event in every workspace they belong to (each client sees it)."""
    for workspace_id in w.execute(
        select(schema.memberships.c.workspace_id).where(schema.memberships.c.user_id == user_id)
    ).scalars().all():
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
MAX_FAILURES = {"email": 5, "address": 50, "password": 5}
f = schema.login_failures
RESERVE = Statement(
    "INSERT INTO login_failures (subject, window_start, count) VALUES (:subject, :now, 1) "
    "ON CONFLICT (subject) DO UPDATE SET "
    "count = CASE WHEN login_failures.window_start > :cutoff THEN login_failures.count + 1 ELSE 1 END, "
    "window_start = CASE WHEN login_failures.window_start > :cutoff "
    "THEN login_failures.window_start ELSE :now END "
    "RETURNING count, window_start"
)
# A successful sign-in gives its address's attempt back: only failures use up an address.
REFUND = Statement("UPDATE login_failures SET count = count - 1 WHERE subject = :subject AND count > 0")


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
        counts = {kind: tuple(RESERVE.one(tx, subject=subject, now=tx.now, cutoff=cutoff))
                  for kind, subject in subjects}
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
        raise RateLimited(f"too many failed sign-ins; try again in {_minutes_left(counts, now)} minute(s)")
    try:
        user = authenticate(rt, email, password)
    except Unauthenticated:
        _audit_account(rt, key, "auth.login_failed", address)
        raise
    actor = Actor(kind="user", user_id=user.id, email=user.email, is_admin=user.is_admin, via="session")
    with Context(rt, actor).write() as w:
        w.execute(f.delete().where(f.c.subject == account))
        if address:
            REFUND.run(w.tx, subject=subjects[1][1])
        record_for_person(w, user.id, "auth.login", user.id, address=address)
    return user


def _audit_account(rt: Runtime, email: str, action: str, address: str | None) -> None:
    """A known person's workspaces see what happened to their account (nothing is recorded otherwise)."""
    with rt.db.transaction(write=False) as tx:
        row = tx.execute(select(u.c.id, u.c.email, u.c.is_admin).where(u.c.email == email)).first()
    if row is not None:
        actor = Actor(kind="user", user_id=row.id, email=row.email, is_admin=bool(row.is_admin), via="session")
        with Context(rt, actor).write() as w:
            record_for_person(w, row.id, action, row.id, address=address)


def count_users(rt: Runtime) -> int:
    with rt.db.transaction(write=False) as tx:
        return tx.execute(select(func.count()).select_from(u)).scalar_one()
