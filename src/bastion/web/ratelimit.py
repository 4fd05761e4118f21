"""Rate limits on the API, per API token and per client address (pure-ASGI middleware).

``BASTION_RATE_LIMIT_TOKEN`` and ``BASTION_RATE_LIMIT_ADDRESS`` take the ``limits``
library's notation (``600/minute``, ``20/second;600/minute``); empty turns one off.
Counts are kept in fixed windows in ``BASTION_RATE_LIMIT_STORAGE``: ``memory://`` (each
process its own), or ``redis://…`` so that every server process shares them.

Only ``/api/`` is limited: health, readiness and metrics are not, nor are pages (the
sign-in form has its own limits per account and address, services/users.py). A token
is counted by its SHA-256 (the store never holds a usable token) whether or not it is
valid, so guessing tokens is limited too. The address is the one
``web/observability.py`` settled on (X-Forwarded-For only from trusted proxies).

Over a limit the answer is 429, ``{"error": {"code": "rate_limited", …}}`` and
``Retry-After`` in seconds. When the shared store does not answer, requests pass and a
warning is logged (at most once a minute): the limits protect the service, they must
not be the reason it is down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

import orjson
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from ..domain.errors import InvalidConfig

log = logging.getLogger("bastion.ratelimit")

API_PREFIX = "/api/"


def parse_limits(setting: str, value: str) -> list[RateLimitItem]:
    """``"600/minute"`` → limits; a value the library cannot read is refused with the setting's name."""
    if not value.strip():
        return []
    try:
        return list(parse_many(value))
    except ValueError as exc:
        raise InvalidConfig(
            f"BASTION_{setting.upper()}: {value!r} is not a rate (write e.g. '600/minute' or '20/second;600/minute')"
        ) from exc


def open_storage(uri: str) -> Storage:
    """The counts' store ``BASTION_RATE_LIMIT_STORAGE`` names (refused with the setting's name)."""
    try:
        storage = storage_from_string(uri)
    except Exception as exc:  # an unknown scheme, or the redis package missing
        raise InvalidConfig(f"BASTION_RATE_LIMIT_STORAGE: cannot use {uri!r}: {exc}") from exc
    if not isinstance(storage, Storage):
        raise InvalidConfig(f"BASTION_RATE_LIMIT_STORAGE: {uri!r} is an async+ store; name it without 'async+'")
    return storage


class RateLimitMiddleware:
    def __init__(self, app, *, per_token: str, per_address: str, storage: Storage) -> None:
        self.app = app
        self.per_token = parse_limits("rate_limit_token", per_token)
        self.per_address = parse_limits("rate_limit_address", per_address)
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(self.storage)
        # Memory counts are a dictionary lookup: done in the event loop. A network store is asked
        # from a worker thread, so that a slow answer holds up this request only.
        self.local = isinstance(self.storage, MemoryStorage)
        self._warned_at = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            return await self.app(scope, receive, send)
        subjects: list[tuple[list[RateLimitItem], str, str]] = []
        if self.per_token:
            for name, value in scope["headers"]:
                if name == b"authorization":
                    digest = hashlib.sha256(value.partition(b" ")[2].strip()).hexdigest()[:32]
                    subjects.append((self.per_token, "token", digest))
                    break
        if self.per_address and scope.get("client"):
            subjects.append((self.per_address, "address", scope["client"][0]))
        if subjects:
            refusal = self._check(subjects) if self.local else await run_in_threadpool(self._check, subjects)
            if refusal is not None:
                return await _refuse(send, *refusal)
        await self.app(scope, receive, send)

    def _check(self, subjects: list[tuple[list[RateLimitItem], str, str]]) -> tuple[str, RateLimitItem, int] | None:
        try:
            for items, kind, key in subjects:
                for item in items:
                    if not self.limiter.hit(item, "bastion", kind, key):
                        reset_at = self.limiter.get_window_stats(item, "bastion", kind, key).reset_time
                        return kind, item, max(1, math.ceil(reset_at - time.time()))
        except Exception as exc:
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limits not applied: their store did not answer (%s)", type(exc).__name__)
        return None


async def _refuse(send, kind: str, item: RateLimitItem, retry_after: int) -> None:
    who = "API token" if kind == "token" else "client address"
    body = orjson.dumps(
        {
            "error": {
                "code": "rate_limited",
                "message": f"too many requests for this {who} (at most {item}); try again in {retry_after} s",
            }
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
