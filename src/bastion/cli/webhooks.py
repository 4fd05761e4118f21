"""``bastion webhook …``: a workspace's webhooks, their deliveries and replay, as the local operator
(docs/webhooks.md). The signing secret is printed once, by ``add``."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import AsJson
from ._output import listing, out, print_json, print_table, when
from ._runtime import context, runtime
from ..services import webhooks

webhook_app = typer.Typer(help="Webhooks: where the workspace's events are POSTed, signed.", no_args_is_help=True)


@webhook_app.command("add")
def webhook_add(
    workspace_id: str,
    url: Annotated[str, typer.Option("--url", help="Where events are POSTed (http or https).")],
    event: Annotated[list[str], typer.Option("--event", help="An event kind to send; repeat for more.")],
    allow: Annotated[
        list[str],
        typer.Option("--allow", help="An exact host[:port] (or address) deliveries may reach; the URL's host is one."),
    ],
    as_json: AsJson = False,
):
    """Add a webhook; prints its signing secret (whsec_…), shown this once."""
    made = webhooks.create_webhook(
        context(runtime()), workspace_id, url=url, events=list(event), allowed_hosts=list(allow)
    )
    if as_json:
        print_json(made)
        return
    out.print(f"{made['id']}: {made['url']} ({', '.join(made['events'])})")
    out.print(f"signing secret (shown once): {made['secret']}")


@webhook_app.command("list")
def webhook_list(workspace_id: str, as_json: AsJson = False):
    """The workspace's webhooks (never their secrets)."""
    rows = webhooks.list_webhooks(context(runtime()), workspace_id)
    if as_json:
        print_json(rows)
        return
    table = listing("id", "URL", "events", "allowed hosts", "created", ids=("id",))
    for row in rows:
        table.add_row(
            row["id"], row["url"], ", ".join(row["events"]), ", ".join(row["allowed_hosts"]), when(row["created_at"])
        )
    print_table(table)


@webhook_app.command("remove")
def webhook_remove(webhook_id: str):
    """Remove a webhook, its sealed secret and its deliveries."""
    webhooks.delete_webhook(context(runtime()), webhook_id)
    out.print(f"removed {webhook_id}")


@webhook_app.command("deliveries")
def webhook_deliveries(
    webhook_id: str,
    state: Annotated[str | None, typer.Option("--state", help="pending, delivered or dead (the dead letters).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest event first.")] = 100,
    as_json: AsJson = False,
):
    """A webhook's deliveries with their attempts."""
    rows = webhooks.list_deliveries(context(runtime()), webhook_id, state=state, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = listing("id", "event", "state", "attempts", "last status", "last error", "updated", ids=("id", "event"))
    for row in rows:
        table.add_row(
            row["id"],
            row["event_id"] or "",
            row["state"],
            str(row["attempts"]),
            "" if row["last_status"] is None else str(row["last_status"]),
            row["last_error"] or "",
            when(row["updated_at"]),
        )
    print_table(table)


@webhook_app.command("replay")
def webhook_replay(
    webhook_id: str,
    delivery_id: Annotated[str | None, typer.Argument(help="The delivery; without it, every dead letter.")] = None,
):
    """Deliver again: one delivery (dead or delivered), or every dead letter of the webhook."""
    ctx = context(runtime())
    if delivery_id is None:
        out.print(f"replaying {webhooks.replay_dead(ctx, webhook_id)} dead deliveries")
        return
    done = webhooks.replay(ctx, webhook_id, delivery_id)
    out.print(f"{done['id']}: queued again as {done['job_id']}")
