"""No command-line argument or config file carries NUL (U+0000) into the database: a clear error naming it.

Every parameter of every command that takes a value is tried, so a command added tomorrow
is covered the day it lands.
"""

from __future__ import annotations

import typer
from typer.core import TyperArgument

from bastion.cli import app

NUL = "\x00"


def _commands(command, path: tuple[str, ...] = ()):
    if hasattr(command, "list_commands"):  # a group (the root loads its commands on demand)
        for name in command.list_commands(None):
            yield from _commands(command.get_command(None, name), (*path, name))
    else:
        yield path, command


def _argv(path, command, target) -> list[str]:
    """A call of ``command`` with every argument filled and ``target``'s value holding a NUL."""
    argv = list(path)
    for param in command.params:
        value = "a" + NUL + "b" if param is target else "x"
        if isinstance(param, TyperArgument):
            argv.append(value)
        elif param is target:
            argv += [param.opts[0], value]
    return argv


def test_every_argument_of_every_command_refuses_nul(cli):
    root = typer.main.get_command(app)
    wrong, checked = [], 0
    for path, command in _commands(root):
        for param in command.params:
            if not isinstance(param, TyperArgument) and (param.is_flag or param.count):
                continue
            result = cli(*_argv(path, command, param), ok=False)
            checked += 1
            name = param.name.upper() if isinstance(param, TyperArgument) else param.opts[0]
            if (
                result.exit_code == 0
                or "NUL" not in result.stderr
                or name not in result.stderr
                or "Traceback" in result.stderr
            ):
                wrong.append(
                    f"bastion {' '.join(path)} with NUL in {name}: exit {result.exit_code}, "
                    f"{result.stderr.strip()[:160]!r}"
                )
    assert checked > 50
    assert not wrong, "\n".join(wrong)


def test_global_options_refuse_nul_too(cli):
    result = cli("--data-dir", "/tmp/a" + NUL, "user", "list", ok=False)
    assert result.exit_code != 0 and "--data-dir" in result.stderr and "NUL" in result.stderr
    result = cli("user", "list", "--database-url", "sqlite:///" + NUL, ok=False)  # after the command, too
    assert result.exit_code == 2 and "--database-url" in result.stderr and "NUL" in result.stderr


def test_a_config_file_holding_nul_is_refused(cli, tmp_path):
    cli("init")
    cli("user", "create", "cfg.owner@example.com")
    ws = cli("workspace", "create", "Cfg", "--owner", "cfg.owner@example.com").stdout.split()[-1]
    config = tmp_path / "config.yaml"
    config.write_text('type: classification\nfield: text\nlabels: ["pos", "n\\0eg"]\n')
    result = cli("project", "create", ws, "--config", str(config), ok=False)
    assert result.exit_code != 0 and "labels[1]" in result.stderr and "NUL" in result.stderr


def test_a_password_from_stdin_holding_nul_is_refused(cli):
    cli("init")
    result = cli("user", "create", "pw.nul@example.com", "--password-stdin", input="long pass\x00word here\n", ok=False)
    assert result.exit_code != 0 and "password" in result.stderr and "NUL" in result.stderr
