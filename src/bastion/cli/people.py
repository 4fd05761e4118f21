"""``bastion person …`` and ``bastion skills …``: people's affiliations, history and skills."""

from __future__ import annotations

from typing import Annotated

import typer

from ._choices import affiliation_kinds, option_of
from ._input import date_ms
from ._output import listing, out, print_table, when
from ._runtime import context, runtime
from ..services import workforce

person_app = typer.Typer(help="People's affiliations and history.", no_args_is_help=True)
skills_app = typer.Typer(help="Skills.", no_args_is_help=True)


@person_app.command("affiliate")
def person_affiliate(
    email: str,
    org: str,
    kind: Annotated[str, option_of(affiliation_kinds, help=f"One of: {', '.join(affiliation_kinds())}.")],
    since: Annotated[str | None, typer.Option(help="Start date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="End date (YYYY-MM-DD).")] = None,
):
    """Record a person's tie to an organisation; workspaces that exclude it lose them at once."""
    result = workforce.add_affiliation(
        context(runtime()), email, org, kind, since=date_ms(since, "--since"), until=date_ms(until, "--until")
    )
    out.print(f"{email}: {kind} of {org}; {result['released_leases']} open lease(s) ended")


@person_app.command("show")
def person_show(email: str):
    """A person's history, affiliations and skills."""
    ctx = context(runtime())
    table = listing("history: workspace", "source", "since", "last access", ids=("history: workspace",))
    for h in workforce.history(ctx, email):
        table.add_row(h["workspace_id"], h["source"], when(h["first_at"]), when(h["last_at"]))
    print_table(table)
    table = listing("affiliation", "kind", "since", "until")
    for a in workforce.list_affiliations(ctx, email):
        table.add_row(a["org"], a["kind"], when(a["since"]), when(a["until"]))
    print_table(table)
    table = listing("skill", "level", "source")
    for sk in workforce.list_skills(ctx, email):
        table.add_row(sk["skill"], str(sk["level"]), sk["source"])
    print_table(table)


@skills_app.command("grant")
def skills_grant(email: str, skill: str):
    """Grant a skill, like history:3."""
    granted = workforce.grant_skill(context(runtime()), email, skill)
    out.print(f"{email}: {granted['skill']} level {granted['level']}")


@skills_app.command("revoke")
def skills_revoke(email: str, skill: str):
    """Take a skill away."""
    workforce.revoke_skill(context(runtime()), email, skill)
    out.print(f"{email}: {skill} revoked")
