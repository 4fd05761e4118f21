"""What the single sign-on tests share: an identity provider answering in-process, and the real one.

``FakeIdP`` is an OpenID provider behind an ``httpx.MockTransport`` (nothing leaves the process): its
discovery document, its key set (keys the test generates, rotated at will) and a token endpoint that
checks the PKCE verifier against the challenge of the authorisation request and answers an ID token
the test shaped. ``running_provider`` starts panva's certified oidc-provider with node on 127.0.0.1
(tests/fixtures/oidc_provider.mjs), from the install ``BASTION_OIDC_PROVIDER_DIR`` names (CI:
``.ci/run`` installs it into .ci-oidc/); without node or the install the tests skip, under CI they fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from environment import IN_CI
from live_server import free_port, serving  # noqa: F401 (the tests import them from here)

ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://idp.example.test"
CLIENT_ID = "bastion-test"
OIDC_PROVIDER_DIR = Path(os.environ.get("BASTION_OIDC_PROVIDER_DIR") or ROOT / ".ci-oidc")
PROVIDER_SCRIPT = ROOT / "tests" / "fixtures" / "oidc_provider.mjs"


def new_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"}, private=True)


class FakeIdP:
    """An OpenID provider answering through ``transport``; ``claims`` shape the next ID token."""

    def __init__(self, issuer: str = ISSUER, *, discovery_issuer: str | None = None) -> None:
        self.issuer = issuer
        self.discovery_issuer = discovery_issuer or issuer
        self.signing_key = new_key("k1")
        self.published = [self.signing_key]
        self.jwks_fetches = 0
        self.requests: dict[str, dict[str, str]] = {}  # code -> the authorisation request's parameters
        self.issued = 0
        self.claims: dict = {}
        self.token_requests: list[dict[str, str]] = []
        self.transport = httpx.MockTransport(self._handle)

    def rotate(self, kid: str) -> None:
        """A new signing key, published from now on (the old one no longer)."""
        self.signing_key = new_key(kid)
        self.published = [self.signing_key]

    def id_token(self, claims: dict | None = None, *, key: ECKey | None = None, alg: str = "ES256") -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "subject-1", "iat": now, "exp": now + 300}
        body.update(claims or {})
        body = {k: v for k, v in body.items() if v is not None}
        key = key or self.signing_key
        return jwt.encode({"alg": alg, "kid": key.kid}, body, key, algorithms=[alg])

    def authorise(self, url: str, claims: dict) -> str:
        """Play the provider's side of an authorisation request: the code it would send back."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.issued += 1
        code = f"code-{self.issued}"
        self.requests[code] = params
        self.claims = {"nonce": params["nonce"], **claims}
        return code

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        base = self.issuer.rstrip("/")
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.discovery_issuer,
                    "authorization_endpoint": f"{base}/auth",
                    "token_endpoint": f"{base}/token",
                    "jwks_uri": f"{base}/jwks",
                    "end_session_endpoint": f"{base}/logout",
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json=KeySet(self.published).as_dict(private=False))
        if path == "/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.token_requests.append(form)
            asked = self.requests.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (
                asked is None
                or asked.get("code_challenge") != challenge
                or asked.get("code_challenge_method") != "S256"
            ):
                return httpx.Response(400, json={"error": "invalid_grant"})
            if form.get("redirect_uri") != asked.get("redirect_uri"):
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200, json={"access_token": "at", "token_type": "Bearer", "id_token": self.id_token(self.claims)}
            )
        return httpx.Response(404)


def providers_json(issuer: str = ISSUER, **overrides) -> str:
    entry = {"name": "idp", "label": "Example IdP", "issuer": issuer, "client_id": CLIENT_ID, "accounts": "jit"}
    entry.update(overrides)
    return json.dumps([entry])


# -- the real provider (panva's oidc-provider, with node) ------------------------------------


def require_oidc_provider() -> None:
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed (apt-get install -y nodejs)"
    elif not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider" / "lib" / "index.js").exists():
        problem = (
            f"oidc-provider is not installed in {OIDC_PROVIDER_DIR} (npm install --prefix .ci-oidc oidc-provider; "
            "BASTION_OIDC_PROVIDER_DIR names another folder)"
        )
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the single sign-on tests: {problem}")
        pytest.skip(problem)


@contextmanager
def running_provider(
    tmp_path: Path, *, redirect_uri: str, post_logout_redirect_uri: str, accounts: dict, client_secret: str | None
) -> Iterator[str]:
    """oidc-provider on 127.0.0.1 with one client; yields its issuer."""
    require_oidc_provider()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = tmp_path / "oidc-provider.json"
    config.write_text(
        json.dumps(
            {
                "port": port,
                "issuer": issuer,
                "client": {
                    "client_id": CLIENT_ID,
                    "client_secret": client_secret,
                    "redirect_uris": [redirect_uri],
                    "post_logout_redirect_uris": [post_logout_redirect_uri],
                },
                "accounts": accounts,
            }
        )
    )
    log = tmp_path / "oidc-provider.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            ["node", str(PROVIDER_SCRIPT), str(OIDC_PROVIDER_DIR), str(config)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "ready <issuer>", or nothing when node failed
        if not line.startswith("ready"):
            process.kill()
            raise AssertionError(f"oidc-provider did not start: {line}{log.read_text()}")
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
