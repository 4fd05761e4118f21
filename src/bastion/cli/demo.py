"""``bastion demo``: a ready demo on this data directory, its logins printed, then served."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._output import out
from ._runtime import runtime
from .serve import serve
from ..demo import LOGINS_FILE, setup_demo


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up the demo data only.")] = False,
):
    """Set up (idempotently) demo workspaces with people and projects, then serve it.

    Demo Lab has a project of each task type; Northwind Models and Contoso AI are two competing
    clients behind a wall, and Ana annotates for both. The logins are printed and kept in
    demo-logins.txt (mode 0600) in the data directory."""
    rt = runtime(migrate_schema="always")
    logins = setup_demo(rt)
    url = f"http://{host}:{port}/"
    table = Table(title="Demo logins", show_lines=False)
    for col in ("e-mail", "password", "works as"):
        table.add_column(col)
    for login in logins:
        table.add_row(login.email, login.password, login.role)
    out.print(table)
    out.print(f"The logins are kept in {rt.settings.data_dir / LOGINS_FILE} (readable by you alone).")
    out.print(
        "Ana annotates for two competing clients (Northwind Models, Contoso AI): once she has worked "
        "for one, the other is walled off for her."
    )
    out.print(f"Open {url} and sign in.")
    if not no_serve:
        serve(host=host, port=port, workers=1)
