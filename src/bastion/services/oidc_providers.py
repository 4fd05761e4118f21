"""The deployment's OpenID Connect providers: discovery, signing keys, ID token verification.

``OidcClients`` lives on the runtime (one per process): the providers parsed from
``BASTION_OIDC_PROVIDERS`` at start (a bad entry stops the start, naming the field), and their
discovery documents and key sets, fetched on first use and cached for an hour.

What is checked: the discovery document's issuer equals the configured one and its endpoints are
https (http on the loopback interface only); the ID token's signature against the provider's JWKS
(a token naming an unknown key id refetches the set once, at most every few seconds: key
rotation), then ``iss``, ``aud``, ``azp``, ``exp``/``iat`` within a minute's leeway, and the
``nonce`` (domain/oidc.py). JOSE is joserfc's, the library Authlib recommends for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from ..domain.errors import InvalidConfig, NotFound, SignInRefused, Unavailable
from ..domain.oidc import Provider, check_endpoint_url, check_id_token_claims, parse_providers

METADATA_SECONDS = 3600  # discovery documents and key sets are fetched again after this
JWKS_REFRESH_SECONDS = 10  # an unknown key id refetches the key set at most this often per provider
HTTP_TIMEOUT_SECONDS = 10
MAX_DOCUMENT_BYTES = 1024 * 1024
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


@dataclass
class OidcClients:
    """The deployment's providers, with their discovery documents and key sets cached per process."""

    providers: dict[str, Provider] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None  # tests pass an in-process one
    clock: Callable[[], float] = time.time
    _metadata: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _keys: dict[str, tuple[float, KeySet]] = field(default_factory=dict)
    _refreshed: dict[str, float] = field(default_factory=dict)
    _origins: frozenset[str] = frozenset()  # learned from discovery documents (see form_origins)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, text: str | None, environ: Mapping[str, str]) -> OidcClients:
        return cls(parse_providers(text, environ))

    def form_origins(self) -> frozenset[str]:
        """Where the pages' forms may redirect: the issuers' origins, and their authorisation and end-session
        endpoints' once discovered (the pages' Content-Security-Policy ``form-action``, web/middleware.py)."""
        return frozenset(_origin(p.issuer) for p in self.providers.values()) | self._origins

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise NotFound(f"no sign-in provider named {name!r}")
        return found

    def http(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)

    def _get_json(self, provider: Provider, url: str, what: str) -> dict[str, Any]:
        try:
            with self.http() as client:
                response = client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise Unavailable(f"sign-in provider {provider.name}: its {what} could not be fetched ({exc})") from exc
        if response.status_code != 200:
            raise Unavailable(f"sign-in provider {provider.name}: its {what} answered HTTP {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise Unavailable(f"sign-in provider {provider.name}: its {what} is too large")
        try:
            document = response.json()
        except ValueError as exc:
            raise Unavailable(f"sign-in provider {provider.name}: its {what} is not JSON") from exc
        if not isinstance(document, dict):
            raise Unavailable(f"sign-in provider {provider.name}: its {what} is not a JSON object")
        return document

    def metadata(self, provider: Provider) -> dict[str, Any]:
        """The provider's discovery document (``<issuer>/.well-known/openid-configuration``), checked."""
        now = self.clock()
        cached = self._metadata.get(provider.name)
        if cached is not None and now - cached[0] < METADATA_SECONDS:
            return cached[1]
        url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(provider, url, "discovery document")
        where = f"sign-in provider {provider.name}"
        if document.get("issuer") != provider.issuer:
            raise Unavailable(
                f"{where}: the discovery document names the issuer {document.get('issuer')!r}, "
                f"not the configured {provider.issuer!r}"
            )
        try:
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                check_endpoint_url(document.get(key), f"{where}: discovery {key}")
            if document.get("end_session_endpoint") is not None:
                check_endpoint_url(document["end_session_endpoint"], f"{where}: discovery end_session_endpoint")
        except InvalidConfig as exc:
            raise Unavailable(exc.message) from exc
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise Unavailable(f"{where}: the provider does not support PKCE with S256")
        with self._lock:
            self._metadata[provider.name] = (now, document)
            endpoints = (document["authorization_endpoint"], document.get("end_session_endpoint"))
            self._origins = self._origins | {_origin(url) for url in endpoints if url}
        return document

    def keys(self, provider: Provider, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (its JWKS), cached; ``refresh``: fetch again now."""
        now = self.clock()
        cached = self._keys.get(provider.name)
        if cached is not None and not refresh and now - cached[0] < METADATA_SECONDS:
            return cached[1]
        document = self._get_json(provider, self.metadata(provider)["jwks_uri"], "key set (JWKS)")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Unavailable(f"sign-in provider {provider.name}: its key set (JWKS) cannot be read") from exc
        with self._lock:
            self._keys[provider.name] = (now, keys)
        return keys

    def may_refresh_keys(self, provider: Provider) -> bool:
        """Whether an unknown key id may refetch the key set now (not more often than every few seconds)."""
        now = self.clock()
        with self._lock:
            if now - self._refreshed.get(provider.name, float("-inf")) < JWKS_REFRESH_SECONDS:
                return False
            self._refreshed[provider.name] = now
        return True


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def validate_id_token(clients: OidcClients, provider: Provider, id_token: str, *, nonce: str) -> dict[str, Any]:
    """The claims of a valid ID token of this provider for this sign-in; SignInRefused otherwise."""
    if not isinstance(id_token, str) or not id_token or len(id_token) > 64 * 1024:
        raise SignInRefused("the provider sent no ID token")
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise SignInRefused("the ID token is malformed") from exc
    if header.get("alg") not in ALGORITHMS:
        raise SignInRefused(f"the ID token's algorithm {header.get('alg')!r} is not accepted")
    keys = clients.keys(provider)
    kid = header.get("kid")
    if kid is not None and all(key.kid != kid for key in keys.keys) and clients.may_refresh_keys(provider):
        keys = clients.keys(provider, refresh=True)  # the provider may have rotated its keys
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except InvalidKeyIdError as exc:
        raise SignInRefused("the ID token is signed with a key the provider does not publish") from exc
    except BadSignatureError as exc:
        raise SignInRefused("the ID token's signature does not verify") from exc
    except (JoseError, ValueError, TypeError) as exc:
        raise SignInRefused("the ID token cannot be verified") from exc
    claims = dict(token.claims)
    check_id_token_claims(
        claims, issuer=provider.issuer, client_id=provider.client_id, nonce=nonce, now_s=int(clients.clock())
    )
    return claims
