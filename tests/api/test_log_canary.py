"""No task content in the server's log, ever: a canary string through every path that handles content.

A real uvicorn server (in a thread, on 127.0.0.1, logging as ``bastion serve`` configures
it: cli/serve.uvicorn_options) with every logger at DEBUG — Bastion's, uvicorn's, and the
libraries' — captured at the root. Tasks, annotations, bad import lines, an export and
failing requests (400, 404, 413, 422) all carry the canary, in bodies, paths and query
strings; no record, formatted as text or as JSON, holds it.
"""

from __future__ import annotations

import logging
import threading
import uuid

import httpx
import orjson
import pytest
import uvicorn

from bastion.cli.serve import uvicorn_options
from bastion.logs import JsonFormatter, RequestIdFilter, TextFormatter, content_free_exception
from bastion.services.runtime import Runtime
from bastion.web.app import create_app
from environment import make_settings
from factories import make_project, make_side, make_token
from live_server import free_port, running


class Capture(logging.Handler):
    """Every record, as the message, the text line and the JSON line the server would write."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []
        self.text, self.json = TextFormatter(), JsonFormatter()
        self.client_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.client_thread and record.name.startswith(("httpx", "httpcore")):
            return  # the test's own HTTP client, not the server
        self.records.append(record)
        self.lines += [record.getMessage(), self.text.format(record), self.json.format(record)]


@pytest.fixture
def served(tmp_path, sqlite_template):
    import shutil

    target = tmp_path / "data" / "bastion.db"
    target.parent.mkdir(parents=True)
    shutil.copy(sqlite_template, target)
    settings = make_settings(
        tmp_path, f"sqlite:///{target}", log_format="json", log_level="debug", max_body_bytes=20_000
    )
    rt = Runtime.open(settings, migrate_schema="never")
    port = free_port()
    config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, lifespan="off", **uvicorn_options(settings))
    server = uvicorn.Server(config)  # the config applied the server's logging (dictConfig) just now
    # uvicorn's own access log would write each raw path and query string: serve turns it off
    # (bastion.access logs the route template instead), leaving it nowhere to write.
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    capture = Capture()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    saved_root = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        with running(server) as url:
            yield rt, url, capture
    finally:
        root.removeHandler(capture)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        rt.close()


def test_no_log_record_holds_task_content(served):
    rt, base, capture = served
    # pytest hangs its own handlers on loggers that do not propagate, which would switch uvicorn's
    # access log back on (it logs when it has a handler): as served, it has none.
    logging.getLogger("uvicorn.access").handlers = []
    canary = f"CANARY{uuid.uuid4().hex}"
    side = make_side(rt, "cn", n_tasks=0)
    writing = make_project(rt, side.workspace_id, name="Writing", config={"type": "writing"})
    manager = {"Authorization": f"Bearer {side.tokens['manager']}"}
    annotator = {"Authorization": f"Bearer {side.tokens['annotator']}"}

    def lines(field: str, prediction: dict) -> bytes:
        return b"\n".join(
            [
                orjson.dumps({"data": {field: f"{canary} one"}, "meta": {"source": canary}}),
                orjson.dumps({"data": {field: f"{canary} two"}, "predictions": [{"result": prediction}]}),
                f'{{"data": {{"{field}": "{canary}" '.encode(),  # unreadable JSON
                orjson.dumps({"data": {field: canary}, canary: 1}),  # an unknown key
                orjson.dumps({"data": {canary: canary}}),  # not the project's field
                orjson.dumps({"data": {field: canary}, "predictions": [{"result": {canary: canary}}]}),
            ]
        )

    with httpx.Client(base_url=base, timeout=30) as http:
        for project, body in (
            (side.project_id, lines("text", {"label": "pos"})),
            (writing.id, lines("prompt", {"text": f"{canary} draft"})),
        ):
            r = http.post(
                f"/api/v1/projects/{project}/tasks",
                content=body,
                headers={**manager, "Content-Type": "application/x-ndjson"},
            )
            assert r.status_code in (200, 201), (r.status_code, r.text)
            assert r.json()["imported"] == 2 and r.json()["rejected_count"] == 4, r.text
        task = http.post(f"/api/v1/projects/{writing.id}/next", headers=annotator).json()
        r = http.post(f"/api/v1/tasks/{task['id']}/annotations", headers=annotator, json={"result": {canary: 1}})
        assert r.status_code == 422
        r = http.post(
            f"/api/v1/tasks/{task['id']}/annotations", headers=annotator, json={"result": {"text": f"{canary} answer"}}
        )
        assert r.status_code == 201, r.text
        labelled = http.post(f"/api/v1/projects/{side.project_id}/next", headers=annotator).json()
        r = http.post(
            f"/api/v1/tasks/{labelled['id']}/annotations", headers=annotator, json={"result": {"label": canary}}
        )
        assert r.status_code == 422
        for project in (side.project_id, writing.id):
            r = http.get(f"/api/v1/projects/{project}/export", params={"format": "jsonl"}, headers=manager)
            assert r.status_code == 200 and canary in r.text
        failing = [
            http.post(
                f"/api/v1/projects/{writing.id}/tasks",
                content=f"[{canary}",
                headers={**manager, "Content-Type": "application/json"},
            ),
            http.get(f"/api/v1/tasks/tsk_{canary}", headers=manager),
            http.get(f"/api/v1/{canary}", params={canary: canary}, headers=manager),
            http.get(f"/{canary}", params={"q": canary}, headers={"Accept": "text/html"}),
            http.post(
                f"/api/v1/projects/{writing.id}/tasks", json=[{"data": {"text": canary * 2000}}], headers=manager
            ),
            http.post("/api/v1/workspaces", json={"name": 5, canary: canary}, headers=manager),
            http.post(
                "/api/v1/workspaces",
                content=f'{{"name": "{canary}',
                headers={**manager, "Content-Type": "application/json"},
            ),
            http.get("/login", params={"next": canary}),
            http.get(f"/api/v1/projects/{side.project_id}/tasks", headers={"Authorization": f"Bearer {canary}"}),
            http.get("/metrics", headers={"X-Request-ID": canary + "/x", "X-Forwarded-For": canary}),
        ]
        assert {r.status_code for r in failing} >= {400, 401, 404, 413, 422}
        assert all(r.headers.get("x-request-id") for r in failing)

    leaked = [line for line in capture.lines if canary in line]
    assert not leaked, leaked[:3]
    # The capture saw the server at work (so the test cannot pass by hearing nothing).
    access = [r for r in capture.records if r.name == "bastion.access"]
    assert len(access) >= 15
    assert {"/api/v1/projects/{project_id}/tasks", "/api/v1/tasks/{task_id}/annotations"} <= {r.route for r in access}
    assert any(r.name.startswith("uvicorn") for r in capture.records)


def test_an_exception_is_logged_without_its_message():
    canary = f"CANARY{uuid.uuid4().hex}"
    try:
        try:
            {}[canary]
        except KeyError as exc:
            raise ValueError(f"bad {canary}") from exc
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    shown = content_free_exception(exc_info)
    assert canary not in shown
    assert "builtins.ValueError" in shown and "builtins.KeyError" in shown
    assert "test_log_canary.py" in shown  # the stack is there: where it happened
    record = logging.LogRecord("bastion.web", logging.ERROR, __file__, 1, "unexpected error", (), exc_info)
    assert canary not in JsonFormatter().format(record) and canary not in TextFormatter().format(record)
    assert orjson.loads(JsonFormatter().format(record))["exception"] == shown


def test_a_token_reaches_no_log_either(served):
    rt, base, capture = served
    side = make_side(rt, "tk", n_tasks=1)
    token = make_token(rt, side.users["manager"])
    with httpx.Client(base_url=base, timeout=30) as http:
        assert (
            http.get(f"/api/v1/projects/{side.project_id}", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
        assert http.get("/api/v1/workspaces", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert not [line for line in capture.lines if token in line]
    assert any(getattr(r, "user_id", None) == side.users["manager"] for r in capture.records)
