"""The ASGI application: JSON API under /api/v1, server-rendered pages, static files."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from .. import __version__
from ..services.runtime import Runtime
from ..settings import Settings
from . import errors
from .api import annotations, audit, files, people, projects, tasks, workspaces
from .auth import LoginRequired
from .middleware import LimitsMiddleware
from .pages import routes as pages
from .pages.common import STATIC_DIR

API_PREFIX = "/api/v1"


def create_app(rt: Runtime | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app around a runtime (opened from settings when not given)."""
    if rt is None:
        rt = Runtime.open(settings or Settings())
    app = FastAPI(
        title="Bastion",
        version=__version__,
        description="Self-hosted human-data platform: labelling behind encryption, walls and a verifiable audit log.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.rt = rt
    errors.install(app)

    @app.exception_handler(LoginRequired)
    async def _login(request, exc):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    for module in (workspaces, projects, tasks, annotations, people, audit, files):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(pages.router)

    @app.get("/healthz", tags=["health"])
    def healthz():
        """Liveness: the process answers and the database is reachable."""
        with rt.db.transaction(write=False) as tx:
            tx.conn.exec_driver_sql("SELECT 1")
        return Response(b'{"status":"ok"}', media_type="application/json")

    # Task types' folders first: the /static mount would otherwise answer their paths.
    for tt in rt.task_types:
        app.mount(f"/static/tasktypes/{tt.name}", StaticFiles(directory=tt.static_dir), name=f"tt-{tt.name}")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(LimitsMiddleware, max_body_bytes=rt.settings.max_body_bytes)
    logging.getLogger("bastion").setLevel(rt.settings.log_level.upper())
    return app
