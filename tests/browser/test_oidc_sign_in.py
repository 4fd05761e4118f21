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

from bastion.services import workspaces
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


def test_sign_in_with_a_provider_lands_in_the_mapped_workspace_and_sign_out_ends_the_session(browser, rt, tmp_path):
    require_oidc_provider()
    owner = make_user(rt, "owner@example.org")
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

            page.click("form[action='/logout'] button")
            page.wait_for_selector("text=Yes, sign me out")  # the provider's end-session page
            assert page.url.startswith(f"{issuer}/session/end")
            page.click("text=Yes, sign me out")
            page.wait_for_url(f"{base}/login")

            page.goto(f"{base}/")  # Bastion's session is gone
            page.wait_for_url(f"{base}/login**")
            assert page.request.get(f"{base}/api/v1/workspaces").status == 401
            assert not errors, errors
