"""Pure-ASGI middleware around every request: its id, its client, its latency, its access-log line.

* **Request id** — a sane incoming ``X-Request-ID`` (1–128 of ``A-Z a-z 0-9 . _ : -``) is
  kept, anything else replaced by a fresh random one; it is set for the request's log
  records (``bastion/logs.REQUEST_ID``) and echoed in the response's ``X-Request-ID``.
* **Client address** — ``X-Forwarded-For`` is believed only from ``BASTION_TRUSTED_PROXIES``:
  the client is the right-most address of the chain that is not a trusted proxy, and
  it replaces ``scope["client"]`` so that everything downstream (sign-in limits, rate
  limits, /metrics' loopback rule) sees the real client. From anyone else the header
  is ignored.
* **Latency** — ``bastion_http_request_duration_seconds`` by route *template*
  (``/api/v1/tasks/{task_id}``), method and status class. Requests that reached no
  route (an unknown path, a body refused by its declared size, a rate-limited call)
  are labelled ``unrouted``: a path never becomes a label, so ids never do.
* **Access log** — one record a request on ``bastion.access`` (method, route template,
  status, duration, user id), never the path, the query string or a header.

Cost on the hot path: a few microseconds (docs/operations.md has the measurement).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Iterable

from prometheus_client import Histogram

from .api.common import API_PREFIX
from ..domain.errors import InvalidConfig
from ..logs import REQUEST_ID

REQUEST_SECONDS = Histogram(
    "bastion_http_request_duration_seconds",
    "Time from a request's arrival to its response's last byte, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
UNROUTED = "unrouted"

access_log = logging.getLogger("bastion.access")


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; a word that is neither an address nor a network is refused."""
    networks = []
    for word in (w.strip() for w in text.split(",")):
        if word:
            try:
                networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                raise InvalidConfig(
                    f"BASTION_TRUSTED_PROXIES: {word!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
    return tuple(networks)


def _is_in(address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def forwarded_client(peer: str, header: bytes, trusted) -> str:
    """The client behind trusted proxies: right to left, the first hop that is not one of them."""
    if not _is_in(peer, trusted):
        return peer
    hops = [h.strip() for h in header.decode("latin-1").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client  # garbage in the chain: stop at the last hop a trusted proxy vouched for
        client = hop
        if not _is_in(hop, trusted):
            return hop
    return client


def route_template(scope) -> str:
    """The template of the route that answered (``/api/v1/tasks/{task_id}``), or ``unrouted``.

    Routers included under the API's prefix keep their own paths on newer FastAPI versions
    (``/tasks/{task_id}``): the prefix is put back from the request's path.
    """
    template = getattr(scope.get("route"), "path", None)
    if not template:
        return UNROUTED
    if scope["path"].startswith(API_PREFIX) and not template.startswith(API_PREFIX):
        return API_PREFIX + template
    return template


class ObservabilityMiddleware:
    def __init__(self, app, *, trusted_proxies: str = "", log_requests: bool = True) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)
        self.log_requests = log_requests
        self._children: dict[tuple[str, str, str], object] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        request_id = forwarded = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if SANE_REQUEST_ID.fullmatch(value):
                    request_id = value
            elif name == b"x-forwarded-for":
                forwarded = value
        if request_id is None:
            request_id = secrets.token_hex(12).encode()
        if forwarded is not None and self.trusted and scope.get("client"):
            peer, port = scope["client"]
            client = forwarded_client(peer, forwarded, self.trusted)
            if client != peer:
                scope["client"] = (client, port)
        rid = request_id.decode()
        token = REQUEST_ID.set(rid)
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            template = route_template(scope)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            key = (template, method, f"{status // 100}xx")
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = REQUEST_SECONDS.labels(*key)
            child.observe(seconds)  # type: ignore[attr-defined]
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                actor = scope.get("state", {}).get("actor")
                # The record is made here, not through access_log.info(): that would walk the stack
                # for the caller's file and line on every request (they would always be these).
                record = access_log.makeRecord(
                    access_log.name,
                    logging.INFO,
                    __file__,
                    0,
                    "%s %s %d %.1f ms",
                    (method, template, status, seconds * 1000),
                    None,
                    extra={
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "user_id": getattr(actor, "user_id", None),
                    },
                )
                access_log.handle(record)
            REQUEST_ID.reset(token)
