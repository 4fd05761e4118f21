"""Single sign-on with OpenID Connect: the deployment's providers and what an ID token must say.

Pure rules, no I/O: ``parse_providers`` reads ``BASTION_OIDC_PROVIDERS`` (the secrets it names are
looked up in the environment mapping it is given), ``check_id_token_claims`` decides whether the
claims of an ID token whose signature has already been verified (services/oidc.py) may sign
someone in, and ``groups_of`` reads the groups claim.

The trap: an e-mail address is not an identity. A provider lets people change it, and a second
provider may vouch for anyone's address. A person is their ``(issuer, sub)`` pair; the e-mail is
used once, to link a first sign-in to an account an administrator created, and only when the
provider says it verified it (services/oidc.py).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from .errors import InvalidConfig, SignInRefused

SETTING = "BASTION_OIDC_PROVIDERS"
ACCOUNT_POLICIES = ("jit", "invited")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 scope-token
_FIELDS = {
    "name",
    "label",
    "issuer",
    "client_id",
    "client_secret_env",
    "scopes",
    "groups_claim",
    "accounts",
    "trust_email",
}
LEEWAY_SECONDS = 60  # clock skew tolerated on exp and iat
MAX_AGE_SECONDS = 24 * 3600  # an ID token issued longer ago than this is refused, whatever its exp


@dataclass(frozen=True, slots=True)
class Provider:
    """One identity provider of the deployment."""

    name: str  # short, in URLs: /login/oidc/<name>
    label: str  # on the button: "Sign in with <label>"
    issuer: str
    client_id: str
    client_secret: str | None  # None: a public client (PKCE alone)
    scopes: tuple[str, ...]
    groups_claim: str
    accounts: str  # 'jit' or 'invited'
    # The provider vouches for every e-mail it sends (an organisation's own directory) although it sends no
    # ``email_verified`` (Entra ID): an absent claim counts as verified; an explicit false never does.
    trust_email: bool = False

    def __repr__(self) -> str:  # never show the secret in a log or a traceback
        return f"Provider(name={self.name!r}, issuer={self.issuer!r}, client_id={self.client_id!r})"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint_url(url: object, field: str) -> str:
    """An https URL (http only on the loopback interface, for development and tests)."""
    if not isinstance(url, str) or not url or len(url) > 500:
        raise InvalidConfig(f"{field}: an https URL is required")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidConfig(f"{field}: {url!r} is not an https URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InvalidConfig(f"{field}: {url!r} must use https (http only for 127.0.0.1 or localhost)")
    if parts.query or parts.fragment:
        raise InvalidConfig(f"{field}: {url!r} must not carry a query or a fragment")
    return url


def _text(entry: dict[str, Any], key: str, where: str, *, default: str | None = None, limit: int = 500) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InvalidConfig(f"{where}.{key}: a non-empty string is required")
    if len(value) > limit:
        raise InvalidConfig(f"{where}.{key}: at most {limit} characters")
    return value.strip()


def parse_providers(text: str | None, environ: Mapping[str, str]) -> dict[str, Provider]:
    """The providers of ``BASTION_OIDC_PROVIDERS`` (a JSON list), by name; InvalidConfig names the field."""
    if text is None or not text.strip():
        return {}
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise InvalidConfig(f"{SETTING}: not valid JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise InvalidConfig(f"{SETTING}: a JSON list of providers is required")
    providers: dict[str, Provider] = {}
    for index, entry in enumerate(entries):
        where = f"{SETTING}[{index}]"
        if not isinstance(entry, dict):
            raise InvalidConfig(f"{where}: a JSON object is required")
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise InvalidConfig(f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(_FIELDS))})")
        name = _text(entry, "name", where, limit=32)
        if not _NAME.match(name):
            raise InvalidConfig(f"{where}.name: lower-case letters, digits, '-' and '_' (at most 32)")
        if name in providers:
            raise InvalidConfig(f"{where}.name: {name!r} is used twice")
        label = _text(entry, "label", where, limit=100)
        issuer = check_endpoint_url(_text(entry, "issuer", where), f"{where}.issuer")
        client_id = _text(entry, "client_id", where)
        secret: str | None = None
        secret_env = entry.get("client_secret_env")
        if secret_env is not None:
            if not isinstance(secret_env, str) or not _ENV_NAME.match(secret_env):
                raise InvalidConfig(f"{where}.client_secret_env: the name of an environment variable is required")
            secret = environ.get(secret_env)
            if not secret:
                raise InvalidConfig(f"{where}.client_secret_env: the environment variable {secret_env} is not set")
        scopes = entry.get("scopes", ["openid", "email", "profile"])
        if not isinstance(scopes, list) or not all(isinstance(s, str) and _SCOPE.match(s) for s in scopes):
            raise InvalidConfig(f"{where}.scopes: a list of scope names is required")
        if "openid" not in scopes:
            raise InvalidConfig(f"{where}.scopes: must include 'openid'")
        groups_claim = _text(entry, "groups_claim", where, default="groups", limit=100)
        accounts = entry.get("accounts", "invited")
        if accounts not in ACCOUNT_POLICIES:
            raise InvalidConfig(f"{where}.accounts: 'jit' or 'invited', not {accounts!r}")
        trust_email = entry.get("trust_email", False)
        if not isinstance(trust_email, bool):
            raise InvalidConfig(f"{where}.trust_email: true or false")
        providers[name] = Provider(
            name=name,
            label=label,
            issuer=issuer,
            client_id=client_id,
            client_secret=secret,
            scopes=tuple(dict.fromkeys(scopes)),
            groups_claim=groups_claim,
            accounts=accounts,
            trust_email=trust_email,
        )
    return providers


def check_id_token_claims(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now_s: int, leeway_s: int = LEEWAY_SECONDS
) -> None:
    """OpenID Connect Core 3.1.3.7, the claims half (the signature is checked before): SignInRefused if not."""
    if claims.get("iss") != issuer:
        raise SignInRefused("the ID token was issued by another issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise SignInRefused("the ID token is meant for another client (aud)")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInRefused("the ID token names several audiences but another authorised party (azp)")
    if "azp" in claims and claims["azp"] != client_id:
        raise SignInRefused("the ID token was issued to another authorised party (azp)")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_time(exp) or not _is_time(iat):
        raise SignInRefused("the ID token lacks its times (exp, iat)")
    if exp + leeway_s <= now_s:
        raise SignInRefused("the ID token has expired")
    if iat - leeway_s > now_s:
        raise SignInRefused("the ID token was issued in the future (check the clocks)")
    if now_s - iat > MAX_AGE_SECONDS:
        raise SignInRefused("the ID token was issued too long ago")
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise SignInRefused("the ID token does not answer this sign-in (nonce)")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SignInRefused("the ID token names no subject (sub)")


def email_is_verified(claims: Mapping[str, Any], provider: Provider) -> bool:
    """Whether the provider vouches for the e-mail of these claims (see ``Provider.trust_email``)."""
    verified = claims.get("email_verified")
    if verified is None and provider.trust_email:
        return True
    return verified is True or verified == "true"  # some providers send the string


def _is_time(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The groups a provider reports; none when the claim is absent.

    A provider that sends the groups by reference instead (Entra ID's "overage" when someone is in
    too many groups: ``_claim_names``) would otherwise read as "no groups" and take every managed
    membership away, so that sign-in is refused with the reason.
    """
    value = claims.get(claim)
    if value is None:
        names = claims.get("_claim_names")
        if isinstance(names, dict) and claim in names:
            raise SignInRefused(
                f"the provider sent the {claim!r} claim by reference (too many groups); "
                "limit the groups it sends to this application"
            )
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise SignInRefused(f"the provider's {claim!r} claim is not a list of group names")
    return value
