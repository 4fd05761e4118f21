"""The ASGI application: JSON API under /api/v1, server-rendered pages, static files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import errors, health, openapi
from .api import annotations as annotations_api
from .api import (
    approvals,
    audit,
    dashboard,
    files,
    jobs,
    leaks,
    model_endpoints,
    pay,
    people,
    projects,
    quality,
    tasks,
    webhooks,
    workforce,
    working_time,
    workspaces,
)
from .api import credentials as credentials_api
from .api import guidelines as guidelines_api
from .api import own_annotations as own_annotations_api
from .api.common import API_PREFIX
from .api.models import HealthOut
from .auth import ConfirmCredentials, LoginRequired
from .inputs import refuse_nul
from .middleware import LimitsMiddleware
from .observability import ObservabilityMiddleware, parse_networks
from .pages import routes as pages
from .pages.common import STATIC_DIR
from .ratelimit import RateLimitMiddleware, open_storage, parse_limits
from .. import __version__
from ..services.runtime import Runtime
from ..settings import Settings

SCIM_PREFIX = "/scim/v2"  # web/scim.py's PREFIX (tests/api/test_scim.py checks they agree)


class _ScimOnFirstUse:
    """The /scim/v2 app, made at its first request: web/scim.py and scim2-models (with Lark, its
    filter grammar: ~8 MB and ~600 modules, docs/benchmarks.md) are loaded only by a server that an
    identity provider provisions. Made in a thread (the import takes a few hundred milliseconds),
    once."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._app: ASGIApp | None = None
        self._making = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            async with self._making:
                if self._app is None:
                    self._app = await run_in_threadpool(self._make)
        await self._app(scope, receive, send)

    def _make(self) -> ASGIApp:
        from .scim import create_scim_app

        return create_scim_app(self.rt)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """Background duties of a server: sign audit checkpoints for logs that grew; on PostgreSQL, fold the
    queued audit entries and feed events (services/_audit_append.py); run jobs
    (``BASTION_JOB_WORKERS`` runner threads, services/job_runner.py)."""
    rt = app.state.rt
    stop = threading.Event()

    def sign_periodically() -> None:
        from ..services.audit import sign_pending_checkpoints

        while not stop.wait(rt.settings.checkpoint_seconds):
            try:
                sign_pending_checkpoints(rt)
            except Exception:  # a database blip must not kill the timer
                logging.getLogger("bastion.audit").exception("signing checkpoints failed")

    def fold_periodically() -> None:
        from ..services.audit import fold_apart

        while not stop.wait(rt.settings.audit_fold_ms / 1000):
            try:
                fold_apart(rt, wait=False)  # a log being folded is left to that fold
            except Exception:  # a database blip must not kill the folder
                logging.getLogger("bastion.audit").exception("folding the audit queues failed")

    threads = []
    if rt.settings.checkpoint_seconds > 0:
        threads.append(threading.Thread(target=sign_periodically, name="bastion-checkpoints", daemon=True))
    if rt.settings.audit_fold_ms > 0 and not rt.db.is_sqlite:
        threads.append(threading.Thread(target=fold_periodically, name="bastion-audit-folder", daemon=True))
    for thread in threads:
        thread.start()
    runners = None
    if rt.settings.job_workers > 0:
        from ..services.job_runner import RunnerThreads

        runners = RunnerThreads(rt, rt.settings.job_workers)
        runners.start()
    try:
        yield
    finally:
        stop.set()
        if runners is not None:
            runners.stop()  # each finishes or releases its current chunk
        for thread in threads:
            thread.join(5)


def create_app(rt: Runtime | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app around a runtime (opened from settings when not given)."""
    if rt is None:
        rt = Runtime.open(settings or Settings())
    app = FastAPI(
        lifespan=_lifespan,
        title="Bastion",
        version=__version__,
        description="Self-hosted human-data platform: labelling behind encryption, walls and a verifiable audit log.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],  # no NUL in path, query or form fields (web/inputs.py)
        generate_unique_id_function=openapi.operation_id,  # tasks_import, projects_create, … (web/openapi.py)
    )
    app.state.rt = rt
    errors.install(app)

    @app.exception_handler(LoginRequired)
    async def _login(request, exc):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    for module in (
        workspaces,
        projects,
        tasks,
        annotations_api,
        own_annotations_api,
        people,
        audit,
        files,
        workforce,
        dashboard,
        quality,
        leaks,
        approvals,
        model_endpoints,
        jobs,
        webhooks,
        guidelines_api,
        working_time,
        pay,
        credentials_api,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    openapi.install(app)  # bearer security, Location headers, the import line's model
    projects.describe_export_formats(app, rt)  # the formats registered here, plugins' included
    app.include_router(pages.router)

    @app.get("/healthz", tags=["health"], operation_id="health_check", response_model=HealthOut)
    def healthz():
        """Liveness: the process answers and the database is reachable."""
        with rt.db.transaction(write=False) as tx:
            tx.conn.exec_driver_sql("SELECT 1")
        return Response(b'{"status":"ok"}', media_type="application/json")

    app.mount(SCIM_PREFIX, _ScimOnFirstUse(rt))  # SCIM 2.0 provisioning, answered as SCIM (web/scim.py)
    health.install(app, rt)  # /readyz and /metrics (web/health.py)

    # Task types' folders first: the /static mount would otherwise answer their paths.
    for tt in rt.task_types:
        app.mount(f"/static/tasktypes/{tt.name}", StaticFiles(directory=tt.static_dir), name=f"tt-{tt.name}")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Outermost last: request id, client address and timing see every answer, 413 and 429 included.
    s = rt.settings
    parse_networks(s.trusted_proxies)  # bad settings stop the start, not the first request
    app.add_middleware(ConfirmCredentials)  # innermost: sees every answer the handlers and error handlers make
    if parse_limits("rate_limit_token", s.rate_limit_token) or parse_limits("rate_limit_address", s.rate_limit_address):
        app.add_middleware(
            RateLimitMiddleware,
            per_token=s.rate_limit_token,
            per_address=s.rate_limit_address,
            storage=open_storage(s.rate_limit_storage),
        )
    app.add_middleware(LimitsMiddleware, max_body_bytes=s.max_body_bytes, form_origins=lambda: rt.oidc.form_origins())
    app.add_middleware(ObservabilityMiddleware, trusted_proxies=s.trusted_proxies, log_requests=s.access_log)
    logging.getLogger("bastion").setLevel(rt.settings.log_level.upper())
    return app
