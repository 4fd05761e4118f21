"""Single sign-on in a browser, against a real certified OpenID provider (panva's oidc-provider, node).

A person signs in through the provider's own login and consent pages, lands on the home page in the
workspace their group maps to, with the mapped role, then signs out: Bastion's session ends (the
next page asks them to sign in) and the provider's end-session page brings them back to /login.
Everything runs on 127.0.0.1; the browser is refused any other address (the provider's development
pages would load web fonts).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import httpx

from bastion.services import scim, workspaces
from bastion.services.oidc_providers import OidcClients
from factories import make_user, system
from oidc_support import CLIENT_ID, free_port, require_oidc_provider, running_provider, serving

SECRET = "a-client-secret-for-the-test-provider"


@contextmanager
def _context(browser):
    context = browser.new_context()
    try:
        yield context
    finally:
        context.close()


@contextmanager
def _signed_in(browser, rt, tmp_path, owner_email: str):
    """A workspace whose reviewers' group is mapped, and Ada signed in through the provider's own pages."""
    owner = make_user(rt, owner_email)
    ws = workspaces.create_workspace(system(rt), "Acme labs", owner=owner.id)
    other = workspaces.create_workspace(system(rt), "Other client", owner=owner.id)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ada = {"email": "ada@example.org", "email_verified": True, "name": "Ada", "groups": ["acme-reviewers"]}
    with running_provider(
        tmp_path,
        redirect_uri=f"{base}/login/oidc/corp/callback",
        post_logout_redirect_uri=f"{base}/login",
        accounts={"ada": ada},
        client_secret=SECRET,
    ) as issuer:
        rt.settings.group_roles = json.dumps({"acme-reviewers": {ws.id: "reviewer"}})
        providers = [
            {
                "name": "corp",
                "label": "Corp SSO",
                "issuer": issuer,
                "client_id": CLIENT_ID,
                "client_secret_env": "CORP_OIDC_SECRET",
                "scopes": ["openid", "email", "profile", "groups"],
                "accounts": "jit",
            }
        ]
        rt.oidc = OidcClients.from_settings(json.dumps(providers), {"CORP_OIDC_SECRET": SECRET})
        with serving(rt, port), _context(browser) as context:
            context.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1:") else route.abort(),
            )
            page = context.new_page()
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            page.goto(f"{base}/")
            page.wait_for_url(f"{base}/login**")
            page.click("text=Sign in with Corp SSO")
            page.wait_for_selector("input[name=login]")  # the provider's login page
            assert page.url.startswith(issuer)
            page.fill("input[name=login]", "ada")
            page.fill("input[name=password]", "anything")
            page.click("button[type=submit]")
            page.wait_for_selector("button:has-text('Continue')")  # the provider's consent page
            page.click("button:has-text('Continue')")
            page.wait_for_url(f"{base}/")

            section = page.locator(f"section[data-workspace='{ws.id}']")
            assert "Acme labs" in section.inner_text()
            assert section.locator("small.role").inner_text() == "reviewer"
            assert page.locator(f"section[data-workspace='{other.id}']").count() == 0
            listed = page.request.get(f"{base}/api/v1/workspaces").json()  # the API agrees, in the same session
            assert [(w["id"], w["role"]) for w in listed] == [(ws.id, "reviewer")]
            yield page, base, issuer
            assert not errors, errors


def test_sign_in_with_a_provider_lands_in_the_mapped_workspace_and_sign_out_ends_the_session(browser, rt, tmp_path):
    require_oidc_provider()
    with _signed_in(browser, rt, tmp_path, "owner@example.org") as (page, base, issuer):
        page.click("form[action='/logout'] button")
        page.wait_for_selector("text=Yes, sign me out")  # the provider's end-session page
        assert page.url.startswith(f"{issuer}/session/end")
        page.click("text=Yes, sign me out")
        page.wait_for_url(f"{base}/login")

        page.goto(f"{base}/")  # Bastion's session is gone
        page.wait_for_url(f"{base}/login**")
        assert page.request.get(f"{base}/api/v1/workspaces").status == 401


def test_scim_deactivation_refuses_the_signed_in_persons_next_request(browser, rt, tmp_path):
    """The identity provider deactivates Ada over SCIM while her browser session is live: her next page and her
    next API call are refused, and signing in again through the provider is refused too."""
    require_oidc_provider()
    secret, _ = scim.create_token(system(rt), "idp")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"}
    with _signed_in(browser, rt, tmp_path, "owner@example.net") as (page, base, issuer):
        found = httpx.get(f"{base}/scim/v2/Users", params={"filter": 'userName eq "ada@example.org"'}, headers=headers)
        assert found.status_code == 200 and found.json()["totalResults"] == 1, found.text
        ada_id = found.json()["Resources"][0]["id"]
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        }
        r = httpx.patch(f"{base}/scim/v2/Users/{ada_id}", json=patch, headers=headers)
        assert r.status_code == 200 and r.json()["active"] is False, r.text

        assert page.request.get(f"{base}/api/v1/workspaces").status == 401  # the very next request
        page.goto(f"{base}/")
        page.wait_for_url(f"{base}/login**")

        page.click("text=Sign in with Corp SSO")  # the provider still knows her; Bastion does not let her in
        page.wait_for_load_state()
        if page.url.startswith(issuer):  # the provider asks again only if its own session ended
            page.wait_for_selector("input[name=login]")
            page.fill("input[name=login]", "ada")
            page.fill("input[name=password]", "anything")
            page.click("button[type=submit]")
        page.wait_for_url(f"{base}/login/oidc/corp/callback**")
        assert "this account is deactivated" in page.content()
        assert page.request.get(f"{base}/api/v1/workspaces").status == 401
