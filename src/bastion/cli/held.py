"""``bastion held …``: tasks redaction held for an owner's review (their ids and reasons, never their text)."""

from __future__ import annotations

import typer
from rich.table import Table

from ._output import out
from ._runtime import context, runtime
from ..services import redaction

held_app = typer.Typer(help="Items redaction held for an owner's review.", no_args_is_help=True)


@held_app.command("list")
def held_list(project_id: str):
    """Items redaction held for review: ids and reasons (never their text)."""
    ctx = context(runtime())
    table = Table("task", "reasons", "findings")
    cursor = ""
    while True:
        page = redaction.list_held(ctx, project_id, after=cursor, limit=1000)
        for item in page["items"]:
            table.add_row(item["task_id"], "; ".join(item["reasons"]), str(item["findings"]))
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    out.print(table)


@held_app.command("release")
def held_release(task_ids: list[str]):
    """Let held items into the queue (audited)."""
    ctx = context(runtime())
    for task_id in task_ids:
        redaction.release_held(ctx, task_id)
        out.print(f"{task_id}: released")
