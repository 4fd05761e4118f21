"""``bastion serve``: the web server."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ._output import err, out
from ._runtime import open_runtime, settings
from .. import __version__
from ..logs import logging_config
from ..settings import Settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
):
    """Run the web server (the schema is created on an empty database)."""
    # Deferred: the server's stack loads for serve and demo only, not for every admin command.
    import uvicorn

    s = settings()
    rt = open_runtime(s, migrate_schema="if-empty")
    for warning in rt.db.server_warnings():
        err.print(f"[yellow]warning:[/yellow] {warning}")
    rt.close()
    _export_env(s)
    out.print(f"Bastion {__version__} on http://{host}:{port}/")
    uvicorn.run(
        "bastion.web.asgi:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(s),
    )


def uvicorn_options(s: Settings) -> dict:
    """How every server process logs and what it trusts (tests run uvicorn with the same)."""
    return {
        "log_level": s.log_level,
        # Bastion's own access log (web/observability.py) logs route templates; uvicorn's would log
        # paths with their ids and query strings.
        "access_log": False,
        # X-Forwarded-For is read by web/observability.py, from BASTION_TRUSTED_PROXIES only.
        "proxy_headers": False,
        "log_config": logging_config(s.log_format, s.log_level),
    }


def _export_env(s: Settings) -> None:
    """Hand the data directory and database to the server's processes (they read the environment)."""
    os.environ["BASTION_DATA_DIR"] = str(s.data_dir)
    if s.database_url:
        os.environ["BASTION_DATABASE_URL"] = s.database_url
