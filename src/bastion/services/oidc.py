"""Single sign-on with OpenID Connect: the authorisation code flow with PKCE, state and nonce.

Concept: ``begin_sign_in`` records a sign-in under way (state, nonce, PKCE verifier: in the
database, so every server process sees it) and answers the provider's authorisation URL and a
browser secret for a short-lived cookie; ``complete_sign_in`` takes that record back — once, and
only for the browser holding the cookie — trades the code for tokens (the requests built by Authlib's RFC 6749/7636 functions, sent
with httpx), verifies the ID
token (joserfc, which Authlib recommends for JOSE), finds or links the person, applies their
groups to the managed workspaces (services/group_roles.py) and starts a session like a password
sign-in does. ``sign_out`` ends the sessions and answers the provider's end-session URL.

What is checked: the discovery document's issuer equals the configured one and its endpoints are
https (http on the loopback interface only); the ID token's signature against the provider's JWKS
(cached; a token naming an unknown key id refetches the set once: key rotation), ``iss``, ``aud``,
``azp``, ``exp``/``iat`` within a minute's leeway, and the ``nonce`` (domain/oidc.py).

Accounts: a person is their (issuer, ``sub``). A first sign-in links an existing account only when
the provider says the e-mail is verified and the account has no other subject of that issuer;
``jit`` providers create the account when none has the e-mail; ``invited`` ones refuse. Refusals
raise ``SignInRefused`` and are audited for the account concerned, like failed password sign-ins.

The trap: a provider error page, a replayed callback or a callback in another browser must not
sign anyone in — hence the one-use, browser-bound record — and must not answer 500 either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from . import users
from .context import Context
from .group_roles import apply_group_roles
from .oidc_providers import OidcClients, validate_id_token
from .. import ids
from ..access import Actor
from ..domain.errors import BastionError, InvalidInput, SignInRefused, Unavailable
from ..domain.oidc import Provider, email_is_verified, groups_of
from ..domain.users import User, normalise_email
from ..storage import identities_store, users_store
from ..storage.identities_store import PendingSignIn

if TYPE_CHECKING:
    from .runtime import Runtime

SIGN_IN_SECONDS = 600  # from the button to the callback


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- the flow --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignInStart:
    url: str  # the provider's authorisation URL, to redirect to
    browser_secret: str  # for the cookie that binds the callback to this browser


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    session_secret: str
    next_path: str


def _token_request(provider: Provider, metadata: dict[str, Any], *, code: str, pending: PendingSignIn):
    """The token request's form and headers (RFC 6749 4.1.3, RFC 7636 4.5): client_secret_basic when the
    client has a secret (client_secret_post when the provider offers only that), the client id alone when not."""
    form = {"code": code, "code_verifier": pending.code_verifier}
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    if provider.client_secret is None:
        form["client_id"] = provider.client_id
    else:
        supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" in supported:
            pair = f"{quote(provider.client_id, safe='')}:{quote(provider.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=provider.client_id, client_secret=provider.client_secret)
    body = prepare_token_request("authorization_code", redirect_uri=pending.redirect_uri, **form)
    return body, headers


def _fetch_token(clients: OidcClients, provider: Provider, metadata: dict[str, Any], body: str, headers) -> dict:
    try:
        with clients.http() as http:
            response = http.post(metadata["token_endpoint"], content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise Unavailable(f"sign-in provider {provider.name}: its token endpoint could not be reached") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise Unavailable(f"sign-in provider {provider.name}: its token endpoint answered HTTP {response.status_code}")
    if response.status_code != 200 or "error" in answer:
        error = str(answer.get("error", response.status_code))[:100]
        raise SignInRefused(f"the provider refused the authorisation code ({error})")
    return answer


def begin_sign_in(
    rt: Runtime, provider_name: str, *, redirect_uri: str, next_path: str, address: str | None = None
) -> SignInStart:
    """Start a sign-in with a provider: where to send the browser, and the secret its cookie holds.

    Unfinished starts are limited per client ``address`` (services/users.py ``reserve_sso_start``)."""
    clients = rt.oidc
    provider = clients.provider(provider_name)
    metadata = clients.metadata(provider)
    users.reserve_sso_start(rt, address)
    state, nonce, browser = (secrets.token_urlsafe(32) for _ in range(3))
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 asks for 43 to 128
    url = prepare_grant_uri(
        metadata["authorization_endpoint"],
        provider.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=" ".join(provider.scopes),
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    pending = PendingSignIn(
        browser_hash=_digest(browser),
        provider=provider.name,
        nonce=nonce,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        next_path=next_path,
        expires_at=0,
    )
    with rt.db.transaction(write=True) as tx:
        identities_store.delete_expired_sign_ins(tx, tx.now)
        identities_store.insert_sign_in(
            tx, _digest(state), pending._replace(expires_at=tx.now + SIGN_IN_SECONDS * 1000), tx.now
        )
    return SignInStart(url=url, browser_secret=browser)


def complete_sign_in(
    rt: Runtime,
    provider_name: str,
    *,
    state: str,
    code: str | None,
    error: str | None,
    browser_secret: str,
    address: str | None = None,
    iss: str | None = None,
) -> SignedIn:
    """Finish a sign-in at the provider's callback: a session for the person, or SignInRefused.

    ``iss``: the issuer the answer names (RFC 9207), when the provider sends it; it must be this one's
    (a mix-up between providers is refused before the code goes anywhere)."""
    clients = rt.oidc
    provider = clients.provider(provider_name)
    if not state or len(state) > 200:
        raise SignInRefused("this sign-in answer has no state; start again")
    with rt.db.transaction(write=True) as tx:
        pending = identities_store.take_sign_in(tx, _digest(state))
        now = tx.now
    if (
        pending is None
        or pending.expires_at < now
        or pending.provider != provider.name
        or not hmac.compare_digest(pending.browser_hash, _digest(browser_secret or ""))
    ):
        raise SignInRefused("this sign-in has expired, was used already or was started in another browser; start again")
    if iss is not None and iss != provider.issuer:
        raise SignInRefused("the answer comes from another issuer than the one this sign-in went to")
    if error:
        raise SignInRefused(f"the provider did not sign you in ({error[:100]})")
    if not code or len(code) > 2000:
        raise SignInRefused("the provider's answer has no authorisation code")
    metadata = clients.metadata(provider)
    body, headers = _token_request(provider, metadata, code=code, pending=pending)
    token = _fetch_token(clients, provider, metadata, body, headers)
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefused("the provider sent no ID token (is 'openid' among the scopes?)")
    claims = validate_id_token(clients, provider, id_token, nonce=pending.nonce)
    user = link_account(rt, provider, claims, address=address)
    apply_group_roles(Context(rt, Actor.system()), user.id, groups_of(claims, provider.groups_claim), via="oidc")
    secret, _csrf = users.create_session(rt, user, provider=provider.name, id_token=id_token)
    actor = Actor(kind="user", user_id=user.id, email=user.email, is_admin=user.is_admin, via="session")
    with Context(rt, actor).write() as w:
        users.record_for_person(w, user.id, "auth.login", user.id, address=address, via="oidc", provider=provider.name)
        users.refund_sso_start(w, address)
    return SignedIn(user=user, session_secret=secret, next_path=pending.next_path)


def link_account(rt: Runtime, provider: Provider, claims: Mapping[str, Any], *, address: str | None = None) -> User:
    """The person these (verified) claims stand for: linked already, linked now, or created (``jit``)."""
    subject = claims["sub"]
    try:
        _find_or_link(rt, provider, claims)
    except SignInRefusedFor as refusal:
        if refusal.user_id is not None:
            _audit_refusal(rt, refusal.user_id, refusal.message, address, provider)
        raise SignInRefused(refusal.message) from None
    with rt.db.transaction(write=False) as tx:
        user_id = identities_store.find_user_id(tx, provider.issuer, subject)
        user = users_store.find_user(tx, user_id) if user_id else None
    if user is None:  # deleted between the two transactions
        raise SignInRefused("the account of this sign-in no longer exists")
    return user


class SignInRefusedFor(BastionError):
    """A refusal concerning a known account (audited there), or none (``user_id`` None)."""

    def __init__(self, message: str, user_id: str | None = None) -> None:
        super().__init__(message)
        self.user_id = user_id


def _find_or_link(rt: Runtime, provider: Provider, claims: Mapping[str, Any]) -> None:
    issuer, subject = provider.issuer, claims["sub"]
    with Context(rt, Actor.system()).write() as w:
        user_id = identities_store.find_user_id(w.tx, issuer, subject)
        if user_id is not None:
            user = users_store.find_user(w.tx, user_id)
            if user is None or not user.is_active:
                raise SignInRefusedFor("this account is deactivated; ask an administrator", user_id)
            identities_store.touch_identity(w.tx, issuer, subject, w.now)
            return
        email = _email_of(claims)
        existing = users_store.find_user_by_email(w.tx, email) if email else None
        if not email_is_verified(claims, provider):
            raise SignInRefusedFor(
                "the provider has not verified your e-mail address, so it cannot be linked to an account",
                existing.id if existing else None,
            )
        assert email is not None  # _email_of returned one, or email_verified would be beside the point
        if existing is not None:
            if not existing.is_active:
                raise SignInRefusedFor("this account is deactivated; ask an administrator", existing.id)
            if identities_store.has_identity_at(w.tx, issuer, existing.id):
                raise SignInRefusedFor(
                    f"the account {email} is linked to another identity at {provider.label}", existing.id
                )
            identities_store.insert_identity(w.tx, issuer, subject, existing.id, w.now)
            users.record_for_person(w, existing.id, "auth.identity_linked", existing.id, provider=provider.name)
            return
        if provider.accounts != "jit":
            raise SignInRefusedFor(f"there is no account for {email} here; ask an administrator to invite you")
        new_id = ids.new_id("usr")
        name = claims.get("name")
        name = name.strip()[:200] if isinstance(name, str) else ""
        users_store.insert_user(w.tx, new_id, email, name=name, password_hash=None, is_admin=False, now=w.now)
        identities_store.insert_identity(w.tx, issuer, subject, new_id, w.now)


def _email_of(claims: Mapping[str, Any]) -> str | None:
    value = claims.get("email")
    if not isinstance(value, str):
        raise SignInRefusedFor("the provider sent no e-mail address (ask for the 'email' scope)")
    try:
        return normalise_email(value)
    except InvalidInput:
        raise SignInRefusedFor(f"the provider's e-mail {value[:320]!r} is not an e-mail address") from None


def _audit_refusal(rt: Runtime, user_id: str, why: str, address: str | None, provider: Provider) -> None:
    """Like a failed password sign-in: the person's workspaces see it."""
    actor = Actor(kind="user", user_id=user_id, email="", is_admin=False, via="session")
    with Context(rt, actor).write() as w:
        users.record_for_person(
            w, user_id, "auth.login_refused", user_id, address=address, via="oidc", provider=provider.name, why=why
        )


# -- signing out ----------------------------------------------------------------------


def sign_out(ctx: Context, session_secret: str, *, post_logout_redirect_uri: str) -> str | None:
    """End every session of the person; the provider's end-session URL to go on to, if it has one."""
    with ctx.read() as r:
        started = identities_store.find_session_sign_in(r.tx, users.session_id(session_secret))
    users.end_all_sessions(ctx, ctx.actor.user_id)
    if started is None:
        return None
    provider_name, id_token = started
    provider = ctx.rt.oidc.providers.get(provider_name)
    if provider is None:
        return None  # the provider was removed from the configuration since
    try:
        endpoint = ctx.rt.oidc.metadata(provider).get("end_session_endpoint")
    except Unavailable:
        return None  # Bastion's session has ended; the provider's may outlive it
    if not endpoint:
        return None
    query = {"client_id": provider.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def provider_buttons(rt: Runtime) -> list[tuple[str, str]]:
    """(name, label) of the configured providers, in configuration order."""
    return [(p.name, p.label) for p in rt.oidc.providers.values()]
