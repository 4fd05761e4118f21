"""Single sign-on: the ID token's checks, the one-use browser-bound flow, accounts linked by subject.

The provider answers in-process (oidc_support.FakeIdP, keys generated here, no network); the flow
against a real certified provider is tests/browser/test_oidc_sign_in.py.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from bastion.domain.errors import NotFound, RateLimited, SignInRefused, Unauthenticated, Unavailable
from bastion.services import audit, oidc, users, workspaces
from bastion.services.context import Context
from bastion.services.oidc_providers import OidcClients, validate_id_token
from bastion.storage import identities_store, memberships_store
from factories import make_user, operator_tx, system
from oidc_support import CLIENT_ID, ISSUER, FakeIdP, new_key, providers_json

REDIRECT = "http://127.0.0.1:8000/login/oidc/idp/callback"


@pytest.fixture
def idp():
    return FakeIdP()


def _clients(idp: FakeIdP, **overrides) -> OidcClients:
    clients = OidcClients.from_settings(providers_json(**overrides), {})
    clients.transport = idp.transport
    return clients


def _validate(idp, token, nonce="n-1", **overrides):
    clients = _clients(idp, **overrides)
    return validate_id_token(clients, clients.provider("idp"), token, nonce=nonce)


# -- the ID token (no database) ----------------------------------------------------------


def test_a_valid_id_token_gives_its_claims(idp):
    claims = _validate(idp, idp.id_token({"nonce": "n-1", "email": "a@example.org"}))
    assert claims["sub"] == "subject-1" and claims["email"] == "a@example.org"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "https://other.example.test"}, "another issuer"),
        ({"aud": "someone-else"}, "another client"),
        ({"aud": [CLIENT_ID, "someone-else"]}, "several audiences"),
        ({"aud": [CLIENT_ID, "someone-else"], "azp": "someone-else"}, "several audiences"),
        ({"nonce": "n-other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": "now-120"}, "expired"),  # times relative to when the test runs, not when it was collected
        ({"iat": "now+600"}, "future"),
        ({"exp": None}, "times"),
        ({"sub": None}, "subject"),
    ],
)
def test_claims_that_do_not_fit_are_refused(idp, claims, why):
    now = int(time.time())
    claims = {k: now + int(v[3:]) if isinstance(v, str) and v.startswith("now") else v for k, v in claims.items()}
    with pytest.raises(SignInRefused, match=why):
        _validate(idp, idp.id_token({"nonce": "n-1", **claims}))


def test_a_second_audience_is_accepted_when_we_are_the_authorised_party(idp):
    token = idp.id_token({"nonce": "n-1", "aud": [CLIENT_ID, "api"], "azp": CLIENT_ID})
    assert _validate(idp, token)["azp"] == CLIENT_ID


def test_a_small_clock_skew_is_tolerated(idp):
    token = idp.id_token({"nonce": "n-1", "exp": int(time.time()) - 20, "iat": int(time.time()) + 20})
    assert _validate(idp, token)["sub"] == "subject-1"


def test_a_bad_signature_is_refused(idp):
    forged = new_key("k1")  # the published key id, another key
    with pytest.raises(SignInRefused, match="signature does not verify"):
        _validate(idp, idp.id_token({"nonce": "n-1"}, key=forged))
    token = idp.id_token({"nonce": "n-1"})
    header, body, signature = token.split(".")
    tampered = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SignInRefused):
        _validate(idp, f"{header}.{tampered}.{signature}")


def test_unsigned_and_symmetric_tokens_are_refused(idp):
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = idp.id_token({"nonce": "n-1"}).split(".")[1]
    with pytest.raises(SignInRefused, match="algorithm"):
        _validate(idp, f"{header}.{body}.")
    with pytest.raises(SignInRefused, match="malformed"):
        _validate(idp, "not-a-token")


def test_an_unknown_key_id_refetches_the_keys_once_so_a_rotated_key_is_accepted(idp):
    clients = _clients(idp)
    provider = clients.provider("idp")
    assert validate_id_token(clients, provider, idp.id_token({"nonce": "n"}), nonce="n")
    assert idp.jwks_fetches == 1
    assert validate_id_token(clients, provider, idp.id_token({"nonce": "n"}), nonce="n")
    assert idp.jwks_fetches == 1  # cached

    idp.rotate("k2")
    assert validate_id_token(clients, provider, idp.id_token({"nonce": "n"}), nonce="n")["sub"] == "subject-1"
    assert idp.jwks_fetches == 2

    stranger = new_key("k3")  # never published: one more fetch is not allowed this soon, and it stays refused
    with pytest.raises(SignInRefused, match="does not publish"):
        validate_id_token(clients, provider, idp.id_token({"nonce": "n"}, key=stranger), nonce="n")
    assert idp.jwks_fetches == 2


def test_the_discovery_document_must_name_the_configured_issuer():
    idp = FakeIdP(discovery_issuer="https://evil.example.test")
    clients = _clients(idp)
    with pytest.raises(Unavailable, match="names the issuer 'https://evil.example.test'"):
        clients.metadata(clients.provider("idp"))


# -- the flow, with the database ----------------------------------------------------------


def _sign_in(rt, idp, claims, *, next_path="/", browser=None, state=None):
    start = oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path=next_path)
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}
    assert params["code_challenge_method"] == "S256" and params["redirect_uri"] == REDIRECT
    assert params["client_id"] == CLIENT_ID and "openid" in params["scope"].split()
    code = idp.authorise(start.url, claims)
    return oidc.complete_sign_in(
        rt,
        "idp",
        state=state or params["state"],
        code=code,
        error=None,
        browser_secret=start.browser_secret if browser is None else browser,
        address="203.0.113.9",
    )


def _use(rt, idp, **overrides):
    rt.oidc = _clients(idp, **overrides)


VERIFIED = {"sub": "s-ada", "email": "Ada@Example.org", "email_verified": True, "name": "Ada"}


def test_jit_creates_the_account_applies_groups_and_starts_a_session(rt, idp):
    owner = make_user(rt, "owner@example.org")
    ws = workspaces.create_workspace(system(rt), "Client", owner=owner.id)
    rt.settings.group_roles = f'{{"labellers": {{"{ws.id}": "reviewer"}}}}'
    _use(rt, idp, groups_claim="roles")

    done = _sign_in(rt, idp, {**VERIFIED, "roles": ["labellers", "other"]}, next_path="/projects")
    assert done.next_path == "/projects" and done.user.email == "ada@example.org" and done.user.name == "Ada"
    actor, _csrf = users.resolve_session(rt, done.session_secret)
    assert actor.user_id == done.user.id
    with operator_tx(rt, write=False) as tx:
        assert memberships_store.find_role(tx, ws.id, done.user.id) == "reviewer"
        assert identities_store.list_identities_of(tx, done.user.id) == [(ISSUER, "s-ada")]
    with pytest.raises(Unauthenticated):  # no password: the account only signs in through the provider
        users.authenticate(rt, "ada@example.org", "")
    actions = [e["action"] for e in audit.list_entries(system(rt), ws.id, limit=50)["items"]]
    assert "member.added" in actions and "auth.login" in actions

    # The next sign-in is the same person by subject, whatever the e-mail says now; groups follow.
    again = _sign_in(rt, idp, {**VERIFIED, "email": "renamed@example.org", "roles": []})
    assert again.user.id == done.user.id
    with operator_tx(rt, write=False) as tx:
        assert memberships_store.find_role(tx, ws.id, done.user.id) is None


def test_a_sign_in_record_is_used_once_and_only_by_the_browser_that_started_it(rt, idp):
    _use(rt, idp)
    with pytest.raises(SignInRefused, match="another browser"):
        _sign_in(rt, idp, VERIFIED, browser="a-cookie-of-another-browser")
    start = oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/")
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    code = idp.authorise(start.url, VERIFIED)
    oidc.complete_sign_in(rt, "idp", state=state, code=code, error=None, browser_secret=start.browser_secret)
    with pytest.raises(SignInRefused, match="used already"):  # the same answer again
        oidc.complete_sign_in(rt, "idp", state=state, code=code, error=None, browser_secret=start.browser_secret)
    start = oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/")
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    with pytest.raises(SignInRefused, match="did not sign you in"):  # the provider's error page
        oidc.complete_sign_in(
            rt, "idp", state=state, code=None, error="access_denied", browser_secret=start.browser_secret
        )
    start = oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/")
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    code = idp.authorise(start.url, VERIFIED)
    with pytest.raises(SignInRefused, match="another issuer"):  # RFC 9207: a mix-up between providers
        oidc.complete_sign_in(
            rt, "idp", state=state, code=code, error=None, browser_secret=start.browser_secret, iss="https://evil.test"
        )
    assert idp.token_requests[-1]["code"] != code  # the code never went to a token endpoint
    with pytest.raises(NotFound):
        oidc.begin_sign_in(rt, "nobody", redirect_uri=REDIRECT, next_path="/")


def test_invited_links_a_verified_email_once_and_refuses_the_rest(rt, idp):
    _use(rt, idp, accounts="invited")
    owner = make_user(rt, "owner@example.org")
    ws = workspaces.create_workspace(system(rt), "Client", owner=owner.id)
    invited = make_user(rt, "bob@example.org")
    workspaces.add_member(system(rt), ws.id, invited.id, "annotator")

    with pytest.raises(SignInRefused, match="no account"):
        _sign_in(rt, idp, {**VERIFIED, "sub": "s-stranger", "email": "stranger@example.org"})
    with pytest.raises(SignInRefused, match="not verified"):
        _sign_in(rt, idp, {**VERIFIED, "sub": "s-bob", "email": "bob@example.org", "email_verified": False})
    actions = [e["action"] for e in audit.list_entries(system(rt), ws.id, limit=50)["items"]]
    assert "auth.login_refused" in actions  # the account concerned sees it, like a failed password sign-in

    done = _sign_in(rt, idp, {**VERIFIED, "sub": "s-bob", "email": "bob@example.org"})
    assert done.user.id == invited.id
    # Another subject of the same issuer with the same (verified) e-mail cannot take the account over.
    with pytest.raises(SignInRefused, match="linked to another identity"):
        _sign_in(rt, idp, {**VERIFIED, "sub": "s-mallory", "email": "bob@example.org"})
    with operator_tx(rt, write=False) as tx:
        assert identities_store.list_identities_of(tx, invited.id) == [(ISSUER, "s-bob")]
        assert identities_store.find_user_id(tx, ISSUER, "s-stranger") is None


def test_sign_out_ends_the_session_and_answers_the_providers_end_session_url(rt, idp):
    _use(rt, idp)
    done = _sign_in(rt, idp, VERIFIED)
    actor, _csrf = users.resolve_session(rt, done.session_secret)
    url = oidc.sign_out(Context(rt, actor), done.session_secret, post_logout_redirect_uri="http://b.test/login")
    assert url is not None and url.startswith(f"{ISSUER}/logout?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == ["http://b.test/login"]
    hint = query["id_token_hint"][0].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(hint + "=" * (-len(hint) % 4)))["sub"] == "s-ada"
    with pytest.raises(Unauthenticated):
        users.resolve_session(rt, done.session_secret)


def test_unfinished_sign_ins_are_limited_per_address_and_a_finished_one_gives_its_start_back(rt, idp, monkeypatch):
    _use(rt, idp)
    monkeypatch.setitem(users.MAX_FAILURES, "sso", 3)
    here, there = "198.51.100.7", "198.51.100.8"
    starts = [oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/", address=here) for _ in range(3)]
    with pytest.raises(RateLimited, match="too many sign-ins started from this address"):
        oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/", address=here)
    oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/", address=there)  # another address: its own
    # Finishing one of the started sign-ins gives its start back to the address.
    state = parse_qs(urlsplit(starts[0].url).query)["state"][0]
    code = idp.authorise(starts[0].url, VERIFIED)
    oidc.complete_sign_in(
        rt, "idp", state=state, code=code, error=None, browser_secret=starts[0].browser_secret, address=here
    )
    oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/", address=here)
    with pytest.raises(RateLimited):
        oidc.begin_sign_in(rt, "idp", redirect_uri=REDIRECT, next_path="/", address=here)
