"""``bastion credential …``: people's NDAs, clearances and certificates, as the local operator
(docs/workforce.md, "Credentials"), and the reminder sweep for cron."""

from __future__ import annotations

from typing import Annotated

import typer

from ._input import date_ms
from ._options import AsJson
from ._output import listing, out, print_json, print_table, when
from ._runtime import context, runtime
from ..domain.errors import InvalidInput
from ..services import credentials

credential_app = typer.Typer(help="People's credentials: NDAs, clearances, certificates.", no_args_is_help=True)


@credential_app.command("add")
def credential_add(
    person: Annotated[str, typer.Argument(help="The person's e-mail address or user id.")],
    kind: Annotated[str, typer.Option("--kind", help="nda, clearance, certificate or another lower-case word.")],
    name: Annotated[str, typer.Option("--name", help="What it is: 'Acme NDA 2026'.")],
    issuer: Annotated[str, typer.Option("--issuer", help="Who issued it.")],
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="The workspace it counts in (else give --all).")
    ] = None,
    everywhere: Annotated[bool, typer.Option("--all", help="It counts in every workspace.")] = False,
    issued: Annotated[str | None, typer.Option("--issued", help="Valid from (YYYY-MM-DD); default: now.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Expires on (YYYY-MM-DD); default: never.")] = None,
    document: Annotated[
        str | None, typer.Option("--document", help="A reference to the signed document (an id or a link).")
    ] = None,
    as_json: AsJson = False,
):
    """Record a person's credential for one workspace (--workspace) or every workspace (--all)."""
    if (workspace is None) == (not everywhere):
        raise InvalidInput("give either --workspace WORKSPACE_ID or --all")
    made = credentials.add_credential(
        context(runtime()),
        person,
        kind=kind,
        name=name,
        issuer=issuer,
        workspace_id=workspace,
        issued_at=date_ms(issued, "--issued"),
        expires_at=date_ms(expires, "--expires"),
        document=document,
    )
    if as_json:
        print_json(made)
        return
    scope = made["workspace_id"] or "every workspace"
    out.print(
        f"{made['id']}: {made['kind']} {made['name']!r} for {person} in {scope}, expires {when(made['expires_at']) or 'never'}"
    )


@credential_app.command("list")
def credential_list(
    workspace: Annotated[str | None, typer.Option("--workspace", help="Those that count in this workspace.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Only this person's (e-mail or id).")] = None,
    as_json: AsJson = False,
):
    """Credentials that count in a workspace (its members'), or every credential of a person."""
    ctx = context(runtime())
    if workspace is not None:
        rows = credentials.list_credentials(ctx, workspace, person)
    elif person is not None:
        rows = credentials.person_credentials(ctx, person)
    else:
        raise InvalidInput("give --workspace WORKSPACE_ID, --person EMAIL, or both")
    if as_json:
        print_json(rows)
        return
    table = listing("id", "person", "kind", "name", "issuer", "scope", "expires", "state", ids=("id", "person"))
    for row in rows:
        table.add_row(
            row["id"],
            row.get("email") or row["user_id"],
            row["kind"],
            row["name"],
            row["issuer"],
            row["workspace_id"] or "all",
            when(row["expires_at"]),
            row["state"],
        )
    print_table(table)


@credential_app.command("revoke")
def credential_revoke(credential_id: str):
    """Revoke a credential now; the person's leases in the projects it covered end."""
    done = credentials.revoke_credential(context(runtime()), credential_id)
    out.print(f"revoked {credential_id}; {done['released_leases']} open lease(s) ended")


@credential_app.command("remind")
def credential_remind(as_json: AsJson = False):
    """Announce what is due now (credential.expiring, credential.expired; each once) and end the leases
    of expired credentials — what job runners do every BASTION_CREDENTIAL_SWEEP_SECONDS."""
    counts = credentials.sweep(context(runtime()))
    if as_json:
        print_json(counts)
        return
    out.print(
        f"{counts['expiring']} expiring, {counts['expired']} expired announced; "
        f"{counts['released_leases']} lease(s) ended"
    )
