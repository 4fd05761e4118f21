"""The whole single sign-on flow against a real certified provider (oidc-provider, node), with httpx
following the redirects: a public client (PKCE alone, no secret), accounts by invitation only.

The invited person signs in and lands on the home page; a person without an account reaches the
refusal page (403, the reason, no session) and nothing is created for them.
"""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import pytest

from bastion.services import users, workspaces
from bastion.services.oidc_providers import OidcClients
from factories import make_user, system
from oidc_support import CLIENT_ID, free_port, running_provider, serving


@pytest.fixture
def db_kind():
    return "sqlite"  # the protocol, not the stores: tests/services/test_oidc.py runs on both databases


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and hidden fields."""
    action = unescape(re.search(r'<form[^>]*action="([^"]+)"', html).group(1))
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return action, {k: unescape(v) for k, v in fields.items()}


def _provider_login(http: httpx.Client, page: httpx.Response, login: str) -> httpx.Response:
    """The provider's development login page, then its consent page; answers where the browser lands."""
    action, fields = _form(page.text)
    page = http.post(httpx.URL(str(page.url)).join(action), data={**fields, "login": login, "password": "x"})
    assert "Continue" in page.text, page.text[:500]  # the consent page
    action, fields = _form(page.text)
    return http.post(httpx.URL(str(page.url)).join(action), data=fields)


def test_an_invited_person_signs_in_through_a_public_client_and_a_stranger_is_refused(rt, tmp_path):
    owner = make_user(rt, "owner@example.org")
    ws = workspaces.create_workspace(system(rt), "Invited only", owner=owner.id)
    invited = make_user(rt, "grace@example.org")
    workspaces.add_member(system(rt), ws.id, invited.id, "annotator")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    accounts = {
        "grace": {"email": "grace@example.org", "email_verified": True, "groups": []},
        "eve": {"email": "eve@example.org", "email_verified": True, "groups": []},
    }
    with running_provider(
        tmp_path,
        redirect_uri=f"{base}/login/oidc/corp/callback",
        post_logout_redirect_uri=f"{base}/login",
        accounts=accounts,
        client_secret=None,
    ) as issuer:
        entry = {"name": "corp", "label": "Corp", "issuer": issuer, "client_id": CLIENT_ID, "accounts": "invited"}
        rt.oidc = OidcClients.from_settings(json.dumps([entry]), {})
        with serving(rt, port), httpx.Client(follow_redirects=True, timeout=10) as http:
            login = http.get(f"{base}/login")
            action, fields = _form(login.text[login.text.index("sign-in-providers") :])
            page = http.post(f"{base}{action}", data=fields)
            assert str(page.url).startswith(issuer), page.text[:300]
            home = _provider_login(http, page, "grace")
            assert str(home.url) == f"{base}/" and "Invited only" in home.text
            actor, _csrf = users.resolve_session(rt, http.cookies.get("bastion_session", domain="127.0.0.1"))
            assert actor.user_id == invited.id

            http.cookies.clear()
            login = http.get(f"{base}/login")
            action, fields = _form(login.text[login.text.index("sign-in-providers") :])
            page = http.post(f"{base}{action}", data=fields)
            refused = _provider_login(http, page, "eve")
            assert refused.status_code == 403 and "there is no account for eve@example.org" in refused.text
            assert "bastion_session" not in http.cookies
            assert users.find_user_by_email(system(rt), "eve@example.org") is None
