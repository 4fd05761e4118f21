"""Single sign-on rows: who a provider's subject is here, and the sign-ins under way.

``user_identities`` maps (issuer, subject) to a person; the unique (issuer, user_id) keeps one
subject per issuer and person. ``oidc_sign_ins`` holds the state, nonce and PKCE verifier of a
sign-in until its callback takes them: ``take_sign_in`` deletes the row it returns, so a state is
used once even when two requests race (only one DELETE finds the row). Both are deployment
tables that row-level security does not restrict (storage/rls.py).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import and_, delete, insert, select, update

from . import schema
from .database import Tx
from .integrity import refused_as
from ..domain.errors import Conflict

i = schema.user_identities
p = schema.oidc_sign_ins
s = schema.web_sessions


def find_user_id(tx: Tx, issuer: str, subject: str) -> str | None:
    row = tx.execute(select(i.c.user_id).where(and_(i.c.issuer == issuer, i.c.subject == subject))).first()
    return None if row is None else str(row.user_id)


def has_identity_at(tx: Tx, issuer: str, user_id: str) -> bool:
    """Whether the person is already linked to a subject of this issuer."""
    row = tx.execute(select(i.c.subject).where(and_(i.c.issuer == issuer, i.c.user_id == user_id))).first()
    return row is not None


def insert_identity(tx: Tx, issuer: str, subject: str, user_id: str, now: int) -> None:
    """Conflict when the subject, or another subject of the issuer for this person, got linked meanwhile."""
    with refused_as(tx, Conflict("this account was linked to another identity of the provider meanwhile")):
        tx.execute(
            insert(i).values(issuer=issuer, subject=subject, user_id=user_id, created_at=now, last_sign_in_at=now)
        )


def touch_identity(tx: Tx, issuer: str, subject: str, now: int) -> None:
    tx.execute(update(i).where(and_(i.c.issuer == issuer, i.c.subject == subject)).values(last_sign_in_at=now))


def list_identities_of(tx: Tx, user_id: str) -> list[tuple[str, str]]:
    """(issuer, subject) of a person, oldest first."""
    rows = tx.execute(select(i.c.issuer, i.c.subject).where(i.c.user_id == user_id).order_by(i.c.created_at))
    return [(row.issuer, row.subject) for row in rows]


# -- sign-ins under way ----------------------------------------------------------------


class PendingSignIn(NamedTuple):
    browser_hash: str
    provider: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_path: str
    expires_at: int


def insert_sign_in(tx: Tx, state_hash: str, pending: PendingSignIn, now: int) -> None:
    tx.execute(insert(p).values(id=state_hash, created_at=now, **pending._asdict()))


def delete_expired_sign_ins(tx: Tx, now: int) -> None:
    tx.execute(delete(p).where(p.c.expires_at < now))


def take_sign_in(tx: Tx, state_hash: str) -> PendingSignIn | None:
    """The sign-in of this state, deleted as it is read (None: unknown, or taken already)."""
    row = tx.execute(select(p).where(p.c.id == state_hash)).first()
    if row is None:
        return None
    if not tx.execute(delete(p).where(p.c.id == state_hash)).rowcount:
        return None  # another request took it between the two statements
    return PendingSignIn(
        row.browser_hash, row.provider, row.nonce, row.code_verifier, row.redirect_uri, row.next_path, row.expires_at
    )


# -- sessions started by a provider ----------------------------------------------------


def find_session_sign_in(tx: Tx, session_id: str) -> tuple[str, str | None] | None:
    """(provider, ID token) of a session a provider started; None for a password session or none."""
    row = tx.execute(select(s.c.provider, s.c.id_token).where(s.c.id == session_id)).first()
    if row is None or row.provider is None:
        return None
    return row.provider, row.id_token
