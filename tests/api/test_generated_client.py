"""A client generated from the served OpenAPI document works: project, import, label, export.

openapi-python-client (the test extra) generates a package from the document the
app serves, offline (from a file; its post hooks, which would run ruff from PATH,
are off in its config), and the test imports it from a temporary directory and
works through it, over the app in-process (a TestClient is an httpx.Client).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from factories import make_side

CONFIG = "project_name_override: bastion-api-client\npackage_name_override: bastion_api_client\npost_hooks: []\n"
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def _generate(document: dict, tmp_path: Path) -> Path:
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    (tmp_path / "config.yaml").write_text(CONFIG)
    out = tmp_path / "generated"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            str(out / "bastion_api_client"),
        ],
        cwd=tmp_path,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tasks_import" in {p.stem for p in (out / "bastion_api_client" / "api" / "tasks").iterdir()}
    return out


# The packages generated so far in this process, by the digest of their document: the document does not
# depend on the database, so the SQLite and PostgreSQL runs of the test share one generation (about 10 s).
_GENERATED: dict[str, Path] = {}


def _generated(document: dict, tmp_path_factory) -> Path:
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    if digest not in _GENERATED:
        _GENERATED[digest] = _generate(document, tmp_path_factory.mktemp("generated-client"))
    return _GENERATED[digest]


@pytest.fixture
def fresh_imports():
    """The generated package is imported anew by each test (from the folder made for its document)."""

    def forget():
        for name in [name for name in sys.modules if name.split(".")[0] == "bastion_api_client"]:
            del sys.modules[name]

    forget()
    yield
    forget()


def test_a_generated_client_imports_labels_and_exports(client, rt, tmp_path_factory, monkeypatch, fresh_imports):
    side = make_side(rt, "gen", n_tasks=0)
    out = _generated(client.get("/api/v1/openapi.json").json(), tmp_path_factory)
    monkeypatch.syspath_prepend(str(out))
    gen = importlib.import_module("bastion_api_client")
    assert Path(gen.__file__).is_relative_to(out)
    api = {
        name: importlib.import_module(f"bastion_api_client.api.{tag}.{name}")
        for tag, name in [
            ("projects", "projects_create"),
            ("projects", "projects_export"),
            ("tasks", "tasks_import"),
            ("tasks", "tasks_next"),
            ("annotations", "annotations_submit"),
        ]
    }
    models = importlib.import_module("bastion_api_client.models")

    def as_(role: str):
        http = TestClient(client.app, headers=side.headers(role), raise_server_exceptions=False)
        return gen.AuthenticatedClient(base_url="http://testserver", token=side.tokens[role]).set_httpx_client(http)

    owner, annotator = as_("owner"), as_("annotator")
    config = models.ProjectInConfig.from_dict({"type": "classification", "field": "text", "labels": ["pos", "neg"]})
    project = api["projects_create"].sync(
        side.workspace_id, client=owner, body=models.ProjectIn(name="Generated", config=config)
    )
    assert isinstance(project, models.ProjectOut) and project.task_type == "classification"

    lines = [models.TaskLine.from_dict({"data": {"text": f"review {i}"}, "external_id": f"r-{i}"}) for i in range(3)]
    report = api["tasks_import"].sync(project.id, client=owner, body=lines, idempotency_key="gen-1")
    assert isinstance(report, models.ImportOut) and (report.imported, report.rejected_count) == (3, 0)
    again = api["tasks_import"].sync_detailed(project.id, client=owner, body=lines, idempotency_key="gen-1")
    assert again.headers["idempotent-replayed"] == "true" and again.parsed.import_id == report.import_id

    task = api["tasks_next"].sync(project.id, client=annotator)
    assert isinstance(task, models.TaskOut) and task.data["text"].startswith("review")
    annotation = api["annotations_submit"].sync(
        task.id, client=annotator, body=models.AnnotationIn(result={"label": "pos"})
    )
    assert isinstance(annotation, models.AnnotationOut) and annotation.task_id == task.id

    exported = api["projects_export"].sync_detailed(project.id, client=owner, annotated_only=True)
    assert exported.status_code == 200
    rows = [orjson.loads(line) for line in exported.content.splitlines()]
    assert [(r["id"], r["annotations"][0]["result"]) for r in rows] == [(task.id, {"label": "pos"})]
