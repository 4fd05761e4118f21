"""``bastion walls …``: conflict-of-interest walls between workspaces, and the people they bind."""

from __future__ import annotations

from typing import Annotated

import typer

from ._choices import affiliation_kinds, option_of
from ._input import date_ms
from ._options import Approval
from ._output import out, when
from ._runtime import context, runtime
from ..domain.errors import Conflict
from ..services import workforce

walls_app = typer.Typer(help="Conflict-of-interest walls.", no_args_is_help=True)


@walls_app.command("add-conflict")
def walls_add_conflict(
    workspace_id: str,
    competitor_id: str,
    cooling_off_days: Annotated[
        float | None,
        typer.Option("--cooling-off-days", help="Days after the last access before the wall lifts (default: never)."),
    ] = None,
):
    """Declare that two workspaces compete: nobody who saw one's data may see the other's."""
    result = workforce.add_conflict(context(runtime()), workspace_id, competitor_id, cooling_off_days=cooling_off_days)
    out.print(f"conflict {workspace_id} ⟷ {competitor_id} " + ("added" if result["added"] else "already declared"))


def _withdrawal(result: dict) -> str:
    """One line for a scheduled withdrawal of a wall: who, from whom, when, who still holds it."""
    held = f"; still held by {', '.join(result['other_holders'])}" if result["other_holders"] else ""
    return f"{result['holder']} withdraws its wall with {result['competitor']}, effective {when(result['effective_at'])}{held}"


@walls_app.command("remove-conflict")
def walls_remove_conflict(workspace_id: str, competitor_id: str, approval: Approval = None):
    """Withdraw WORKSPACE_ID's declared wall: it falls after the waiting period, unless another holder keeps it."""
    result = workforce.remove_conflict(context(runtime()), workspace_id, competitor_id, approval=approval)
    out.print(_withdrawal(result))


@walls_app.command("consent")
def walls_consent(workspace_id: str, competitor_id: str):
    """WORKSPACE_ID agrees to COMPETITOR_ID's scheduled withdrawal: it takes effect now."""
    result = workforce.consent_removal(context(runtime()), workspace_id, competitor_id)
    out.print(_withdrawal({**result, "competitor": workspace_id}))


@walls_app.command("ungroup")
def walls_ungroup(group: str, workspace_id: str, approval: Approval = None):
    """Take a workspace out of a sector group: its walls with the group fall after the waiting period."""
    result = workforce.remove_from_group(context(runtime()), group, workspace_id, approval=approval)
    out.print(f"{workspace_id} left group {result['group']}")
    for item in result["withdrawn"]:
        out.print(_withdrawal(item))


@walls_app.command("delete-group")
def walls_delete_group(group: str):
    """Delete an empty sector group."""
    workforce.delete_group(context(runtime()), group)
    out.print(f"group {group!r} deleted")


@walls_app.command("group")
def walls_group(
    name: str,
    workspace_ids: Annotated[list[str], typer.Argument(help="Workspaces of the sector group.")],
    cooling_off_days: Annotated[
        float | None, typer.Option("--cooling-off-days", help="Days before a wall of this group lifts.")
    ] = None,
):
    """Create (or extend) a sector group: every pair of its workspaces conflicts."""
    ctx = context(runtime())
    try:
        workforce.create_group(ctx, name, cooling_off_days=cooling_off_days)
    except Conflict:
        pass  # extending an existing group
    added = sum(workforce.add_to_group(ctx, name, ws) for ws in workspace_ids)
    out.print(f"group {name!r}: {added} new conflict(s)")


@walls_app.command("exclude")
def walls_exclude(
    workspace_id: str,
    org: str,
    kind: Annotated[
        str | None,
        option_of(affiliation_kinds, help=f"Only this kind of tie ({', '.join(affiliation_kinds())}); default: any."),
    ] = None,
):
    """Exclude everyone affiliated with an organisation from a workspace."""
    released = workforce.add_exclusion(context(runtime()), workspace_id, org, kind)
    out.print(f"{workspace_id} excludes {org}" + (f" ({kind})" if kind else "") + f"; {released} open lease(s) ended")


@walls_app.command("declare")
def walls_declare(
    email: str,
    workspace_id: str,
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who at the client approved binding this person.")],
):
    """Bind a person to one side of a conflict up front (the client's approval is recorded)."""
    workforce.declare_side(context(runtime()), email, workspace_id, approved_by=approved_by)
    out.print(f"{email} is bound to {workspace_id}")


@walls_app.command("prior")
def walls_prior(
    email: str,
    workspace_id: str,
    since: Annotated[str | None, typer.Option(help="Start date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="End date (YYYY-MM-DD); cooling-off counts from here.")] = None,
):
    """Record that a person worked for a client before (it walls them like an access)."""
    workforce.record_prior_employment(
        context(runtime()), email, workspace_id, since=date_ms(since, "--since"), until=date_ms(until, "--until")
    )
    out.print(f"prior work of {email} for {workspace_id} recorded")


@walls_app.command("explain")
def walls_explain(email: str, workspace_id: str):
    """Why a person may or may not see a workspace's data: which edge, which history, since when."""
    result = workforce.explain(context(runtime()), email, workspace_id)
    verdict = "[green]ALLOWED[/green]" if result["allowed"] else "[red]DENIED[/red]"
    out.print(f"{verdict} {result['email']} → {workspace_id} (member: {result['member_role'] or 'no'})")
    for reason in result["reasons"]:
        line = f"  {reason['kind']}: {reason['message']}"
        if "edge" in reason:
            cooling = reason["edge"]["cooling_off_ms"]
            line += (
                f" — edge with {reason['edge']['other_workspace']} ({reason['edge']['source']}, "
                + (f"cooling-off {cooling / 86400000:g} days" if cooling is not None else "never lifts")
                + ")"
            )
        if "history" in reason:
            line += f" — history since {when(reason['history']['first_at'])}, last {when(reason['history']['last_at'])}"
        if "lifts_at" in reason:
            line += f" — lifts at {when(reason['lifts_at'])}"
        out.print(line, highlight=False)
    for other in result["lifted"]:
        out.print(f"  lifted: the wall with {other} has cooled off", highlight=False)
