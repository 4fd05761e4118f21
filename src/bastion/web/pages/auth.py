"""Sign in and out (session cookie, CSRF-protected forms)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse

from .common import render
from ..auth import SESSION_COOKIE, csrf_matches, page_session, require_form_csrf
from ..i18n import N_, translate
from ...domain.errors import RateLimited, Unauthenticated
from ...services import users

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "bastion_login_csrf"
# The sign-in page's refusals, in the page's language (web/i18n.py). A rate limit's message, which names its
# minutes, is shown as the service words it.
FORM_EXPIRED = N_("This form expired; please try again.")
WRONG_CREDENTIALS = N_("wrong e-mail or password")  # services.users.authenticate's one refusal, in its words


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return "/"
    return value


def _secure(request: Request) -> bool:
    configured = request.app.state.rt.settings.cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", csrf_token=token, next=_safe_next(next), error=None)
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
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return render(
            request,
            "login.html",
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
        return render(
            request, "login.html", status_code=status, csrf_token=csrf_token, next=_safe_next(next), error=error
        )
    secret, _csrf = users.create_session(rt, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=rt.settings.session_seconds,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("", max_length=200)):
    """Sign out — everywhere: every session of this person ends."""
    ctx, csrf = page_session(request)
    require_form_csrf(csrf, csrf_token)
    users.end_all_sessions(ctx, ctx.actor.user_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
