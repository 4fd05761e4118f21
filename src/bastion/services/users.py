"""People, passwords, API tokens and browser sessions.

Secrets are never stored: passwords as argon2id hashes, API tokens and session
cookies as SHA-256 digests (they are 256-bit random, so a fast hash is enough).
A token is shown once, when created.
"""

from __future__ import annotations

import functools
import hashlib
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
    """Change a password; ends every session of that person."""
    check_password(new_password)
    with ctx.write() as w:
        if ctx.actor.user_id != user_id:
            w.access.require_admin("user.manage")
        row = w.execute(select(u.c.password_hash).where(u.c.id == user_id)).first()
        if row is None:
            raise NotFound("user not found")
        if ctx.actor.user_id == user_id and not ctx.actor.is_system:
            if old_password is None or not _verify(row.password_hash, old_password):
                raise PermissionDenied("the current password is wrong")
        w.execute(
            update(u)
            .where(u.c.id == user_id)
            .values(password_hash=_hasher.hash(new_password), sessions_valid_after=w.now)
        )
        w.execute(s.delete().where(s.c.user_id == user_id))
        record_for_person(w, user_id, "auth.password_changed", user_id)


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

LOGIN_WINDOW_MS = 15 * 60 * 1000
MAX_FAILURES = {"email": 5, "address": 50}
f = schema.login_failures


def _subjects(email: str, address: str | None) -> list[str]:
    out = [f"email:{email}"]
    if address:
        out.append(f"address:{address}")
    return out


def sign_in(rt: Runtime, email: str, password: str, address: str | None = None) -> User:
    """Password sign-in, limited per account and per address, audited either way."""
    try:
        key = normalise_email(email)
    except InvalidInput:
        key = (email or "").strip().lower()[:320]
    subjects = _subjects(key, address)
    with rt.db.transaction(write=False) as tx:
        cutoff = tx.now - LOGIN_WINDOW_MS
        for row in tx.execute(select(f).where(f.c.subject.in_(subjects))).all():
            kind = row.subject.split(":", 1)[0]
            if row.window_start > cutoff and row.count >= MAX_FAILURES[kind]:
                minutes = max(1, (row.window_start + LOGIN_WINDOW_MS - tx.now) // 60000 + 1)
                raise RateLimited(f"too many failed sign-ins; try again in {minutes} minute(s)")
    try:
        user = authenticate(rt, email, password)
    except Unauthenticated:
        _record_failure(rt, subjects, key, address)
        raise
    actor = Actor(kind="user", user_id=user.id, email=user.email, is_admin=user.is_admin, via="session")
    with Context(rt, actor).write() as w:
        w.execute(f.delete().where(f.c.subject == subjects[0]))
        record_for_person(w, user.id, "auth.login", user.id, address=address)
    return user


def _record_failure(rt: Runtime, subjects: list[str], email: str, address: str | None) -> None:
    with rt.db.transaction(write=True) as tx:
        cutoff = tx.now - LOGIN_WINDOW_MS
        for subject in subjects:
            bumped = tx.execute(update(f).where(f.c.subject == subject, f.c.window_start > cutoff)
                                .values(count=f.c.count + 1)).rowcount
            if not bumped:
                tx.execute(f.delete().where(f.c.subject == subject))
                tx.execute(insert(f).values(subject=subject, window_start=tx.now, count=1))
        row = tx.execute(select(u.c.id, u.c.email, u.c.is_admin).where(u.c.email == email)).first()
    if row is not None:  # a known person: their workspaces see the failed attempt
        actor = Actor(kind="user", user_id=row.id, email=row.email, is_admin=bool(row.is_admin), via="session")
        with Context(rt, actor).write() as w:
            record_for_person(w, row.id, "auth.login_failed", row.id, address=address)


def count_users(rt: Runtime) -> int:
    with rt.db.transaction(write=False) as tx:
        return tx.execute(select(func.count()).select_from(u)).scalar_one()
