"""A small OpenAI-compatible chat-completions server for the tests, on 127.0.0.1 (and ::1) only.

``POST /v1/chat/completions`` answers deterministically: the reply is
``"echo <first 12 hex of sha256(messages)> from <model>"``; ``usage`` counts the words of
the messages (prompt) and of the reply (completion). ``stream: true`` sends the reply
word by word as Server-Sent Events, a usage chunk, then ``data: [DONE]``.

The model ``labeller`` answers like a labeller instead (``label_reply``: pre-label tests). The
model name asks for misbehaviour: ``slow`` (waits 3 s before answering), ``slow-stream``
(one piece, then waits), ``error-500``, ``error-401``, ``malformed-json``, ``malformed-sse``,
``no-done`` (a stream without ``[DONE]``), ``redirect`` (302 to another host), ``huge`` (a
body of 2 MB). Every request is kept in ``ModelServer.requests`` (headers and body), so a
test can see what reached the server — and that nothing did.

uvicorn serves the app from a thread of the test process, on sockets bound to port 0.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route


def label_reply(messages: list[dict]) -> str:
    """The ``labeller`` model: one of the labels the system message lists (``- label`` lines), chosen by a
    hash of the last message; ``unreadable`` when that message says UNPARSABLE; for a system message
    that lists none (a writing prompt), a short answer naming the digest."""
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    last = str(messages[-1].get("content", "")) if messages else ""
    if "UNPARSABLE" in last:
        return "I cannot tell."
    labels = [line[2:].split(":", 1)[0].strip() for line in system.split("\n") if line.startswith("- ")]
    digest = hashlib.sha256(last.encode()).digest()
    if not labels:
        return f"An answer to {hashlib.sha256(last.encode()).hexdigest()[:8]}."
    return labels[digest[0] % len(labels)]


def reply_for(model: str, messages: list[dict]) -> str:
    if model == "labeller":
        return label_reply(messages)
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"echo {digest[:12]} from {model}"


def _words(messages: list[dict]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for ``name``: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


class ModelServer:
    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.requests: list[dict] = []
        self.certificate: Path | None = None
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])
        self.v4 = self._bind(socket.AF_INET, "127.0.0.1")
        self.v6 = self._bind(socket.AF_INET6, "::1")
        files = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
        config = uvicorn.Config(self.app, log_level="error", lifespan="off", **files)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [s for s in (self.v4, self.v6) if s]}, daemon=True
        )

    @staticmethod
    def _bind(family: int, host: str) -> socket.socket | None:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
        except OSError:
            return None  # no IPv6 loopback here: the [::1] tests skip
        return sock

    @property
    def port(self) -> int:
        return self.v4.getsockname()[1]

    @property
    def port6(self) -> int | None:
        return self.v6.getsockname()[1] if self.v6 else None

    def url(self, host: str = "127.0.0.1", port: int | None = None) -> str:
        return f"http://{host}:{port or self.port}/v1"

    def start(self) -> ModelServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the model server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        model = body.get("model", "")
        messages = body.get("messages", [])
        text = reply_for(model, messages)
        usage = {"prompt_tokens": _words(messages), "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if model == "slow":
            await asyncio.sleep(3)
        if model.startswith("error-"):
            status = int(model.split("-")[1])
            return JSONResponse({"error": {"message": f"failure {status} on demand", "type": "test"}}, status)
        if model == "malformed-json":
            return Response(b'{"choices": [', media_type="application/json")
        if model == "redirect":
            return RedirectResponse("http://elsewhere.example:8080/v1/chat/completions", 302)
        if model == "huge":
            return Response(b'{"pad": "' + b"x" * 2_000_000 + b'"}', media_type="application/json")
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": usage,
                }
            )
        return StreamingResponse(self._events(model, text, usage), media_type="text/event-stream")

    async def _events(self, model: str, text: str, usage: dict):
        def chunk(delta: dict, finish: str | None = None) -> bytes:
            data = {"model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(data)}\n\n".encode()

        yield b": a comment line\n\n"
        yield chunk({"role": "assistant"})
        words = text.split(" ")
        for i, word in enumerate(words):
            yield chunk({"content": word if i == 0 else " " + word})
            if model == "slow-stream":
                await asyncio.sleep(3)
            if model == "malformed-sse" and i == 1:
                yield b"data: {not json\n\n"
        yield chunk({}, "stop")
        yield f"data: {json.dumps({'model': model, 'choices': [], 'usage': usage})}\n\n".encode()
        if model != "no-done":
            yield b"data: [DONE]\n\n"


@pytest.fixture(scope="session")
def model_server():
    server = ModelServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_model_server(tmp_path_factory):
    """The same server over https, with a certificate for ``models.lab.test`` (its file: ``.certificate``)."""
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"), "models.lab.test")
    server = ModelServer(tls=(cert, key)).start()
    server.certificate = cert
    yield server
    server.stop()


@pytest.fixture
def served(model_server):
    """The session's model server, its request log emptied for this test."""
    model_server.requests.clear()
    return model_server
