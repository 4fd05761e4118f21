"""Retries against a tiny local server that answers what each test scripts: idempotent calls
(GETs, imports with their Idempotency-Key) are sent again after 429/503 or no answer; other
POSTs never are, and neither is an import whose one-shot source was already read."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from async_support import run_async
from bastion.client import AsyncClient, Client, Retry, TransportError, Unavailable

FAST = Retry(max_retries=3, backoff_seconds=0.001, max_backoff_seconds=0.002)
PROJECT = {
    "id": "prj_1",
    "workspace_id": "ws_1",
    "name": "P",
    "task_type": "classification",
    "config": {},
    "settings": {},
    "counts": {"tasks": 0, "done": 0, "remaining": 0, "annotations": 0, "skips": 0},
    "created_at": 1,
    "updated_at": 1,
}
REPORT = {"imported": 2, "duplicates": 0, "rejected_count": 0, "rejected": [], "import_id": "imp_1"}
BUSY = {"error": {"code": "unavailable", "message": "try again later"}}


class Scripted(ThreadingHTTPServer):
    """Answers each request with the next (status, body, headers) of ``script``; the last one repeats."""

    daemon_threads = True

    def __init__(self, script):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = list(script)
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        server: Scripted = self.server  # type: ignore[assignment]
        server.seen.append((self.command, self.path, dict(self.headers), self._body()))
        status, body, headers = server.script.pop(0) if len(server.script) > 1 else server.script[0]
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(payload)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted():
    servers = []

    def start(*script):
        server = Scripted(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_get_is_sent_again_after_503_and_429(scripted):
    server = scripted((503, BUSY, {}), (429, BUSY, {"Retry-After": "0"}), (200, PROJECT, {}))
    with Client(server.url, "tok", retry=FAST) as client:
        assert client.get_project("prj_1").id == "prj_1"
    assert [(m, p) for m, p, _, _ in server.seen] == [("GET", "/api/v1/projects/prj_1")] * 3


def test_a_get_gives_up_after_max_retries_with_the_apis_error(scripted):
    server = scripted((503, BUSY, {}))
    with Client(server.url, "tok", retry=FAST) as client, pytest.raises(Unavailable) as caught:
        client.get_project("prj_1")
    assert (caught.value.status, caught.value.code, caught.value.message) == (503, "unavailable", "try again later")
    assert len(server.seen) == 1 + FAST.max_retries


def test_a_post_that_is_not_an_import_is_never_sent_again(scripted):
    server = scripted((503, BUSY, {}), (201, PROJECT, {}))
    with Client(server.url, "tok", retry=FAST) as client, pytest.raises(Unavailable):
        client.create_project("ws_1", "P", {"type": "classification"})
    assert len(server.seen) == 1


def test_an_import_is_sent_again_with_the_same_idempotency_key(scripted):
    server = scripted((503, BUSY, {}), (200, REPORT, {}))
    rows = [{"data": {"text": "a"}}, {"data": {"text": "b"}}]
    with Client(server.url, "tok", retry=FAST) as client:
        report = client.import_tasks("prj_1", rows)
    assert report.imported == 2
    keys = [h["Idempotency-Key"] for _, _, h, _ in server.seen]
    assert len(keys) == 2 and keys[0] == keys[1] == report.idempotency_key
    assert server.seen[0][3] == server.seen[1][3] == b'{"data":{"text":"a"}}\n{"data":{"text":"b"}}\n'
    assert server.seen[0][2]["Content-Type"] == "application/x-ndjson"


def test_an_import_keeps_a_key_it_is_given(scripted):
    server = scripted((200, REPORT, {}))
    with Client(server.url, "tok", retry=FAST) as client:
        report = client.import_tasks("prj_1", [{"data": {}}], idempotency_key="batch-7")
    assert report.idempotency_key == "batch-7" and server.seen[0][2]["Idempotency-Key"] == "batch-7"


def test_an_import_from_a_used_up_iterator_is_not_sent_again(scripted):
    server = scripted((503, BUSY, {}), (200, REPORT, {}))
    once = iter([{"data": {"text": "a"}}])
    with Client(server.url, "tok", retry=FAST) as client, pytest.raises(Unavailable):
        client.import_tasks("prj_1", once)
    assert len(server.seen) == 1


def test_no_answer_is_retried_then_raised_as_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with Client(f"http://127.0.0.1:{port}", "tok", retry=FAST) as client, pytest.raises(TransportError) as caught:
        client.list_workspaces()
    assert caught.value.status is None and caught.value.__cause__ is not None


def test_the_async_client_retries_the_same_calls(scripted):
    server = scripted((503, BUSY, {}), (200, PROJECT, {}), (503, BUSY, {}), (200, REPORT, {}), (503, BUSY, {}))

    async def run():
        async with AsyncClient(server.url, "tok", retry=FAST) as client:
            project = await client.get_project("prj_1")
            report = await client.import_tasks("prj_1", [{"data": {"text": "a"}}])
            with pytest.raises(Unavailable):
                await client.create_project("ws_1", "P", {"type": "classification"})
            return project, report

    project, report = run_async(run)
    assert project.id == "prj_1" and report.imported == 2
    assert [m for m, _, _, _ in server.seen] == ["GET", "GET", "POST", "POST", "POST"]
    assert server.seen[2][2]["Idempotency-Key"] == server.seen[3][2]["Idempotency-Key"]
