"""``bastion approval …``: two-person approval, as a person (their API token), never as the operator."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ._choices import approval_kinds, argument_of
from ._options import AsJson
from ._output import out, print_json
from ._runtime import context, runtime
from ..domain.errors import BastionError, InvalidInput
from ..services import approvals, users
from ..services.context import Context
from ..services.runtime import Runtime

approval_app = typer.Typer(help="Two-person approval, as a person (their API token).", no_args_is_help=True)

TokenStdin = Annotated[
    bool,
    typer.Option(
        "--token-stdin", help="Read your API token from stdin (default: the BASTION_TOKEN environment variable)."
    ),
]
Note = Annotated[str | None, typer.Option("--note", help="A note on the decision (written into the audit log).")]


def _person(rt: Runtime, token_stdin: bool, *, required: bool = True) -> Context:
    """The person whose API token is given: requests and decisions are a person's, never the operator's."""
    token = sys.stdin.readline().strip() if token_stdin else os.environ.get("BASTION_TOKEN", "").strip()
    if not token:
        if not required:
            return context(rt)
        raise BastionError("this is a person's act: give your API token (BASTION_TOKEN or --token-stdin)")
    return Context(rt, users.resolve_token(rt, token))


def _approval_line(a: dict) -> str:
    """One request as a line: id, state, kind and what it is for."""
    params = " ".join(f"{k}={v}" for k, v in a["params"].items())
    return f"{a['id']}  {a['state']}  {a['kind']} {params}".rstrip()


@approval_app.command("request")
def approval_request(
    workspace_id: str,
    kind: Annotated[str, argument_of(approval_kinds, help=f"One of: {', '.join(approval_kinds())}.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (written into the audit log).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="What it is for, as name=id (repeat): task=tsk_…, project=prj_…, competitor=ws_…"),
    ] = None,
    token_stdin: TokenStdin = False,
    as_json: AsJson = False,
):
    """Ask a second owner to approve one operation; prints the request's id."""
    params = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--param: {item!r} is not name=id")
        params[name] = value
    rt = runtime()
    requested = approvals.request(_person(rt, token_stdin), workspace_id, kind, params, reason)
    if as_json:
        print_json(requested)
    else:
        out.print(requested["id"])


@approval_app.command("list")
def approval_list(
    workspace_id: str,
    state: Annotated[str | None, typer.Option("--state", help="pending, approved, refused, used or expired.")] = None,
    token_stdin: TokenStdin = False,
    as_json: AsJson = False,
):
    """A workspace's requests, newest first (as the operator, or as a person with a token)."""
    rt = runtime()
    found = approvals.list_approvals(_person(rt, token_stdin, required=False), workspace_id, state=state)
    if as_json:
        print_json(found)
        return
    for item in found:
        out.print(_approval_line(item), highlight=False)


def _decide(approval_id: str, approve: bool, note: str | None, token_stdin: bool) -> None:
    """Approve or refuse as the person whose token is given, and print the request as it now stands."""
    rt = runtime()
    out.print(
        _approval_line(approvals.decide(_person(rt, token_stdin), approval_id, approve=approve, note=note)),
        highlight=False,
    )


@approval_app.command("approve")
def approval_approve(approval_id: str, note: Note = None, token_stdin: TokenStdin = False):
    """Approve another person's request (you hold the same authority and did not make it)."""
    _decide(approval_id, True, note, token_stdin)


@approval_app.command("refuse")
def approval_refuse(approval_id: str, note: Note = None, token_stdin: TokenStdin = False):
    """Refuse another person's request."""
    _decide(approval_id, False, note, token_stdin)
