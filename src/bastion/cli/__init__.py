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

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.main
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from . import (
    approvals,
    audit,
    backups,
    db,
    demo,
    exports,
    held,
    imports,
    keys,
    leaks,
    people,
    projects,
    quality,
    serve,
    tasks,
    users,
    walls,
    workspaces,
)
from ._argv import global_options_first, nul_argument
from ._output import err, out
from ._runtime import GlobalOptions, begin
from .. import __version__
from ..domain.errors import BastionError
from ..domain.text import MESSAGE


class _RootGroup(TyperGroup):
    """``bastion``: its options may also follow the command (``bastion serve --data-dir X``)."""

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


app.command()(db.init)
app.command()(serve.serve)
app.command()(demo.demo)
app.command("import")(imports.import_)
app.command("trace")(leaks.trace_)
app.command("backup")(backups.backup_)
app.command("restore")(backups.restore_)
app.command("quality")(quality.quality_)
app.add_typer(users.user_app, name="user")
app.add_typer(users.token_app, name="token")
app.add_typer(workspaces.workspace_app, name="workspace")
app.add_typer(workspaces.member_app, name="member")
app.add_typer(projects.project_app, name="project")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(walls.walls_app, name="walls")
app.add_typer(people.person_app, name="person")
app.add_typer(people.skills_app, name="skills")
app.add_typer(held.held_app, name="held")
app.add_typer(tasks.task_app, name="task")
app.add_typer(approvals.approval_app, name="approval")
app.add_typer(exports.export_app, name="export")


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
