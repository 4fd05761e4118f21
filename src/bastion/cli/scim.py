"""``bastion scim token …``: the tokens an identity provider provisions people with (SCIM 2.0)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import AsJson
from ._output import listing, out, print_json, print_table, when
from ._runtime import context, runtime
from ..services import scim

scim_app = typer.Typer(help="SCIM 2.0 provisioning (/scim/v2).", no_args_is_help=True)
token_app = typer.Typer(help="SCIM tokens: they call /scim/v2 and nothing else.", no_args_is_help=True)
scim_app.add_typer(token_app, name="token")


def _token(t: scim.ScimToken) -> dict:
    return {
        "id": t.id,
        "name": t.name,
        "created_by": t.created_by,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    }


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by (the identity provider's).")] = "",
    as_json: AsJson = False,
):
    """Create a SCIM token; prints the token alone (it is shown only once). Give it to the identity
    provider with the base URL <public URL>/scim/v2."""
    secret, token = scim.create_token(context(runtime()), name)
    if as_json:
        print_json({**_token(token), "token": secret})
    else:
        print(secret)


@token_app.command("list")
def token_list(as_json: AsJson = False):
    """List SCIM tokens (never their secrets)."""
    found = scim.list_tokens(context(runtime()))
    if as_json:
        print_json([_token(t) for t in found])
        return
    table = listing("id", "name", "created", "last used", "revoked")
    for t in found:
        table.add_row(t.id, t.name, when(t.created_at), when(t.last_used_at), when(t.revoked_at))
    print_table(table)


@token_app.command("revoke")
def token_revoke(token_id: str):
    """Revoke a SCIM token by its id: the identity provider's next request is refused."""
    scim.revoke_token(context(runtime()), token_id)
    out.print(f"revoked {token_id}")
