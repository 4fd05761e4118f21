"""``bastion user …`` and ``bastion token …``: people and their API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import _json
from ._options import AsJson
from ._output import listing, out, print_json, print_table, when
from ._runtime import context, runtime, user_id
from ..services import users

user_app = typer.Typer(help="People.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    email: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make a platform admin.")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    as_json: AsJson = False,
):
    """Create a person (without --password-stdin they sign in only with API tokens)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    rt = runtime()
    user = users.create_user(context(rt), email, name=name, password=password, is_admin=admin)
    if as_json:
        print_json(_json.user(user))
    else:
        out.print(user.id)


@user_app.command("set-password")
def user_set_password(email: str):
    """Set a person's password from stdin; ends all their browser sessions."""
    ctx = context(runtime())
    users.set_password(ctx, user_id(ctx, email), sys.stdin.readline().rstrip("\n"))
    out.print(f"password of {email} changed; their sessions ended")


@user_app.command("list")
def user_list(as_json: AsJson = False):
    """List people."""
    found = users.list_users(context(runtime()))
    if as_json:
        print_json([_json.user(user) for user in found])
        return
    table = listing("id", "e-mail", "name", "admin", "active")
    for user in found:
        table.add_row(user.id, user.email, user.name, "yes" if user.is_admin else "", "" if user.is_active else "no")
    print_table(table)


@user_app.command("deactivate")
def user_deactivate(email: str):
    """Deactivate a person: their sessions end, their tokens are revoked, their leases return to the pool,
    and every request they make from now on is refused. Their history stays."""
    ctx = context(runtime())
    changed = users.deactivate_user(ctx, user_id(ctx, email), via="cli")
    out.print(f"{email} deactivated" if changed else f"{email} was already deactivated")


@user_app.command("activate")
def user_activate(email: str):
    """Reactivate a deactivated person (they sign in afresh: old sessions and tokens stay dead)."""
    ctx = context(runtime())
    changed = users.activate_user(ctx, user_id(ctx, email), via="cli")
    out.print(f"{email} activated" if changed else f"{email} was already active")


@token_app.command("create")
def token_create(
    email: str,
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "",
    scope: Annotated[str, typer.Option(help="full or read.")] = "full",
    as_json: AsJson = False,
):
    """Create an API token for a person; prints the token alone (it is shown only once)."""
    ctx = context(runtime())
    secret, token = users.create_token(ctx, user_id(ctx, email), name=name, scope=scope)
    if as_json:
        print_json({**_json.token(token), "token": secret})
    else:
        print(secret)


@token_app.command("list")
def token_list(email: str, as_json: AsJson = False):
    """List a person's tokens."""
    ctx = context(runtime())
    found = users.list_tokens(ctx, user_id(ctx, email))
    if as_json:
        print_json([_json.token(t) for t in found])
        return
    table = listing("id", "name", "scope", "created", "last used", "revoked")
    for t in found:
        table.add_row(t.id, t.name, t.scope, when(t.created_at), when(t.last_used_at), when(t.revoked_at))
    print_table(table)


@token_app.command("revoke")
def token_revoke(token_id: str):
    """Revoke a token by its id."""
    users.revoke_token(context(runtime()), token_id)
    out.print(f"revoked {token_id}")
