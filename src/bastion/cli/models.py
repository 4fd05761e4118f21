"""``bastion model …``: a workspace's model endpoints (OpenAI-compatible servers), as the local operator.

The API key is never an argument (it would show in the process list and the shell's history):
``--api-key-stdin`` reads it from stdin, ``--api-key-env NAME`` from an environment variable.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ._options import AsJson
from ._output import listing, out, print_json, print_table, when
from ._runtime import context, runtime
from ..domain.errors import InvalidInput
from ..services import completions, model_endpoints

model_app = typer.Typer(help="Model endpoints: where the workspace's model calls may go.", no_args_is_help=True)


def _api_key(stdin: bool, env: str | None) -> str | None:
    if stdin and env:
        raise InvalidInput("give the API key one way: --api-key-stdin or --api-key-env")
    if stdin:
        return sys.stdin.readline().strip() or None
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise InvalidInput(f"the environment variable {env} is empty or not set")
        return value
    return None


@model_app.command("add")
def model_add(
    workspace_id: str,
    name: Annotated[str, typer.Option("--name", help="A name, unique within the workspace.")],
    base_url: Annotated[str, typer.Option("--base-url", help="The API's base; calls go to {base}/chat/completions.")],
    model: Annotated[str, typer.Option("--model", help="The default model.")],
    allow: Annotated[
        list[str],
        typer.Option(
            "--allow",
            help="An exact host[:port] (or address) its calls may reach; repeat for more. The base URL's host is one.",
        ),
    ],
    api_key_stdin: Annotated[bool, typer.Option("--api-key-stdin", help="Read the API key from stdin.")] = False,
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Read the API key from this environment variable.")
    ] = None,
    as_json: AsJson = False,
):
    """Add a model endpoint to a workspace, with the hosts its calls may reach."""
    made = model_endpoints.create_endpoint(
        context(runtime()),
        workspace_id,
        name=name,
        base_url=base_url,
        default_model=model,
        allowed_hosts=list(allow),
        api_key=_api_key(api_key_stdin, api_key_env),
    )
    if as_json:
        print_json(made)
        return
    out.print(f"{made['id']}: {made['name']} at {made['base_url']} (allowed: {', '.join(made['allowed_hosts'])})")


@model_app.command("list")
def model_list(workspace_id: str, as_json: AsJson = False):
    """The workspace's model endpoints (never their API keys)."""
    rows = model_endpoints.list_endpoints(context(runtime()), workspace_id)
    if as_json:
        print_json(rows)
        return
    table = listing("id", "name", "base URL", "model", "allowed hosts", "API key", "created", ids=("id",))
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            row["base_url"],
            row["default_model"],
            ", ".join(row["allowed_hosts"]),
            "set" if row["has_api_key"] else "none",
            when(row["created_at"]),
        )
    print_table(table)


@model_app.command("remove")
def model_remove(endpoint_id: str):
    """Remove a model endpoint (its sealed API key goes with it)."""
    model_endpoints.delete_endpoint(context(runtime()), endpoint_id)
    out.print(f"removed {endpoint_id}")


@model_app.command("test")
def model_test(endpoint_id: str, as_json: AsJson = False):
    """Send a tiny fixed prompt through the egress guard; print the model, latency and token counts."""
    report = completions.probe_endpoint(context(runtime()), endpoint_id)
    if as_json:
        print_json(report)
        return
    out.print(
        f"{report['model']} answered in {report['latency_ms']} ms "
        f"({report['prompt_tokens']} prompt / {report['completion_tokens']} completion tokens): {report['reply']!r}"
    )
