"""The docs are tested against the code: settings, commands, routes, permissions, hooks."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from bastion import access, hookspecs
from bastion.cli import app
from bastion.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text()


def test_every_setting_is_documented():
    text = read("configuration.md")
    for name in Settings.model_fields:
        assert f"`BASTION_{name.upper()}`" in text, name


def _commands(group, prefix=()):
    for name in group.list_commands(None):  # the root loads its commands on demand
        cmd = group.get_command(None, name)
        path = (*prefix, name)
        if hasattr(cmd, "list_commands"):
            yield from _commands(cmd, path)
        else:
            yield " ".join(path), cmd


def test_every_cli_command_and_option_is_documented():
    text = read("cli.md")
    click_app = typer.main.get_command(app)
    found = list(_commands(click_app))
    assert len(found) > 45  # every command of every group, not only those loaded so far
    for path, cmd in found:
        assert f"`bastion {path}" in text, path
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--data-dir", "--database-url", "--help"):
                    assert opt in text, f"{path} {opt}"


def test_every_route_is_documented(rt):
    from bastion.web.app import create_app

    text = read("api.md")
    spec = create_app(rt).openapi()
    for path, methods in spec["paths"].items():
        for method in methods:
            assert f"`{method.upper()} {path}" in text, f"{method.upper()} {path}"


def test_permissions_table_matches_the_policy():
    rows = {}
    for line in read("permissions.md").splitlines():
        m = re.match(r"\| `([\w.]+)` \| (yes|no) \| (.+?) \| (.+?) \|$", line)
        if m:
            rows[m.group(1)] = (m.group(2) == "yes", m.group(3), [r.strip() for r in m.group(4).split(",")])
    expected = {
        label: (action_is_read, desc, roles)
        for label, desc, roles, action_is_read in [
            (a.label, a.description, [r for r in access.policy_table_roles(a)], a.is_read) for a in access.Action
        ]
    }
    assert rows == expected


def test_every_hook_is_documented():
    text = read("plugins.md")
    for name in dir(hookspecs):
        if name.startswith("bastion_"):
            assert f"`{name}`" in text, name


def test_readme_names_the_test_command_ci_runs():
    readme = (DOCS.parent / "README.md").read_text()
    ci = (DOCS.parent / ".ci" / "run").read_text()
    assert "pip install '.[test]' && pytest" in readme
    assert "pip install '.[test]' && pytest" in ci
    assert "pip install . && bastion demo" in readme


def test_the_node_audit_verifier_in_the_docs_is_the_tested_script():
    text = read("security.md")
    marker = "<!-- The block below is docs/verify-audit.mjs"
    block = text[text.index(marker) :].split("```js\n", 1)[1].split("```\n", 1)[0]
    assert block == read("verify-audit.mjs")
