"""``bastion demo``: a ready demo on this data directory, its logins printed, then served."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._output import out
from ._runtime import runtime
from .serve import serve
from ..demo import setup_demo


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up the demo data only.")] = False,
):
    """Set up (idempotently) a demo workspace with people and projects, then serve it."""
    rt = runtime(migrate_schema="always")
    logins = setup_demo(rt)
    url = f"http://{host}:{port}/"
    table = Table(title="Demo logins", show_lines=False)
    for col in ("role", "e-mail", "password"):
        table.add_column(col)
    for login in logins:
        table.add_row(login.role, login.email, login.password)
    out.print(table)
    out.print(f"Open {url} and sign in.")
    if not no_serve:
        serve(host=host, port=port, workers=1)
