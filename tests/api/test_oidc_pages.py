"""The sign-in page with single sign-on: the buttons, the cookie that binds a sign-in to its browser,
refusals shown as pages (never a 500), and passwords switched off."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bastion.services import users
from bastion.services.oidc_providers import OidcClients
from factories import make_token, make_user
from oidc_support import FakeIdP, providers_json

PASSWORD = "a-password-long-enough"
GERMAN = {"Accept-Language": "de"}


@pytest.fixture
def db_kind():
    return "sqlite"  # the pages, not the stores: tests/services/test_oidc.py runs on both databases


@pytest.fixture
def idp(rt):
    fake = FakeIdP()
    rt.oidc = OidcClients.from_settings(providers_json(label="Example IdP"), {})
    rt.oidc.transport = fake.transport
    return fake


def _form_token(client) -> str:
    """The sign-in page's form token (its cookie is set by the same answer)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)


def test_the_login_page_offers_each_provider_in_the_persons_language(client, idp):
    page = client.get("/login?next=/projects")
    assert "Sign in with Example IdP" in page.text and 'action="/login/oidc/idp"' in page.text
    assert 'name="password"' in page.text  # passwords stay on unless switched off
    # The button's POST redirects to the provider, and browsers check a form's redirects against form-action.
    assert "form-action 'self' https://idp.example.test;" in page.headers["content-security-policy"]
    assert "Anmelden mit Example IdP" in client.get("/login", headers=GERMAN).text


def test_a_sign_in_round_trip_through_the_pages(client, rt, idp):
    assert client.post("/login/oidc/idp", data={"csrf_token": "forged"}).status_code == 403  # a form from elsewhere
    start = client.post(
        "/login/oidc/idp", data={"csrf_token": _form_token(client), "next": "/projects"}, follow_redirects=False
    )
    assert start.status_code == 303 and start.headers["location"].startswith("https://idp.example.test/auth?")
    cookie = start.headers["set-cookie"]
    assert "bastion_oidc=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/login/oidc" in cookie and "Max-Age=600" in cookie
    params = parse_qs(urlsplit(start.headers["location"]).query)
    assert params["redirect_uri"] == ["http://testserver/login/oidc/idp/callback"]
    code = idp.authorise(start.headers["location"], {"sub": "s1", "email": "sso@example.org", "email_verified": True})

    done = client.get(f"/login/oidc/idp/callback?state={params['state'][0]}&code={code}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/projects"
    session = client.cookies.get("bastion_session")
    actor, _csrf = users.resolve_session(rt, session)
    assert actor.email == "sso@example.org"

    # The same answer again (a replay) signs nobody in: a page that says why.
    replay = client.get(f"/login/oidc/idp/callback?state={params['state'][0]}&code={code}", follow_redirects=False)
    assert (
        replay.status_code == 403 and "used already" in replay.text and "Single sign-on did not succeed" in replay.text
    )


@pytest.mark.parametrize(
    "query",
    ["", "?state=forged&code=c", "?state=x&error=access_denied", "?state=" + "x" * 500],
)
def test_a_callback_that_is_not_an_answer_to_this_browser_is_a_page_not_a_500(client, idp, query):
    answer = client.get(f"/login/oidc/idp/callback{query}", follow_redirects=False)
    assert answer.status_code == 403 and "Single sign-on did not succeed" in answer.text
    assert "bastion_session" not in answer.headers.get("set-cookie", "")


def test_an_unknown_provider_and_an_unreachable_one_are_pages_too(client, rt, idp):
    csrf = _form_token(client)
    assert client.post("/login/oidc/nobody", data={"csrf_token": csrf}, follow_redirects=False).status_code == 404

    def unreachable(request):
        raise httpx.ConnectError("connection refused", request=request)

    rt.oidc.transport = httpx.MockTransport(unreachable)
    answer = client.post("/login/oidc/idp", data={"csrf_token": _form_token(client)}, follow_redirects=False)
    assert answer.status_code == 503 and "discovery document could not be fetched" in answer.text


def test_too_many_unfinished_sign_ins_from_one_address_are_a_page_that_says_so(client, idp, monkeypatch):
    monkeypatch.setitem(users.MAX_FAILURES, "sso", 2)
    for _ in range(2):
        answer = client.post("/login/oidc/idp", data={"csrf_token": _form_token(client)}, follow_redirects=False)
        assert answer.status_code == 303
    answer = client.post("/login/oidc/idp", data={"csrf_token": _form_token(client)}, follow_redirects=False)
    assert answer.status_code == 429 and "too many sign-ins started from this address" in answer.text


def test_without_providers_forms_go_nowhere_but_here(client):
    assert "form-action 'self';" in client.get("/login").headers["content-security-policy"]


def test_passwords_switched_off_leave_only_the_buttons_and_refuse_a_password(client, rt, idp):
    person = make_user(rt, "pw@example.org", password=PASSWORD)
    token = make_token(rt, person.id)
    rt.settings.password_sign_in = False
    page = client.get("/login")
    assert "Sign in with Example IdP" in page.text and 'name="password"' not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    refused = client.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": csrf.group(1) if csrf else "", "next": "/"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "switched off" in refused.text
    assert "bastion_session" not in client.cookies
    german = client.post("/login", data={"email": person.email, "password": PASSWORD}, headers=GERMAN)
    assert "Die Anmeldung mit Passwort ist hier abgeschaltet" in german.text
    # API tokens keep working.
    assert client.get("/api/v1/workspaces", headers={"Authorization": f"Bearer {token}"}).status_code == 200
