"""``bastion task prelabel --project P``: the job in the command's process, its counts (docs/prelabel.md)."""

from __future__ import annotations

import json

import orjson

from model_server import model_server  # noqa: F401  (fixture)


def test_task_prelabel(cli, tmp_path, model_server):  # noqa: F811
    cli("init")
    cli("user", "create", "owner@example.com", "--name", "Owner")
    ws = cli("workspace", "create", "Acme", "--owner", "owner@example.com").stdout.strip()
    made = cli(
        "model", "add", ws, "--name", "labeller", "--base-url", model_server.url(), "--model", "labeller",
        "--allow", f"127.0.0.1:{model_server.port}", "--json",
    ).stdout  # fmt: skip
    endpoint = orjson.loads(made)["id"]
    spec = tmp_path / "project.json"
    spec.write_text(
        json.dumps(
            {
                "name": "T",
                "config": {"type": "classification", "field": "text", "labels": ["pos", "neg"]},
                "settings": {"prelabel": {"endpoint": endpoint}},
            }
        )
    )
    project = cli("project", "create", ws, "--config", str(spec)).stdout.strip()
    data = tmp_path / "tasks.jsonl"
    data.write_text(
        "".join(f'{{"data": {{"text": "t{i}"}}}}\n' for i in range(4)) + '{"data": {"text": "UNPARSABLE"}}\n'
    )
    cli("import", project, str(data))
    answer = orjson.loads(cli("task", "prelabel", "--project", project, "--json").stdout)
    assert answer.pop("job").startswith("job_") and answer.pop("version").startswith(endpoint + "/labeller/")
    assert answer == {"labelled": 4, "failed": 1, "skipped": 0}
    again = cli("task", "prelabel", "--project", project).stdout
    assert "pre-labelled 0 tasks" in again and "1 replies could not be read, 4 tasks had one already" in again
    missing = cli("task", "prelabel", "--project", "prj_" + "0" * 32, ok=False)
    assert missing.exit_code == 1 and "not found" in missing.stderr
