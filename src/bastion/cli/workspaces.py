"""``bastion workspace …`` and ``bastion member …``: workspaces and the people in them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._options import Approval
from ._output import out, when
from ._runtime import context, runtime
from ..domain.errors import BastionError
from ..services import workspaces

workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
member_app = typer.Typer(help="Workspace members.", no_args_is_help=True)


@workspace_app.command("create")
def workspace_create(
    name: str,
    owner: Annotated[str | None, typer.Option(help="Owner's e-mail.")] = None,
):
    """Create a workspace; prints its id."""
    out.print(workspaces.create_workspace(context(runtime()), name, owner=owner).id)


@workspace_app.command("list")
def workspace_list():
    """List workspaces."""
    table = Table("id", "name", "created")
    for ws in workspaces.list_workspaces(context(runtime())):
        table.add_row(ws.id, ws.name, when(ws.created_at))
    out.print(table)


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
    role: Annotated[str, typer.Option(help="owner, manager, reviewer, annotator or auditor.")],
    approval: Approval = None,
):
    """Add a person to a workspace with a role (or change their role)."""
    member = workspaces.add_member(context(runtime()), workspace_id, email, role, approval=approval)
    out.print(f"{member.email} is {member.role.value} of {workspace_id}")
