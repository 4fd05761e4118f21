"""``bastion init``: the database schema, the keyring and the master key."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from ._output import out
from ._runtime import runtime
from ..services.runtime import grant_data_access


def init(
    app_role: Annotated[
        str | None,
        typer.Option(
            "--app-role",
            help="PostgreSQL: grant data access to this role, which the server then connects as (row-level security applies to it).",
        ),
    ] = None,
):
    """Create or upgrade the database schema, the keyring and the master key."""
    rt = runtime(migrate_schema="always")
    if app_role:
        grant_data_access(rt, app_role)
        out.print(f"granted data access to role {app_role}")
    out.print(f"database ready: {_redact(rt.db.url)}")
    out.print(f"keyring: {_redact(rt.keyring.url)} (provider: {rt.keyring.provider.name})")


def _redact(url: str) -> str:
    """A database or keyring URL with its password hidden, for printing."""
    return make_url(url).render_as_string(hide_password=True)
