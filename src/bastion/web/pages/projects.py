"""Project pages: overview with counts, import by upload, export links, and labelling (the data browser:
``pages/browse.py``)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ..uploads import read_upload
from ...access import Action, FirstAccessRequired
from ...domain.errors import BastionError, InvalidAnswer, InvalidInput
from ...services import annotations as annotations_service
from ...services import imports, labelling, projects, qualification, queue, workspaces
from ...sources import detect_format, iter_bytes

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _project_page(request: Request, ctx, csrf: str, project_id: str, report=None, error=None, status=200):
    project = projects.get_project(ctx, project_id)
    allowed = workspaces.allowed_actions(ctx, project.workspace_id)
    results = qualification.results(ctx, project_id) if project.settings.qualification else None
    return render(
        request,
        "project.html",
        status_code=status,
        project=project,
        allowed=allowed,
        Action=Action,
        csrf_token=csrf,
        report=report,
        error=error,
        qualification_results=results,
    )


@router.get("/projects/{project_id}")
def project_page(request: Request, project_id: str, session: Session):
    ctx, csrf = session
    return _project_page(request, ctx, csrf, project_id)


@router.post("/projects/{project_id}/import")
async def import_upload(request: Request, project_id: str, session: Session):
    # The file is read into memory by read_upload, never spooled to disk (an UploadFile or Form
    # parameter would spool parts over 1 MiB to a temporary file, in clear): see web/uploads.py.
    ctx, csrf = session
    upload = await read_upload(request, "file", request.app.state.rt.settings.max_body_bytes)
    require_form_csrf(csrf, upload.fields.get("csrf_token", ""))
    body, strict = upload.content, upload.flag("strict")
    fmt = detect_format(upload.filename or "upload.jsonl")
    try:
        report = await run_in_threadpool(
            imports.import_tasks, ctx, project_id, lambda: iter_bytes(body, fmt), strict=strict
        )
    except InvalidInput as exc:
        return await run_in_threadpool(_project_page, request, ctx, csrf, project_id, None, exc.message, 422)
    return await run_in_threadpool(_project_page, request, ctx, csrf, project_id, report)


# -- labelling ---------------------------------------------------------------
#
# GET /projects/{p}/label shows, and changes nothing: the task the person holds, or a
# Start button. A link from another site opens it with the session cookie, so it must
# not lease (a lease binds the person to this client). Leasing is a form POST with the
# CSRF token: Start (POST …/next), and each submit or skip, which leases the next task
# (htmx swaps it in; without script, a 303 back to the GET shows it).


def _label_view(
    request: Request,
    ctx,
    csrf: str,
    project_id: str,
    *,
    lease: bool,
    error: str | None = None,
    status: int = 200,
    finished: bool = False,
):
    """The labelling view. ``lease``: in a POST, lease (or renew) the next task; else show what is held."""
    try:
        # Leasing binds on a first access (a POST); showing what is held never does.
        shown = labelling.labelling_view(ctx, project_id, lease=lease)
    except FirstAccessRequired:
        if lease:
            raise
        # Not opened yet: the name and the Start button only (Start binds, deliberately).
        return render(
            request,
            "label.html",
            status_code=status,
            project=projects.get_project_summary(ctx, project_id),
            config=None,
            task=None,
            finished=False,
            csrf_token=csrf,
            error=error,
            first_access=True,
            widget=None,
            widget_script=None,
            view={},
            shown_at=0,
            overlay=None,
        )
    context = dict(
        project=shown.project,
        config=shown.config,
        task=shown.task,
        csrf_token=csrf,
        error=error,
        finished=lease or finished,
        first_access=False,
        widget=shown.widget,
        widget_script=shown.widget_script,
        view=shown.widget_context,
        shown_at=int(time.time() * 1000),
        overlay=shown.overlay,
    )
    name = "_task.html" if request.headers.get("hx-request") else "label.html"
    return render(request, name, status_code=status, **context)


@router.get("/projects/{project_id}/label")
def label_page(request: Request, project_id: str, session: Session, finished: bool = False):
    """The task you hold in this project, or a Start button (read-only: nothing is leased or bound).

    ``finished``: the last submit found nothing more for you (says "All done" instead of Start).
    """
    ctx, csrf = session
    return _label_view(request, ctx, csrf, project_id, lease=False, finished=finished)


@router.post("/projects/{project_id}/next")
def start_labelling(request: Request, project_id: str, session: Session, csrf_token: str = Form("", max_length=200)):
    """Start: lease your next task (the first one binds you to this client), then show it."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    return _after_post(request, ctx, csrf, project_id)


def _after_post(request: Request, ctx, csrf, project_id: str, error: str | None = None):
    if request.headers.get("hx-request"):
        return _label_view(request, ctx, csrf, project_id, lease=True, error=error, status=200)
    if error:
        return _label_view(request, ctx, csrf, project_id, lease=True, error=error, status=422)
    leased = queue.next_task(ctx, project_id)  # lease the next one here, in the POST; the GET only shows it
    return RedirectResponse(f"/projects/{project_id}/label" + ("" if leased else "?finished=1"), status_code=303)


def _lead_time(form: FormData) -> int | None:
    try:
        shown = int(str(form.get("shown_at", "")))
    except ValueError:
        return None
    return max(0, min(int(time.time() * 1000) - shown, annotations_service.MAX_LEAD_TIME_MS))


@router.post("/projects/{project_id}/label")
async def submit_label(request: Request, project_id: str, session: Session):
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    task_id = str(form.get("task_id", ""))

    def work():
        project = projects.project_for_work(ctx, project_id, Action.TASK_WORK)
        tt = ctx.rt.task_types.get(project.task_type)
        config = tt.parse_config(project.config)
        try:
            result = tt.result_from_form(config, form)
            annotations_service.submit_annotation(ctx, task_id, result, lead_time_ms=_lead_time(form))
        except InvalidAnswer as exc:
            return _after_post(request, ctx, csrf, project_id, error=exc.message)
        except BastionError as exc:
            if exc.code in ("conflict",):
                return _after_post(request, ctx, csrf, project_id, error=exc.message)
            raise
        return _after_post(request, ctx, csrf, project_id)

    return await run_in_threadpool(work)


@router.post("/projects/{project_id}/skip")
def skip(
    request: Request,
    project_id: str,
    session: Session,
    task_id: str = Form(..., max_length=60),
    csrf_token: str = Form("", max_length=200),
):
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    queue.skip_task(ctx, task_id)
    return _after_post(request, ctx, csrf, project_id)
