"""``bastion workspace …`` and ``bastion member …``: workspaces and the people in them."""

from __future__ import annotations

from typing import Annotated

import typer

from . import _json
from ._choices import option_of, roles
from ._options import Approval, AsJson
from ._output import listing, out, print_json, print_table, when
from ._runtime import context, runtime
from ..domain.errors import BastionError
from ..services import workspaces

workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
member_app = typer.Typer(help="Workspace members.", no_args_is_help=True)


@workspace_app.command("create")
def workspace_create(
    name: str,
    owner: Annotated[str | None, typer.Option(help="Owner's e-mail.")] = None,
    as_json: AsJson = False,
):
    """Create a workspace; prints its id."""
    workspace = workspaces.create_workspace(context(runtime()), name, owner=owner)
    if as_json:
        print_json(_json.workspace(workspace))
    else:
        out.print(workspace.id)


@workspace_app.command("list")
def workspace_list(as_json: AsJson = False):
    """List workspaces."""
    found = workspaces.list_workspaces(context(runtime()))
    if as_json:
        print_json([_json.workspace(ws) for ws in found])
        return
    table = listing("id", "name", "created")
    for ws in found:
        table.add_row(ws.id, ws.name, when(ws.created_at))
    print_table(table)


@workspace_app.command("delete")
def workspace_delete(
    workspace_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this destroys the data for good.")] = False,
    approval: Approval = None,
):
    """Delete a workspace and crypto-shred its data."""
    if not yes:
        raise BastionError("deleting a workspace destroys its data for good; add --yes to confirm")
    keys = workspaces.delete_workspace(context(runtime()), workspace_id, approval=approval)
    out.print(f"deleted {workspace_id}; {keys} data key(s) destroyed")


@member_app.command("add")
def member_add(
    workspace_id: str,
    email: str,
    role: Annotated[str, option_of(roles, help=f"One of: {', '.join(roles())}.")],
    approval: Approval = None,
    as_json: AsJson = False,
):
    """Add a person to a workspace with a role (or change their role)."""
    member = workspaces.add_member(context(runtime()), workspace_id, email, role, approval=approval)
    if as_json:
        print_json(_json.member(member))
    else:
        out.print(f"{member.email} is {member.role.value} of {workspace_id}")
