"""People and their credentials: users, API tokens, browser sessions, attempt counters.

Secrets never reach these rows: passwords are argon2id hashes, tokens and session
cookies SHA-256 digests, attempt subjects keyed hashes (``services/users.py``
makes them; this module only stores and finds them).

Resolving an API token runs on every API request, so it is a driver-level
statement (``fast.py``), as are the attempt counters' upserts (one round trip
that raises a counter and returns it: the reservation ``services/users.py``
relies on). The rest is plain SQLAlchemy Core. These tables are person-level,
not workspace-owned: row-level security does not restrict them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Row, and_, insert, select, update

from . import schema
from .database import Tx
from .fast import Statement
from .integrity import refused_as
from ..domain.errors import Conflict, NotFound
from ..domain.users import ApiToken, User

u = schema.users
t = schema.api_tokens
s = schema.web_sessions
f = schema.login_failures


def _user(row: Row[Any]) -> User:
    return User(
        row.id, row.email, row.name, bool(row.is_admin), bool(row.is_active), row.created_at, row.deactivated_at
    )


# -- users ---------------------------------------------------------------------------


class Credentials(NamedTuple):
    """A person and the hash their password is checked against (None: no password set)."""

    user: User
    password_hash: str | None


def find_user(tx: Tx, user_id: str) -> User | None:
    row = tx.execute(select(u).where(u.c.id == user_id)).first()
    return _user(row) if row else None


def find_user_by_email(tx: Tx, email: str) -> User | None:
    """The person with this (already normalised) e-mail."""
    row = tx.execute(select(u).where(u.c.email == email)).first()
    return _user(row) if row else None


def find_credentials(tx: Tx, email: str) -> Credentials | None:
    row = tx.execute(select(u).where(u.c.email == email)).first()
    return None if row is None else Credentials(_user(row), row.password_hash)


def emails_of(tx: Tx, user_ids: list[str]) -> dict[str, str]:
    """user id -> e-mail of the given people (a leak report names its suspects by e-mail)."""
    if not user_ids:
        return {}
    return dict(tx.execute(select(u.c.id, u.c.email).where(u.c.id.in_(user_ids))).all())


def names_of(tx: Tx, user_ids: list[str]) -> dict[str, str]:
    """user id -> the name people know them by (their name, or their e-mail when they gave none)."""
    if not user_ids:
        return {}
    rows = tx.execute(select(u.c.id, u.c.name, u.c.email).where(u.c.id.in_(sorted(set(user_ids))))).all()
    return {row.id: row.name or row.email for row in rows}


def user_exists(tx: Tx, user_id: str) -> bool:
    return tx.execute(select(u.c.id).where(u.c.id == user_id)).first() is not None


def email_taken(tx: Tx, email: str) -> bool:
    return tx.execute(select(u.c.id).where(u.c.email == email)).first() is not None


def list_users(tx: Tx) -> list[User]:
    return [_user(row) for row in tx.execute(select(u).order_by(u.c.email)).all()]


def insert_user(
    tx: Tx, user_id: str, email: str, *, name: str, password_hash: str | None, is_admin: bool, now: int
) -> None:
    """Conflict when someone has the e-mail (already, or since the caller looked)."""
    with refused_as(tx, Conflict(f"email: a user with e-mail {email} already exists")):
        tx.execute(
            insert(u).values(
                id=user_id,
                email=email,
                name=name,
                password_hash=password_hash,
                is_admin=is_admin,
                is_active=True,
                created_at=now,
            )
        )


def is_active_admin(tx: Tx, user_id: str) -> bool:
    return bool(tx.execute(select(u.c.is_admin).where(u.c.id == user_id, u.c.is_active)).scalar())


def list_active_admin_ids(tx: Tx) -> list[str]:
    return list(tx.execute(select(u.c.id).where(u.c.is_admin, u.c.is_active)).scalars().all())


def get_password_hash(tx: Tx, user_id: str) -> str | None:
    """The person's password hash (None: no password set); NotFound when there is no such person."""
    row = tx.execute(select(u.c.password_hash).where(u.c.id == user_id)).first()
    if row is None:
        raise NotFound("user not found")
    password_hash: str | None = row.password_hash
    return password_hash


def update_password(tx: Tx, user_id: str, password_hash: str, *, replacing: str | None, now: int) -> bool:
    """Set the hash and void every session issued before ``now``; ``replacing``: only if the hash is
    still this one. Returns whether it was set."""
    stmt = update(u).where(u.c.id == user_id)
    if replacing is not None:
        stmt = stmt.where(u.c.password_hash == replacing)
    return bool(tx.execute(stmt.values(password_hash=password_hash, sessions_valid_after=now)).rowcount)


def set_active(tx: Tx, user_id: str, active: bool, now: int) -> bool:
    """Deactivate (every session issued before ``now`` void too) or reactivate a person; returns whether
    the state changed (False: it already was so)."""
    stmt = update(u).where(u.c.id == user_id, u.c.is_active == (not active))
    values: dict[str, Any] = {"is_active": active, "deactivated_at": None if active else now}
    if not active:
        values["sessions_valid_after"] = now
    return bool(tx.execute(stmt.values(**values)).rowcount)


def update_name(tx: Tx, user_id: str, name: str) -> None:
    tx.execute(update(u).where(u.c.id == user_id).values(name=name))


def update_email(tx: Tx, user_id: str, email: str) -> None:
    """Conflict when someone else has the e-mail."""
    with refused_as(tx, Conflict(f"email: a user with e-mail {email} already exists")):
        tx.execute(update(u).where(u.c.id == user_id).values(email=email))


def void_sessions(tx: Tx, user_id: str, now: int) -> None:
    """Sessions and tokens issued before ``now`` no longer count (signing out everywhere)."""
    tx.execute(update(u).where(u.c.id == user_id).values(sessions_valid_after=now))


# -- API tokens ----------------------------------------------------------------------


class TokenActor(NamedTuple):
    """A token, with the person it stands for (what resolving it needs)."""

    token_id: str
    scope: str
    revoked_at: int | None
    last_used_at: int | None
    user_id: str
    email: str
    is_admin: bool
    is_active: bool


TOKEN = Statement(
    "SELECT t.id, t.scope, t.revoked_at, t.last_used_at, u.id, u.email, u.is_admin, u.is_active "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash"
)
TOKEN_USED = Statement("UPDATE api_tokens SET last_used_at = :now WHERE id = :id")


def find_token_actor(tx: Tx, token_hash: str) -> TokenActor | None:
    """The token with this digest and its person (every API request: one indexed read)."""
    row = TOKEN.one(tx, hash=token_hash)
    if row is None:
        return None
    token_id, scope, revoked_at, last_used_at, user_id, email, is_admin, is_active = row
    return TokenActor(token_id, scope, revoked_at, last_used_at, user_id, email, bool(is_admin), bool(is_active))


def touch_token(tx: Tx, token_id: str, now: int) -> None:
    TOKEN_USED.run(tx, id=token_id, now=now)


def _token(x: Row[Any]) -> ApiToken:
    return ApiToken(x.id, x.user_id, x.name, x.scope, x.created_at, x.last_used_at, x.revoked_at)


def insert_token(tx: Tx, token_id: str, user_id: str, *, name: str, token_hash: str, scope: str, now: int) -> None:
    tx.execute(
        insert(t).values(id=token_id, user_id=user_id, name=name, token_hash=token_hash, scope=scope, created_at=now)
    )


def find_token(tx: Tx, token_id: str) -> ApiToken | None:
    row = tx.execute(select(t).where(t.c.id == token_id)).first()
    return None if row is None else _token(row)


def list_tokens_of(tx: Tx, user_id: str) -> list[ApiToken]:
    return [_token(x) for x in tx.execute(select(t).where(t.c.user_id == user_id).order_by(t.c.id)).all()]


def revoke_token(tx: Tx, token_id: str, now: int) -> None:
    tx.execute(update(t).where(t.c.id == token_id).values(revoked_at=now))


def revoke_tokens_of(tx: Tx, user_id: str, now: int) -> list[str]:
    """Revoke every live token of a person; returns their ids."""
    live = t.c.user_id == user_id, t.c.revoked_at.is_(None)
    token_ids = list(tx.execute(select(t.c.id).where(*live).order_by(t.c.id)).scalars().all())
    if token_ids:
        tx.execute(update(t).where(*live).values(revoked_at=now))
    return token_ids


# -- browser sessions ------------------------------------------------------------------


class SessionActor(NamedTuple):
    """A session, with the person it stands for (what resolving its cookie needs)."""

    id: str
    csrf_token: str
    expires_at: int
    created_at: int
    user_id: str
    email: str
    is_admin: bool
    is_active: bool
    sessions_valid_after: int


def insert_session(
    tx: Tx,
    session_id: str,
    user_id: str,
    *,
    csrf_token: str,
    now: int,
    expires_at: int,
    provider: str | None = None,
    id_token: str | None = None,
) -> None:
    tx.execute(
        insert(s).values(
            id=session_id,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
            provider=provider,
            id_token=id_token,
        )
    )


def delete_expired_sessions(tx: Tx, user_id: str, now: int) -> None:
    tx.execute(s.delete().where(and_(s.c.user_id == user_id, s.c.expires_at < now)))


def find_session_actor(tx: Tx, session_id: str) -> SessionActor | None:
    row = tx.execute(
        select(
            s.c.id,
            s.c.csrf_token,
            s.c.expires_at,
            s.c.created_at,
            u.c.id.label("user_id"),
            u.c.email,
            u.c.is_admin,
            u.c.is_active,
            u.c.sessions_valid_after,
        )
        .join(u, u.c.id == s.c.user_id)
        .where(s.c.id == session_id)
    ).first()
    return None if row is None else SessionActor._make(row)


def extend_session(tx: Tx, session_id: str, expires_at: int) -> None:
    tx.execute(update(s).where(s.c.id == session_id).values(expires_at=expires_at))


def delete_sessions_of(tx: Tx, user_id: str) -> None:
    tx.execute(s.delete().where(s.c.user_id == user_id))


# -- attempt counters --------------------------------------------------------------------


class Attempts(NamedTuple):
    attempt_count: int  # not `count`: that is tuple's method
    window_start: int


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


def reserve_attempt(tx: Tx, subject: str, *, now: int, cutoff: int) -> Attempts:
    """Count one more attempt on ``subject`` (a window starting after ``cutoff`` goes on, an older one
    starts again at ``now``) and return the count: one statement, so parallel attempts each see their own."""
    return Attempts._make(RESERVE.one_row(tx, subject=subject, now=now, cutoff=cutoff))


def refund_attempt(tx: Tx, subject: str) -> None:
    REFUND.run(tx, subject=subject)


def delete_attempts(tx: Tx, subject: str) -> None:
    tx.execute(f.delete().where(f.c.subject == subject))
