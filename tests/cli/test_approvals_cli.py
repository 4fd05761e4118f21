"""The command line for two-person approval (as people, with their tokens) and for lifting walls."""

from __future__ import annotations


def test_request_approve_and_withdraw_a_wall(cli, monkeypatch):
    cli("init")
    for email in ("first@example.com", "second@example.com", "rival@example.com"):
        cli("user", "create", email)
    a = cli("workspace", "create", "Lab A", "--owner", "first@example.com").stdout.strip()
    b = cli("workspace", "create", "Lab B", "--owner", "rival@example.com").stdout.strip()
    cli("member", "add", a, "second@example.com", "--role", "owner")
    first = cli("token", "create", "first@example.com").stdout.strip()
    second = cli("token", "create", "second@example.com").stdout.strip()
    cli("walls", "add-conflict", a, b)

    monkeypatch.delenv("BASTION_TOKEN", raising=False)
    result = cli("approval", "request", a, "wall.remove", "--param", f"competitor={b}", "--reason", "merger", ok=False)
    assert result.exit_code == 1 and "API token" in result.stderr  # a person's act, not the operator's
    monkeypatch.setenv("BASTION_TOKEN", first)
    result = cli("approval", "request", a, "wall.remove", "--param", f"competitor{b}", "--reason", "x", ok=False)
    assert result.exit_code == 1 and "--param" in result.stderr
    asked = cli(
        "approval", "request", a, "wall.remove", "--param", f"competitor={b}", "--reason", "merger"
    ).stdout.strip()
    assert asked.startswith("apr_")
    result = cli("approval", "approve", asked, ok=False)
    assert result.exit_code == 1 and "different person" in result.stderr and "Traceback" not in result.stderr
    monkeypatch.delenv("BASTION_TOKEN")
    assert "approved" in cli("approval", "approve", asked, "--token-stdin", "--note", "ok", input=second + "\n").stdout
    assert f"{asked}  approved  wall.remove competitor={b}" in cli("approval", "list", a).stdout

    # The operator needs no approval, but one given is checked and used (the log links them).
    result = cli("walls", "remove-conflict", a, b, "--approval", asked)
    assert f"{a} withdraws its wall with {b}, effective" in result.stdout
    assert "used" in cli("approval", "list", a, "--state", "used").stdout
    assert "effective" in cli("walls", "consent", b, a).stdout
    result = cli("walls", "remove-conflict", a, b, ok=False)
    assert result.exit_code == 1 and "no such conflict" in result.stderr


def test_groups_are_left_and_deleted_from_the_command_line(cli):
    cli("init")
    ids = [cli("workspace", "create", f"W{i}").stdout.strip() for i in range(3)]
    assert "3 new conflict(s)" in cli("walls", "group", "Sector", *ids).stdout
    result = cli("walls", "delete-group", "Sector", ok=False)
    assert result.exit_code == 1 and "still has workspaces" in result.stderr
    out = cli("walls", "ungroup", "Sector", ids[0]).stdout
    assert f"{ids[0]} left group" in out and out.count("withdraws its wall") == 2
    for ws in ids[1:]:
        cli("walls", "ungroup", "Sector", ws)
    assert "deleted" in cli("walls", "delete-group", "Sector").stdout
