"""The command line for scripts: ids whole at any width, ``--json`` shaped as the API answers,
choices validated from the registries, shell completion and ``--version``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel
from rich.console import Console

from bastion import __version__
from bastion.cli import _output
from bastion.exporting import installed as export_formats
from bastion.web.api.approvals import ApprovalOut
from bastion.web.api.models import ImportOut, MemberOut, ProjectOut, TokenCreated, TokenOut, UserOut, WorkspaceOut

SRC = Path(__file__).resolve().parents[2] / "src"
ID = re.compile(r"\b(?:usr|tok|ws|prj)_[0-9A-Za-z]+")
LONG_NAME = "A project name long enough to need wrapping in any table at eighty columns " * 2


def as_api(model: type[BaseModel], document):
    """``document`` is exactly what ``model`` answers: no field missing, none extra, the same types."""
    assert model.model_validate(document).model_dump(mode="json") == document, model.__name__
    return document


def _world(cli, tmp_path):
    cli("init")
    owner = as_api(UserOut, orjson.loads(cli("user", "create", "o@example.com", "--json").stdout))
    ws = as_api(
        WorkspaceOut, orjson.loads(cli("workspace", "create", LONG_NAME, "--owner", owner["email"], "--json").stdout)
    )
    config = tmp_path / "c.json"
    config.write_text('{"type": "classification", "field": "text", "labels": ["a", "b"]}')
    projects = [
        as_api(
            ProjectOut,
            orjson.loads(
                cli("project", "create", ws["id"], "--config", str(config), "--name", LONG_NAME, "--json").stdout
            ),
        )
        for _ in range(3)
    ]
    return owner, ws, projects


def test_json_of_every_listing_and_creating_command(cli, tmp_path, monkeypatch):
    owner, ws, projects = _world(cli, tmp_path)
    cli("user", "create", "m@example.com")
    member = as_api(
        MemberOut, orjson.loads(cli("member", "add", ws["id"], "m@example.com", "--role", "owner", "--json").stdout)
    )
    assert member["role"] == "owner" and member["email"] == "m@example.com"
    token = as_api(TokenCreated, orjson.loads(cli("token", "create", owner["email"], "--json").stdout))
    assert token["token"].startswith("bst_") and token["id"].startswith("tok_")

    users = [as_api(UserOut, u) for u in orjson.loads(cli("user", "list", "--json").stdout)]
    assert owner in users and len(users) == 2
    tokens = [as_api(TokenOut, t) for t in orjson.loads(cli("token", "list", owner["email"], "--json").stdout)]
    assert [t["id"] for t in tokens] == [token["id"]]
    workspaces = [as_api(WorkspaceOut, w) for w in orjson.loads(cli("workspace", "list", "--json").stdout)]
    assert [w["id"] for w in workspaces] == [ws["id"]]
    listed = [as_api(ProjectOut, p) for p in orjson.loads(cli("project", "list", ws["id"], "--json").stdout)]
    assert {p["id"] for p in listed} == {p["id"] for p in projects}

    data = tmp_path / "tasks.jsonl"
    data.write_text('{"data": {"text": "one"}}\n{"data": {"txt": "bad"}}\n')
    result = cli("import", projects[0]["id"], str(data), "--json", ok=False)
    report = as_api(ImportOut, orjson.loads(result.stdout))  # stdout is the report alone
    assert result.exit_code == 1 and report["imported"] == 1 and report["rejected_count"] == 1
    assert report["import_id"] and f"{data}:2:" in result.stderr
    assert orjson.loads(cli("held", "list", projects[0]["id"], "--json").stdout) == []
    quality = orjson.loads(cli("quality", projects[0]["id"], "--json").stdout)
    assert quality["task_type"] == "classification"

    cli("workspace", "create", "Rival", "--owner", "m@example.com")
    rival = orjson.loads(cli("workspace", "list", "--json").stdout)[-1]["id"]
    cli("walls", "add-conflict", ws["id"], rival)
    monkeypatch.setenv("BASTION_TOKEN", token["token"])
    asked = as_api(
        ApprovalOut,
        orjson.loads(
            cli(
                "approval",
                "request",
                ws["id"],
                "wall.remove",
                "--param",
                f"competitor={rival}",
                "--reason",
                "merger",
                "--json",
            ).stdout
        ),
    )
    approvals = [as_api(ApprovalOut, a) for a in orjson.loads(cli("approval", "list", ws["id"], "--json").stdout)]
    assert [a["id"] for a in approvals] == [asked["id"]]


def _ids_in(text: str) -> set[str]:
    return set(ID.findall(text))


@pytest.mark.parametrize("width", [80, 40])
def test_listings_print_whole_ids_at_any_width(cli, tmp_path, monkeypatch, width):
    owner, ws, projects = _world(cli, tmp_path)
    monkeypatch.setattr(_output, "out", Console(width=width, force_terminal=True, color_system=None))
    cli("token", "create", owner["email"], "--name", LONG_NAME)
    printed = {
        "project": cli("project", "list", ws["id"]).stdout,
        "workspace": cli("workspace", "list").stdout,
        "user": cli("user", "list").stdout,
        "token": cli("token", "list", owner["email"]).stdout,
    }
    assert printed  # the console was replaced: the output went through capsys all the same
    real = {p["id"] for p in projects}
    assert _ids_in(printed["project"]) == real
    assert _ids_in(printed["workspace"]) == {ws["id"]}
    assert _ids_in(printed["user"]) == {owner["id"]}
    tokens = orjson.loads(cli("token", "list", owner["email"], "--json").stdout)
    assert _ids_in(printed["token"]) == {t["id"] for t in tokens}
    assert LONG_NAME.split()[0] in printed["project"]  # the names wrap, the ids do not


def test_piped_listing_at_80_columns_prints_whole_ids(cli, tmp_path):
    """A real process, its stdout a pipe, COLUMNS=80: what a shell script sees."""
    _owner, ws, projects = _world(cli, tmp_path)
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-m", "bastion.cli", "project", "list", ws["id"]],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert _ids_in(done.stdout) == {p["id"] for p in projects}


def test_choices_are_validated_from_the_registries(cli):
    cli("init")
    result = cli("member", "add", "ws_x", "a@example.com", "--role", "boss", ok=False)
    assert result.exit_code == 2
    assert "'boss' is not one of 'owner', 'manager', 'reviewer', 'annotator', 'auditor'" in " ".join(
        result.stderr.split()
    )
    result = cli("export", "prj_x", "--format", "yaml", ok=False)
    flat = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "'yaml' is not one of" in flat
    assert all(repr(fmt.name) in flat for fmt in export_formats())
    for args, value in (
        (("export", "prj_x", "--aggregate", "vote"), "vote"),
        (("quality", "prj_x", "--method", "vote"), "vote"),
        (("export", "prj_x", "--chat", "both"), "both"),
    ):
        result = cli(*args, ok=False)
        assert result.exit_code == 2 and f"{value!r} is not one of" in result.stderr, args
    result = cli("person", "affiliate", "a@example.com", "Org", "--kind", "cousin", ok=False)
    assert result.exit_code == 2 and "'employer'" in result.stderr


def test_version_and_completion(cli):
    result = cli("--version")
    assert result.stdout.strip() == __version__
    help_text = cli("--help").stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
