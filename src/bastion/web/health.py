"""``/readyz`` and ``/metrics``: for load balancers and Prometheus, outside the API's contract.

* ``/healthz`` (app.py) is liveness: the process answers.
* ``/readyz`` is readiness: 200 when the database answers and the key provider unwraps a
  secret of the keyring (whatever the provider: file, passphrase, a plugin's KMS);
  503 with ``{"status": "unavailable", "checks": {"database": "ok", "key_provider":
  "down: …"}}`` otherwise, so a balancer stops sending work to a process that cannot do it.
* ``/metrics`` is the Prometheus text format (services/telemetry.py). Who may read it:
  with ``BASTION_METRICS_TOKEN`` set, a request carrying ``Authorization: Bearer <it>``;
  unset, a client on this machine (loopback) whose request came through no proxy (no
  ``X-Forwarded-For`` or ``Forwarded`` header: a proxy on this machine would otherwise
  make every outside request look local). Anyone else gets 403 (no token configured) or
  401 (a wrong one). The figures are ids and counts, never names or content, yet how
  busy each client's projects are is the operator's business alone.

None of the three is rate limited (web/ratelimit.py limits /api/ only) or in the
OpenAPI document (they are operations' endpoints, not the API).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

import orjson
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .errors import error_response
from ..services import telemetry
from ..services.runtime import Runtime

log = logging.getLogger("bastion.health")


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def may_read_metrics(request: Request, token: str | None) -> Response | None:
    """None when the request may read /metrics, else the refusal to send."""
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return None
        return error_response(
            401,
            "unauthenticated",
            "/metrics needs 'Authorization: Bearer <BASTION_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if not forwarded and is_loopback(request.client.host if request.client else None):
        return None
    return error_response(
        403,
        "forbidden",
        "/metrics answers only on this machine (not through a proxy) unless BASTION_METRICS_TOKEN is set",
    )


def install(app: FastAPI, rt: Runtime) -> None:
    database_registry = telemetry.metrics_registry(rt)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        checks = await run_in_threadpool(telemetry.readiness, rt)
        ready = all(value == "ok" for value in checks.values())
        if not ready:
            log.warning("not ready: %s", ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok"))
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return Response(orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        secret = rt.settings.metrics_token
        refusal = may_read_metrics(request, secret.get_secret_value() if secret else None)
        if refusal is not None:
            return refusal
        body, content_type = await run_in_threadpool(telemetry.render_metrics, database_registry)
        return Response(body, media_type=content_type)
