"""Sign in and out (session cookie, CSRF-protected forms), with a password or a single sign-on provider.

Single sign-on (services/oidc.py): a POST to ``/login/oidc/<provider>`` records the sign-in and sends the
browser to the provider with a short-lived cookie (HttpOnly, SameSite=Lax, only for /login/oidc)
that binds the answer to this browser; ``/login/oidc/<provider>/callback`` finishes it. A refusal
shows the sign-in page with the reason, never a 500.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse

from .common import render
from ..auth import SESSION_COOKIE, csrf_matches, page_session, require_form_csrf
from ..i18n import N_, translate
from ...domain.errors import NotFound, RateLimited, SignInRefused, Unauthenticated, Unavailable
from ...services import oidc, users

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "bastion_login_csrf"
OIDC_COOKIE = "bastion_oidc"
OIDC_COOKIE_PATH = "/login/oidc"
# The sign-in page's refusals, in the page's language (web/i18n.py). A rate limit's message, which names its
# minutes, is shown as the service words it.
FORM_EXPIRED = N_("This form expired; please try again.")
WRONG_CREDENTIALS = N_("wrong e-mail or password")  # services.users.authenticate's one refusal, in its words
PASSWORDS_OFF = N_("Signing in with a password is switched off here; use a sign-in button.")
SSO_FAILED = N_("Single sign-on did not succeed:")


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return "/"
    return value


def _secure(request: Request) -> bool:
    configured = request.app.state.rt.settings.cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


def _login_page(request: Request, *, status_code: int = 200, csrf_token: str, next: str, error: str | None):
    rt = request.app.state.rt
    return render(
        request,
        "login.html",
        status_code=status_code,
        csrf_token=csrf_token,
        next=next,
        error=error,
        providers=oidc.provider_buttons(rt),
        password_sign_in=rt.settings.password_sign_in,
    )


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    token = secrets.token_urlsafe(24)
    response = _login_page(request, csrf_token=token, next=_safe_next(next), error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.post("/login")
def login(
    request: Request,
    email: str = Form("", max_length=320),
    password: str = Form("", max_length=1024),
    csrf_token: str = Form("", max_length=200),
    next: str = Form("/", max_length=2000),
):
    rt = request.app.state.rt
    if not rt.settings.password_sign_in:
        return _login_page(
            request,
            status_code=403,
            csrf_token=csrf_token,
            next=_safe_next(next),
            error=translate(request, PASSWORDS_OFF),
        )
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_page(
            request,
            status_code=403,
            csrf_token=csrf_token,
            next=_safe_next(next),
            error=translate(request, FORM_EXPIRED),
        )
    address = request.client.host if request.client else None
    try:
        user = users.sign_in(rt, email, password, address)
    except (Unauthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        error = str(exc) if isinstance(exc, RateLimited) else translate(request, WRONG_CREDENTIALS)
        return _login_page(request, status_code=status, csrf_token=csrf_token, next=_safe_next(next), error=error)
    secret, _csrf = users.create_session(rt, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_session_cookie(request, response, secret)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _set_session_cookie(request: Request, response: RedirectResponse, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=request.app.state.rt.settings.session_seconds,
    )


def _base_url(request: Request) -> str:
    configured = request.app.state.rt.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _sso_refused(request: Request, status_code: int, message: str):
    token = secrets.token_urlsafe(24)
    response = _login_page(
        request,
        status_code=status_code,
        csrf_token=token,
        next="/",
        error=f"{translate(request, SSO_FAILED)} {message}",
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(OIDC_COOKIE, path=OIDC_COOKIE_PATH)
    return response


@router.post("/login/oidc/{provider}")
def sso_start(
    request: Request,
    provider: str,
    csrf_token: str = Form("", max_length=200),
    next: str = Form("/", max_length=2000),
):
    """Send the browser to the provider; the cookie binds its answer to this browser.

    A form (POST, the sign-in page's CSRF token) rather than a link: no GET changes anything."""
    rt = request.app.state.rt
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _sso_refused(request, 403, translate(request, FORM_EXPIRED))
    try:
        start = oidc.begin_sign_in(
            rt,
            provider,
            redirect_uri=f"{_base_url(request)}/login/oidc/{provider}/callback",
            next_path=_safe_next(next),
            address=request.client.host if request.client else None,
        )
    except NotFound as exc:
        return _sso_refused(request, 404, exc.message)
    except RateLimited as exc:
        return _sso_refused(request, 429, exc.message)
    except Unavailable as exc:
        return _sso_refused(request, 503, exc.message)
    response = RedirectResponse(start.url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        start.browser_secret,
        max_age=oidc.SIGN_IN_SECONDS,
        path=OIDC_COOKIE_PATH,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level cross-site navigation
        secure=_secure(request),
    )
    return response


@router.get("/login/oidc/{provider}/callback")
def sso_callback(
    request: Request,
    provider: str,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,
):
    """The provider's answer: a session and the page asked for, or the sign-in page with the reason."""
    rt = request.app.state.rt
    try:
        signed_in = oidc.complete_sign_in(
            rt,
            provider,
            state=state,
            code=code,
            error=error,
            browser_secret=request.cookies.get(OIDC_COOKIE, ""),
            address=request.client.host if request.client else None,
            iss=iss,
        )
    except NotFound as exc:
        return _sso_refused(request, 404, exc.message)
    except SignInRefused as exc:
        return _sso_refused(request, 403, exc.message)
    except Unavailable as exc:
        return _sso_refused(request, 503, exc.message)
    response = RedirectResponse(_safe_next(signed_in.next_path), status_code=303)
    _set_session_cookie(request, response, signed_in.session_secret)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_COOKIE_PATH)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("", max_length=200)):
    """Sign out — everywhere: every session of this person ends; then the provider's sign-out, if it has one."""
    ctx, csrf = page_session(request)
    require_form_csrf(csrf, csrf_token)
    provider_sign_out = oidc.sign_out(
        ctx, request.cookies.get(SESSION_COOKIE, ""), post_logout_redirect_uri=f"{_base_url(request)}/login"
    )
    response = RedirectResponse(provider_sign_out or "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
