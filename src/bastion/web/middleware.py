"""Pure-ASGI middleware: request body limit and security headers (cheap on every request)."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from ..domain.errors import PayloadTooLarge

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def csp_allowing_forms_to(origins: frozenset[str]) -> bytes:
    """The policy, with single sign-on providers' origins added to ``form-action``: a sign-in button and the
    sign-out form redirect there, and browsers check a form's redirects against ``form-action`` too."""
    if not origins:
        return CSP.encode()
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(sorted(origins))).encode()


class BodyTooLarge(PayloadTooLarge):
    """Raised from ``receive`` when a streamed body passes the limit (handled as 413)."""


class LimitsMiddleware:
    """413 for bodies over ``max_body_bytes`` (declared or streamed); security headers.

    ``form_origins``: the origins forms may also go to (single sign-on providers), asked per response."""

    def __init__(self, app, max_body_bytes: int, form_origins: Callable[[], frozenset[str]] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.form_origins = form_origins
        self._policies: dict[frozenset[str], bytes] = {}

    def _headers(self) -> list[tuple[bytes, bytes]]:
        if self.form_origins is None:
            return SECURITY_HEADERS
        origins = self.form_origins()
        if not origins:
            return SECURITY_HEADERS
        policy = self._policies.get(origins)
        if policy is None:
            policy = self._policies[origins] = csp_allowing_forms_to(origins)
        return [(b"content-security-policy", policy), *SECURITY_HEADERS[1:]]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    return await _reject(send, declared)
                break

        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"request body larger than {limit} bytes")
            return message

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in self._headers() if h[0] not in present)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if not started:
                await _reject(send, seen)


async def _reject(send, size: int) -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": "payload_too_large" if size >= 0 else "bad_request",
                "message": "request body too large" if size >= 0 else "bad Content-Length",
            }
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413 if size >= 0 else 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
