"""What the observability middleware (web/observability.py) costs a request, in microseconds.

    PYTHONPATH=src python -m benchmarks.middleware [text|json]

Direct ASGI calls (no network, no database) of a POST that a route answers with 201, through
the body-limit middleware alone, then with the observability middleware in front of it (request
id, latency histogram) without and with its access-log line (written to /dev/null with the
server's formatter). Five rounds of 20,000 requests each, interleaved; prints the median and
every round, microseconds per request. The difference between the lines is the cost.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import statistics
import sys
import time

from bastion.logs import logging_config
from bastion.web.middleware import LimitsMiddleware
from bastion.web.observability import ObservabilityMiddleware

ROUNDS, REQUESTS = 5, 20_000


class _Route:  # what the router leaves in the scope
    path = "/tasks/{task_id}/annotations"


async def _endpoint(scope, receive, send):
    scope["route"] = _Route()
    await receive()
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive():
    return {"type": "http.request", "body": b"{}", "more_body": False}


async def _send(message):
    return None


def _scope() -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/tasks/tsk_1/annotations",
        "headers": [(b"authorization", b"Bearer x"), (b"content-length", b"2")],
        "client": ("127.0.0.1", 1),
        "state": {},
    }


async def _per_request_us(app) -> float:
    start = time.perf_counter()
    for _ in range(REQUESTS):
        await app(_scope(), _receive, _send)
    return (time.perf_counter() - start) / REQUESTS * 1e6


def main() -> None:
    log_format = sys.argv[1] if len(sys.argv) > 1 else "text"
    logging.config.dictConfig(logging_config(log_format, "info"))
    sink = open("/dev/null", "w")  # noqa: SIM115 - open for the whole run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)
    base = LimitsMiddleware(_endpoint, max_body_bytes=1 << 20)
    variants = {
        "body limit only": base,
        "+ observability, no access log": ObservabilityMiddleware(base, log_requests=False),
        f"+ observability and access log ({log_format})": ObservabilityMiddleware(base, log_requests=True),
    }
    rounds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, app in variants.items():
            rounds[name].append(asyncio.run(_per_request_us(app)))
    for name, values in rounds.items():
        print(f"{name}: median {statistics.median(values):.1f} µs/request ({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
