"""The workspace's jobs page: long work, its progress (refreshed by htmx while a job is active), cancel and retry.

One service call per action (services/jobs.py decides who sees which job); the table is a
fragment that the page polls (the same URL, asked by htmx) every two seconds while a job is
queued or running, and stops polling once none is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...domain.errors import BastionError
from ...services import jobs, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]

POLL_SECONDS = 2


def _table(ctx, workspace_id: str) -> dict:
    items = jobs.list_jobs(ctx, workspace_id, limit=100)
    return {"jobs": items, "active": any(j["state"] in ("queued", "running") for j in items)}


def _page(request, ctx, csrf, workspace_id, *, error=None, status=200):
    ws = workspaces.get_workspace(ctx, workspace_id)
    return render(
        request,
        "jobs.html",
        status_code=status,
        ws=ws,
        csrf_token=csrf,
        error=error,
        poll_seconds=POLL_SECONDS,
        **_table(ctx, workspace_id),
    )


@router.get("/workspaces/{workspace_id}/jobs")
def jobs_page(request: Request, workspace_id: str, session: Session):
    """The page; htmx's polls get the table alone (a link or a bookmark opens the page)."""
    ctx, csrf = session
    if not request.headers.get("hx-request"):
        return _page(request, ctx, csrf, workspace_id)
    workspaces.get_workspace(ctx, workspace_id)
    return render(
        request,
        "_jobs_table.html",
        ws_id=workspace_id,
        csrf_token=csrf,
        poll_seconds=POLL_SECONDS,
        **_table(ctx, workspace_id),
    )


@router.post("/workspaces/{workspace_id}/jobs")
async def jobs_change(request: Request, workspace_id: str, session: Session):
    """Cancel or retry one job (``action`` and ``job`` from the form), or start a project's reindex
    (``action=reindex``, ``project``: the data browser's button when its index lacks tasks)."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))
    job_id = str(form.get("job", ""))

    def work():
        workspaces.get_workspace(ctx, workspace_id)  # 404 here for a workspace you are not in
        try:
            if action == "cancel":
                jobs.cancel(ctx, job_id)
            elif action == "retry":
                jobs.retry(ctx, job_id)
            elif action == "reindex":
                jobs.submit(ctx, workspace_id, "search.reindex", {"project_id": str(form.get("project", ""))})
            else:
                return _page(request, ctx, csrf, workspace_id, error=f"unknown action {action!r}", status=422)
        except BastionError as exc:
            status = {"forbidden": 403, "not_found": 404, "conflict": 409}.get(exc.code, 422)
            return _page(request, ctx, csrf, workspace_id, error=exc.message, status=status)
        return RedirectResponse(f"/workspaces/{workspace_id}/jobs", status_code=303)

    return await run_in_threadpool(work)
