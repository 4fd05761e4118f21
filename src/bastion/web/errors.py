"""Domain errors → HTTP, once. Every error body is ``{"error": {"code", "message", "details"?}}``."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from ..access import FirstAccessRequired
from ..domain import errors as e
from ..domain.validation import error_path
from ..logs import REQUEST_ID

log = logging.getLogger("bastion.web")

STATUS = {
    e.NotFound: 404,
    e.PermissionDenied: 403,
    e.Unauthenticated: 401,
    e.Conflict: 409,
    e.RateLimited: 429,
    e.PayloadTooLarge: 413,
    e.Unavailable: 503,
    e.RemoteTimeout: 504,
    e.RemoteError: 502,
    e.InvalidConfig: 422,
    e.InvalidAnswer: 422,
    e.InvalidInput: 422,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    502: "remote_error",
    503: "unavailable",
    504: "remote_timeout",
}


def status_of(exc: e.BastionError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(status: int, code: str, message: str, details=None, headers=None) -> Response:
    body = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    @app.exception_handler(e.BastionError)
    async def _domain(request: Request, exc: e.BastionError):
        status = status_of(exc)
        if isinstance(exc, e.Unauthenticated) and getattr(request.state, "page_session", False):
            # A page's cached session found ended by the request's first transaction (web/auth.py).
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if isinstance(exc, FirstAccessRequired) and wants_html(request) and getattr(request.state, "csrf", None):
            from starlette.concurrency import run_in_threadpool

            from .pages.common import first_access_page

            return await run_in_threadpool(first_access_page, request, exc.workspace_id)
        if wants_html(request):
            from .pages.common import error_page

            return error_page(request, status, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        unreadable = next((err for err in errors if err.get("type") == "json_invalid"), None)
        if unreadable is not None:  # a body that does not parse is a bad request, not invalid input
            where = unreadable.get("loc", ())[1:]
            at = f" (at character {where[0]})" if where else ""
            reason = (unreadable.get("ctx") or {}).get("error", "invalid JSON")
            return error_response(400, HTTP_CODES[400], f"the body is not valid JSON: {reason}{at}")
        problems = []
        for err in errors[:10]:
            loc = tuple(err.get("loc", ()))
            if loc and loc[0] in ("body", "query", "path", "header"):
                where, loc = loc[0], loc[1:]
            else:
                where = "request"
            path = error_path(loc, "") if loc else where
            msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
            problems.append({"in": where, "field": path, "message": msg})
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
        return error_response(422, "invalid_input", message, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if wants_html(request) and exc.status_code in (404, 405):
            from .pages.common import error_page

            return error_page(request, exc.status_code, str(exc.detail))
        return error_response(
            exc.status_code, HTTP_CODES.get(exc.status_code, "error"), str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # The route's template, not the path: a path holds ids, and whatever a client typed into it.
        from .observability import route_template

        template = route_template(request.scope)
        log.exception("unexpected error on %s %s", request.method, template)
        request_id = REQUEST_ID.get()
        where = f" (request id {request_id})" if request_id else ""
        return error_response(500, "internal", f"internal error; the server log has the details{where}")
