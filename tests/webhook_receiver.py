"""A webhook receiver for the tests, on 127.0.0.1 only, that checks every request's signature the way
the Standard Webhooks spec says — written from the spec, sharing no code with the server.

``Receiver.mode``: ``"ok"`` (204), ``"fail"`` (500), ``"redirect"`` (302 elsewhere); ``delay`` holds each
answer back. Every request is
kept in ``received`` with whether its signature verified; ``by_id`` groups them by ``webhook-id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float | None = 300) -> bool:
    """The spec's check: HMAC-SHA256 with the base64-decoded part of ``whsec_…`` over
    ``{webhook-id}.{webhook-timestamp}.{body}``; any ``v1,`` signature in the space-separated list may match."""
    msg_id, stamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    if not msg_id or not stamp or not stamp.isdigit() or not secret.startswith("whsec_"):
        return False
    if tolerance is not None and abs(time.time() - int(stamp)) > tolerance:  # the spec's replay window
        return False
    key = base64.b64decode(secret[len("whsec_") :])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    for candidate in headers.get("webhook-signature", "").split(" "):
        version, _, sig = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(sig.encode(), expected):
            return True
    return False


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    body: dict
    valid: bool


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    secret: str = ""
    mode: str = "ok"
    delay: float = 0.0  # seconds before answering
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def by_id(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for r in self.received:
            out.setdefault(r.webhook_id, []).append(r)
        return out


def start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):  # noqa: N802
            receiver = holder["r"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            valid = verify(receiver.secret, headers, body)
            with receiver.lock:
                receiver.received.append(
                    Received(
                        headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""), json.loads(body), valid
                    )
                )
            if receiver.delay:
                time.sleep(receiver.delay)
            if receiver.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://example.com/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(204 if receiver.mode == "ok" and valid else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["r"]
