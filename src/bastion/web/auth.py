"""Request → Context: who is asking (bearer token or session cookie), checked once.

API calls authenticate with ``Authorization: Bearer <token>``, or with the browser
session cookie — then every state-changing request must carry the session's CSRF
token in ``X-CSRF-Token`` (pages send it as a form field instead).

A safe-method request (GET, HEAD) of a browser session gets a context that may not
bind the person to a workspace (``Context.may_bind``): a cross-site top-level link
carries the SameSite=Lax cookie, and must not choose a client for anyone. Bearer
tokens cannot be sent by another site, so token requests bind on first access.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from .errors import error_response
from ..domain.errors import PermissionDenied, Unauthenticated
from ..services import users
from ..services.context import Context

SESSION_COOKIE = "bastion_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The scheme the OpenAPI document declares on every operation that depends on api_context.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="An API token: `bastion token create`, or `POST /api/v1/tokens`.",
)


class LoginRequired(Exception):
    """A page needs a signed-in person; the handler redirects to the login form."""


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return value.strip()


def csrf_matches(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def api_context(
    request: Request, declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None
) -> Context:
    """FastAPI dependency for /api/v1 routes.

    ``declared`` puts the bearer scheme in the OpenAPI document (web/openapi.py); the header
    itself is read by ``_bearer``, which refuses a malformed one where HTTPBearer would ignore it.

    A dependency declared with ``def`` costs every request a hop to a worker thread and back
    (FastAPI runs it in the thread pool). A cached credential needs no database, so it is taken
    here on the event loop; only a credential to resolve goes to a thread.
    """
    rt = request.app.state.rt
    token = _bearer(request)
    may_bind = request.method not in SAFE_METHODS
    if token is not None:
        ctx = users.cached_token_context(rt, token)
        if ctx is None:
            ctx = await run_in_threadpool(users.token_context, rt, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthenticated("sign in, or send 'Authorization: Bearer <token>'")
        found = users.cached_session_context(rt, cookie, may_bind=may_bind)
        if found is None:
            found = await run_in_threadpool(users.session_context, rt, cookie, may_bind=may_bind)
        ctx, csrf = found
        if request.method not in SAFE_METHODS and not csrf_matches(csrf, request.headers.get(CSRF_HEADER)):
            raise PermissionDenied("missing or wrong CSRF token (send the X-CSRF-Token header)")
    return _held(request, ctx)


def _held(request: Request, ctx: Context) -> Context:
    """Note the request's context: ``ConfirmCredentials`` checks, before the response starts, a cached
    credential no transaction of the request has checked."""
    request.state.actor = ctx.actor
    request.state.auth_context = ctx
    return ctx


def page_session(request: Request) -> tuple[Context, str]:
    """FastAPI dependency for pages: (context, CSRF token) or a redirect to /login."""
    rt = request.app.state.rt
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired()
    try:
        ctx, csrf = users.session_context(rt, cookie, may_bind=request.method not in SAFE_METHODS)
    except Unauthenticated:
        raise LoginRequired() from None
    request.state.csrf = csrf  # for pages rendered by the error handlers (a first access offers a form)
    request.state.page_session = True  # a session found ended later sends to the sign-in page too
    return _held(request, ctx), csrf


def require_form_csrf(csrf: str, given: str | None) -> None:
    if not csrf_matches(csrf, given):
        raise PermissionDenied("this form has expired or did not come from Bastion; reload the page")


class ConfirmCredentials:
    """Pure-ASGI middleware: no response starts while the request's credential is unchecked.

    A cached credential (``services/auth_cache.py``) is checked by the request's first
    transaction. A request that opened none — its answer built from the actor alone — is
    checked here, in a transaction of its own, before its response starts; if the credential
    is no longer valid the response is replaced: 401 for the API, the sign-in page for pages.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        replaced = False

        async def checked_send(message):
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                ctx = scope.get("state", {}).get("auth_context")
                if ctx is not None and ctx.pending is not None:
                    try:
                        await run_in_threadpool(ctx.confirm)
                    except Unauthenticated as refused:
                        replaced = True
                        await _refusal(scope, refused)(scope, receive, send)
                        return
            await send(message)

        await self.app(scope, receive, checked_send)


def _refusal(scope, refused: Unauthenticated):
    if scope["path"].startswith("/api/"):
        return error_response(401, "unauthenticated", str(refused))
    return RedirectResponse(f"/login?next={scope['path']}", status_code=303)
