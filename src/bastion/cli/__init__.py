"""The ``bastion`` command line: local administration in-process, and the server.

Commands translate: parse arguments, call one service with the local operator's
actor (``Actor.system()``), print. Errors print one line and exit non-zero —
no traceback (``BASTION_DEBUG=1`` shows it).

This module builds the command tree (in the order ``bastion --help`` lists it) from one
module per command group or top-level command, and declares the global options
(``--data-dir``, ``--database-url``) — here only: commands read them through
``_runtime.settings()`` and ``_runtime.runtime()``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer
import typer.main
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from ._argv import global_options_first, nul_argument
from ._output import err, out
from ._runtime import GlobalOptions, begin
from .. import __version__
from ..domain.errors import BastionError
from ..domain.text import MESSAGE


class _Lazy(NamedTuple):
    """A command (``group=False``: a function) or command group (a ``typer.Typer``) in ``module``."""

    module: str
    attribute: str
    group: bool = False


# The command tree in the order ``bastion --help`` lists it. A command's module (and the services it
# imports) loads only when that command runs or help lists it: ``bastion import`` does not pay for
# the export, approval and backup modules (about 0.15 s of start-up on the benchmark machine).
COMMANDS: dict[str, _Lazy] = {
    "init": _Lazy("db", "init"),
    "serve": _Lazy("serve", "serve"),
    "doctor": _Lazy("doctor", "doctor"),
    "worker": _Lazy("jobs", "worker"),
    "demo": _Lazy("demo", "demo"),
    "import": _Lazy("imports", "import_"),
    "trace": _Lazy("leaks", "trace_"),
    "backup": _Lazy("backups", "backup_"),
    "restore": _Lazy("backups", "restore_"),
    "quality": _Lazy("quality", "quality_"),
    "user": _Lazy("users", "user_app", group=True),
    "token": _Lazy("users", "token_app", group=True),
    "scim": _Lazy("scim", "scim_app", group=True),
    "workspace": _Lazy("workspaces", "workspace_app", group=True),
    "member": _Lazy("workspaces", "member_app", group=True),
    "project": _Lazy("projects", "project_app", group=True),
    "audit": _Lazy("audit", "audit_app", group=True),
    "keys": _Lazy("keys", "keys_app", group=True),
    "walls": _Lazy("walls", "walls_app", group=True),
    "person": _Lazy("people", "person_app", group=True),
    "skills": _Lazy("people", "skills_app", group=True),
    "credential": _Lazy("credentials", "credential_app", group=True),
    "held": _Lazy("held", "held_app", group=True),
    "task": _Lazy("tasks", "task_app", group=True),
    "approval": _Lazy("approvals", "approval_app", group=True),
    "export": _Lazy("exports", "export_app", group=True),
    "model": _Lazy("models", "model_app", group=True),
    "job": _Lazy("jobs", "job_app", group=True),
    "webhook": _Lazy("webhooks", "webhook_app", group=True),
    "pay": _Lazy("pay", "pay_app", group=True),
}


def load_command(name: str) -> Any:
    """The click command for ``name`` (its module imported now), or None for an unknown name."""
    spec = COMMANDS.get(name)
    if spec is None:
        return None
    target = getattr(importlib.import_module(f"{__name__}.{spec.module}"), spec.attribute)
    command: Any
    if spec.group:
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _RootGroup(TyperGroup):
    """``bastion``: commands load on demand (``COMMANDS``); its options may also follow the command
    (``bastion serve --data-dir X``)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            command = load_command(cmd_name)
            if command is None:
                return None
            self.commands[cmd_name] = command
        return self.commands[cmd_name]

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, global_options_first(self, args))


app = typer.Typer(
    cls=_RootGroup,
    help="Bastion: a self-hosted human-data platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


def _print_version(value: bool) -> None:
    """``--version``: eager, so it answers before click asks for a command."""
    if value:
        out.print(__version__, highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory (env BASTION_DATA_DIR).")] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database URL (env BASTION_DATABASE_URL).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
):
    begin(ctx, GlobalOptions(data_dir=data_dir, database_url=database_url))


def main() -> None:
    """The ``bastion`` console script: a known failure prints one line and exits non-zero."""
    debug = os.environ.get("BASTION_DEBUG") == "1"
    bad = nul_argument(typer.main.get_group(app), sys.argv[1:])
    if bad is not None:
        err.print(f"[red]error:[/red] {escape(bad)}: {MESSAGE}", highlight=False)
        sys.exit(2)
    try:
        app()
    except BastionError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(1)
    except (SQLAlchemyError, OSError) as exc:  # a database that is down, a disk that is full…
        if debug:
            raise
        err.print(f"[red]error:[/red] {type(exc).__name__}: {str(exc).splitlines()[0]}", highlight=False)
        sys.exit(1)
