"""``bastion task update|delete|assign``, with --json."""

from __future__ import annotations

import orjson


def test_task_update_delete_assign(cli, tmp_path):
    cli("init")
    cli("user", "create", "owner@example.com", "--name", "Owner")
    cli("user", "create", "worker@example.com", "--password-stdin", input="a long enough password\n")
    ws = cli("workspace", "create", "Acme", "--owner", "owner@example.com").stdout.strip()
    cli("member", "add", ws, "worker@example.com", "--role", "annotator")
    config = tmp_path / "config.json"
    config.write_text('{"type": "classification", "field": "text", "labels": ["pos", "neg"]}')
    project = cli("project", "create", ws, "--config", str(config), "--name", "T").stdout.strip()
    data = tmp_path / "tasks.jsonl"
    data.write_text("".join(f'{{"data": {{"text": "t{i}"}}, "external_id": "e{i}"}}\n' for i in range(4)))
    cli("import", project, str(data))
    export = tmp_path / "out.jsonl"
    cli("export", project, "--out", str(export))
    ids = {row["external_id"]: row["id"] for row in map(orjson.loads, export.read_text().splitlines())}

    answer = orjson.loads(cli("task", "update", ids["e0"], "--priority", "7", "--meta", '{"k": 1}', "--json").stdout)
    assert answer == {"id": ids["e0"], "fields": ["priority", "meta"]}
    out = cli("task", "update", "--project", project, "--external-id", "e1", "--external-id", "e2", "--priority", "3")
    assert "2 tasks: changed priority" in out.stdout
    bad = cli("task", "update", ids["e0"], "--predictions", '[{"label": "maybe"}]', ok=False)
    assert bad.exit_code == 1 and "predictions" in bad.stderr
    assert cli("task", "update", ids["e0"], ok=False).exit_code == 2  # nothing to change

    given = orjson.loads(cli("task", "assign", ids["e3"], "worker@example.com", "--json").stdout)
    assert given["user"] == "worker@example.com"
    assert "1 leases ended" in cli("task", "assign", ids["e3"], "--clear").stdout

    deleted = orjson.loads(cli("task", "delete", ids["e0"], "--json").stdout)
    assert deleted["tasks"] == 1
    refused = cli("task", "delete", "--project", project, "--priority-min", "3", ok=False)
    assert refused.exit_code != 0  # asks first; no answer, nothing deleted
    out = cli("task", "delete", "--project", project, "--priority-min", "3", "--yes").stdout
    assert out.startswith("deleted 2 tasks")


def test_task_reindex(cli, tmp_path):
    cli("init")
    cli("user", "create", "owner@example.com", "--name", "Owner")
    ws = cli("workspace", "create", "Acme", "--owner", "owner@example.com").stdout.strip()
    config = tmp_path / "config.json"
    config.write_text('{"type": "classification", "field": "text", "labels": ["pos", "neg"]}')
    project = cli("project", "create", ws, "--config", str(config), "--name", "T").stdout.strip()
    data = tmp_path / "tasks.jsonl"
    data.write_text("".join(f'{{"data": {{"text": "t{i} refund"}}}}\n' for i in range(5)))
    cli("import", project, str(data))
    answer = orjson.loads(cli("task", "reindex", "--project", project, "--json").stdout)
    job = answer.pop("job")  # it ran as a job (services/job_kinds.py), here in the command's process
    assert answer == {"tasks": 5, "blocks": 1, "labelled": 0, "agreements": 0}
    assert "indexed 5 tasks in 1 blocks" in cli("task", "reindex", "--project", project).stdout
    missing = cli("task", "reindex", "--project", "prj_" + "0" * 32, ok=False)
    assert missing.exit_code == 1 and "not found" in missing.stderr

    # bastion job list|show|cancel|retry
    listed = orjson.loads(cli("job", "list", ws, "--json").stdout)
    assert [j["state"] for j in listed] == ["succeeded", "succeeded"] and listed[1]["id"] == job
    shown = cli("job", "show", job).stdout
    assert job in shown and "search.reindex  succeeded  5/5" in shown
    assert orjson.loads(cli("job", "show", job, "--json").stdout)["progress"] == {"done": 5, "total": 5}
    assert job in cli("job", "list", ws).stdout
    done = cli("job", "cancel", job, ok=False)
    assert done.exit_code == 1 and "already succeeded" in done.stderr
    assert "only a failed or cancelled job" in cli("job", "retry", job, ok=False).stderr
    assert "not found" in cli("job", "show", "job_" + "0" * 32, ok=False).stderr
    assert "state: one of" in cli("job", "list", ws, "--state", "done", ok=False).stderr
