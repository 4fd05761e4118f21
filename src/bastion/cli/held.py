"""``bastion held …``: tasks redaction held for an owner's review (their ids and reasons, never their text)."""

from __future__ import annotations

import typer

from ._options import AsJson
from ._output import listing, out, print_json, print_table
from ._runtime import context, runtime
from ..services import redaction

held_app = typer.Typer(help="Items redaction held for an owner's review.", no_args_is_help=True)


@held_app.command("list")
def held_list(project_id: str, as_json: AsJson = False):
    """Items redaction held for review: ids and reasons (never their text)."""
    ctx = context(runtime())
    held = []
    cursor = ""
    while True:
        page = redaction.list_held(ctx, project_id, after=cursor, limit=1000)
        held += page["items"]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    if as_json:  # every page's items, as the API answers them a page at a time
        print_json(held)
        return
    table = listing("task", "reasons", "findings", ids=("task",))
    for item in held:
        table.add_row(item["task_id"], "; ".join(item["reasons"]), str(item["findings"]))
    print_table(table)


@held_app.command("release")
def held_release(task_ids: list[str]):
    """Let held items into the queue (audited)."""
    ctx = context(runtime())
    for task_id in task_ids:
        redaction.release_held(ctx, task_id)
        out.print(f"{task_id}: released")
