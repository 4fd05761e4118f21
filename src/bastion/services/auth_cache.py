"""Resolved credentials and roles, kept per server process while the auth generation stands.

Resolving a bearer token or a session cookie costs a transaction of its own (about
as much as the request's work on the annotate loop), and every transaction loads the
person's memberships. This cache keeps, per server process:

* per credential (the SHA-256 digest of the token or cookie): the ``Actor`` it
  resolved to, the session's CSRF token and expiry, when the token was last marked
  used, and the auth generation (``storage/auth_store.py``) read *before* the rows, in
  the same read-only transaction;
* per person: their roles (workspace → role), with the generation they were read at.

A request whose credential is cached opens no transaction for it. Its context carries
a ``Pending`` check instead; the request's first transaction (``Context.read`` or
``Context.write``) reads the generation — one single-row read — and only if it moved
resolves the credential again, in that transaction, refusing it (401) when it is no
longer valid. The generation moves, through triggers, in the same transaction as every
revocation, deactivation, sign-out, password change and membership or role change, so
the request after one is refused whichever process serves it. A request that never
opens a transaction is checked before its response starts (``web/auth.py``
``ConfirmCredentials``). Nothing is cached for a fixed time.

What is cached comes only from read-only transactions: their snapshot is committed
data. (A write transaction may see its own uncommitted writes, or on SQLite its group
commit's; caching those could outlive a rollback.)

Bounded: at most ``capacity`` credentials and as many people, least recently used first
out. Thread-safe: one lock around each dictionary operation; nothing slow runs under it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from ..access import Actor
from ..domain.errors import Unauthenticated
from ..storage import auth_store, users_store
from ..storage.database import Tx

DEFAULT_CAPACITY = 10_000

Kind = Literal["token", "session"]


@dataclass(frozen=True, slots=True)
class Credential:
    """What a token or session cookie resolved to, at ``generation``."""

    actor: Actor
    generation: int
    marked_at: int  # tokens: the last_used_at stored (0: never); sessions: their expiry
    csrf: str = ""  # sessions only


@dataclass(frozen=True, slots=True)
class Pending:
    """The check a request's first transaction makes: is the generation still ``generation``?"""

    kind: Kind
    digest: str
    generation: int


class AuthCache:
    """Credentials by digest and roles by person, least recently used out past ``capacity`` each."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity: at least 1")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._credentials: OrderedDict[str, Credential] = OrderedDict()
        self._roles: OrderedDict[str, tuple[int, dict]] = OrderedDict()

    def credential(self, digest: str) -> Credential | None:
        with self._lock:
            found = self._credentials.get(digest)
            if found is not None:
                self._credentials.move_to_end(digest)
            return found

    def keep(self, digest: str, credential: Credential) -> None:
        with self._lock:
            self._credentials[digest] = credential
            self._credentials.move_to_end(digest)
            while len(self._credentials) > self.capacity:
                self._credentials.popitem(last=False)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._credentials.pop(digest, None)

    def roles(self, user_id: str, generation: int) -> dict | None:
        """The person's roles if they were read at ``generation`` (None otherwise)."""
        with self._lock:
            found = self._roles.get(user_id)
            if found is None or found[0] != generation:
                return None
            self._roles.move_to_end(user_id)
            return found[1]

    def keep_roles(self, user_id: str, generation: int, roles: dict) -> None:
        with self._lock:
            self._roles[user_id] = (generation, dict(roles))
            self._roles.move_to_end(user_id)
            while len(self._roles) > self.capacity:
                self._roles.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._credentials.clear()
            self._roles.clear()

    def sizes(self) -> tuple[int, int]:
        """(credentials, people) held now."""
        with self._lock:
            return len(self._credentials), len(self._roles)


def token_in(tx: Tx, digest: str) -> tuple[Actor, users_store.TokenActor]:
    """The actor of the token with this digest, read in ``tx``; Unauthenticated when unknown, revoked
    or its person inactive."""
    token = users_store.find_token_actor(tx, digest)
    if token is None or token.revoked_at is not None or not token.is_active:
        raise Unauthenticated("invalid or revoked API token")
    actor = Actor(
        kind="user",
        user_id=token.user_id,
        email=token.email,
        is_admin=token.is_admin,
        read_only=token.scope == "read",
        via="token",
        token_id=token.token_id,
    )
    return actor, token


def session_in(tx: Tx, digest: str) -> tuple[Actor, users_store.SessionActor]:
    """The actor of the session with this digest, read in ``tx``; Unauthenticated when unknown,
    expired, voided or its person inactive."""
    row = users_store.find_session_actor(tx, digest)
    if row is None or row.expires_at < tx.now or not row.is_active or row.created_at < row.sessions_valid_after:
        raise Unauthenticated("your session has ended; sign in again")
    actor = Actor(kind="user", user_id=row.user_id, email=row.email, is_admin=bool(row.is_admin), via="session")
    return actor, row


def resolve_in(tx: Tx, kind: Kind, digest: str, generation: int) -> Credential:
    """Resolve a credential in ``tx`` (whose generation, read first, is ``generation``)."""
    if kind == "token":
        actor, token = token_in(tx, digest)
        return Credential(actor, generation, token.last_used_at or 0)
    actor, row = session_in(tx, digest)
    return Credential(actor, generation, row.expires_at, row.csrf_token)


def confirm(cache: AuthCache, pending: Pending, tx: Tx) -> tuple[int, Actor | None]:
    """The check a request's first transaction makes (``Context``): (the generation, None) when it has
    not moved; (the generation, the actor resolved again) when it has; Unauthenticated when the
    credential is no longer valid. What is resolved again is cached only from a read-only transaction."""
    generation = auth_store.generation(tx)
    if generation == pending.generation:
        return generation, None
    try:
        credential = resolve_in(tx, pending.kind, pending.digest, generation)
    except Unauthenticated:
        from . import telemetry  # imported late: telemetry needs the runtime, which holds this cache

        cache.forget(pending.digest)
        telemetry.count_auth_failure(pending.kind)
        raise
    if not tx.write:
        cache.keep(pending.digest, credential)
    return generation, credential.actor
