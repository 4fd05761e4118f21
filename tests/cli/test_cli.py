"""The command line, in-process: happy paths and one-line errors (no tracebacks)."""

from __future__ import annotations

import os
import stat

import orjson
import pytest


def test_setup_import_export(cli, tmp_path):
    cli("init")
    key = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    cli("user", "create", "owner@example.com", "--name", "Owner")
    cli("user", "create", "worker@example.com", "--password-stdin", input="a long enough password\n")
    token = cli("token", "create", "owner@example.com", "--name", "ci").stdout.strip()
    assert token.startswith("bst_") and "\n" not in token
    assert "ci" in cli("token", "list", "owner@example.com").stdout
    ws = cli("workspace", "create", "Acme", "--owner", "owner@example.com").stdout.strip()
    assert ws.startswith("ws_")
    cli("member", "add", ws, "worker@example.com", "--role", "annotator")
    config = tmp_path / "config.yaml"
    config.write_text("type: classification\nfield: text\nlabels: [yes, no]\n")
    result = cli("project", "create", ws, "--config", str(config), ok=False)
    assert "labels[0]: must be a string" in result.stderr and "quote them" in result.stderr
    config.write_text("type: classification\nfield: text\nlabels: ['yes', 'no']\n")
    project = cli("project", "create", ws, "--config", str(config), "--name", "Triage", "--overlap", "2").stdout.strip()
    assert project.startswith("prj_")

    data = tmp_path / "tasks.jsonl"
    data.write_text(
        "\n".join(orjson.dumps({"data": {"text": f"t{i}"}, "external_id": str(i)}).decode() for i in range(50))
    )
    result = cli("import", project, str(data))
    assert "imported 50" in result.stdout
    result = cli("import", project, str(data))
    assert "imported 0, skipped 50 duplicate(s)" in result.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"data": {"text": "fine"}}\n{"data": {"txt": "x"}}\nnot json\n')
    result = cli("import", project, str(bad), "--strict", ok=False)
    assert result.exit_code == 1
    assert f"{bad}:2: data.text: missing" in result.stderr and f"{bad}:3: not valid JSON" in result.stderr
    assert "nothing imported" in result.stderr
    result = cli("import", project, str(bad), ok=False)
    assert result.exit_code == 1 and "imported 1" in result.stdout

    out = tmp_path / "export.jsonl"
    cli("export", project, "--out", str(out))
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(rows) == 51 and rows[0]["data"] == {"text": "t0"}
    streamed = cli("export", project, "--format", "json").stdout
    assert len(orjson.loads(streamed)) == 51


@pytest.mark.parametrize(
    "args,message",
    [
        (("import", "prj_missing", "nofile.jsonl"), "nofile.jsonl: no such file"),
        (("export", "prj_00000000000000000000000000000000"), "error: project not found"),
        (("member", "add", "ws_x", "nobody@example.com", "--role", "annotator"), "user not found"),
        (("user", "create", "not-an-email"), "is not an e-mail address"),
        (("workspace", "delete", "ws_x"), "add --yes to confirm"),
    ],
)
def test_errors_are_one_line(cli, args, message):
    cli("init")
    result = cli(*args, ok=False)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_project_in_a_missing_workspace_names_it(cli, tmp_path):
    cli("init")
    config = tmp_path / "config.yaml"
    config.write_text("type: classification\nfield: text\nlabels: ['yes', 'no']\n")
    result = cli("project", "create", "ws_nosuch", "--config", str(config), ok=False)
    assert result.exit_code == 1
    assert result.stderr == "error: workspace ws_nosuch not found\n"


def test_bad_config_file_names_the_problem(cli, tmp_path):
    cli("init")
    cli("user", "create", "o@example.com")
    ws = cli("workspace", "create", "W", "--owner", "o@example.com").stdout.strip()
    broken = tmp_path / "c.json"
    broken.write_text('{"type": "classification", "labels": ["a", "a"]}')
    result = cli("project", "create", ws, "--config", str(broken), ok=False)
    assert "labels[1].value: duplicate label 'a'" in result.stderr
    broken.write_text("{nope")
    result = cli("project", "create", ws, "--config", str(broken), ok=False)
    assert "not valid JSON" in result.stderr


def test_audit_export_and_offline_verify(cli, tmp_path):
    cli("init")
    cli("user", "create", "o@example.com")
    ws = cli("workspace", "create", "Audited", "--owner", "o@example.com").stdout.strip()
    for i in range(3):
        cli("user", "create", f"m{i}@example.com")
        cli("member", "add", ws, f"m{i}@example.com", "--role", "annotator")
    key = tmp_path / "key.pub"
    key.write_text(cli("audit", "public-key").stdout)
    log, cp, cps = tmp_path / "audit.jsonl", tmp_path / "cp.json", tmp_path / "cps.json"
    cli("audit", "export", ws, "--out", str(log), "--checkpoint-out", str(cp), "--checkpoints-out", str(cps))
    ok = cli(
        "audit",
        "verify",
        "--file",
        str(log),
        "--checkpoint",
        str(cp),
        "--public-key",
        str(key),
        "--checkpoints",
        str(cps),
        "--workspace",
        ws,
    )
    assert ok.stdout.startswith("OK:")
    assert cli("audit", "verify", ws).stdout.startswith("OK:")
    lines = log.read_bytes().splitlines()
    log.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # truncated
    bad = cli("audit", "verify", "--file", str(log), "--checkpoint", str(cp), "--public-key", str(key), ok=False)
    assert bad.exit_code == 1 and "FAILED" in bad.stderr and "truncated" in bad.stderr
    other = cli(
        "audit",
        "verify",
        "--file",
        str(log),
        "--checkpoint",
        str(cp),
        "--public-key",
        str(key),
        "--workspace",
        "ws_someone_else",
        ok=False,
    )
    assert other.exit_code == 1


def test_global_options_go_before_the_command_or_after_it(cli, tmp_path):
    """``--data-dir`` and ``--database-url`` are the root's options; after the command they mean the same."""
    cli("init")
    before, after = tmp_path / "before", tmp_path / "after"
    cli("--data-dir", str(before), "init")
    cli("init", f"--data-dir={after}")
    assert (before / "master.key").is_file() and (after / "master.key").is_file()
    own = f"sqlite:///{tmp_path / 'own.db'}"
    cli("init", "--database-url", own, "--data-dir", str(before))
    assert (tmp_path / "own.db").is_file()
    cli("--database-url", own, "user", "create", "placed@example.com", "--data-dir", str(before))
    assert "placed@example.com" in cli("user", "list", "--database-url", own, "--data-dir", str(before)).stdout
    assert "placed@example.com" in cli("--data-dir", str(before), "--database-url", own, "user", "list").stdout
    assert "placed@example.com" not in cli("user", "list").stdout  # the environment's database
    help_text = cli("user", "list", "--help").stdout
    assert "--data-dir" not in help_text  # declared once, on the root
