"""A person's own annotations: the list (with the answers to their questions) and one changed in its
widget. Undo and asking a question are on the labelling page (pages/projects.py); the managers'
list of questions is pages/questions.py."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import InvalidAnswer
from ...services import own_annotations, projects, questions

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
PAGE = 50


def preview_of(data: Any, limit: int = 120) -> str:
    """The first text of a task's data, on one line and shortened (a list shows one line per task)."""
    texts = [v for v in data.values() if isinstance(v, str) and v.strip()] if isinstance(data, dict) else []
    text = " ".join((texts[0] if texts else str(data)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(ms: int | None) -> str:
    """A time for people: the date and minute, UTC."""
    return "" if ms is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


@router.get("/projects/{project_id}/mine")
def my_annotations_page(
    request: Request,
    project_id: str,
    session: Session,
    cursor: str | None = Query(None, max_length=60),
    edited: str | None = Query(None, max_length=60),
):
    """Your annotations in this project, newest first, with their review and the answers to your questions."""
    ctx, csrf = session
    page = own_annotations.my_annotations(ctx, project_id, cursor=cursor, limit=PAGE)
    asked = questions.my_questions(ctx, project_id)
    project = projects.project_for_work(ctx, project_id, Action.TASK_WORK)
    rows = [{**item, "preview": preview_of(item["data"]), "when": when(item["created_at"])} for item in page["items"]]
    return render(
        request,
        "mine.html",
        project=project,
        rows=rows,
        cursor=cursor,
        next_cursor=page["next_cursor"],
        asked=[{**q, "when": when(q["created_at"]), "answered_when": when(q["answered_at"])} for q in asked],
        unseen=sum(1 for q in asked if q["state"] == "answered" and q["seen_at"] is None),
        edited=edited,
        csrf_token=csrf,
    )


@router.post("/projects/{project_id}/mine/read")
def mark_read(request: Request, project_id: str, session: Session, csrf_token: str = Form("", max_length=200)):
    """You have read the answers to your questions: the notice on the labelling page goes."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    questions.mark_answers_read(ctx, project_id)
    return RedirectResponse(f"/projects/{project_id}/mine#my-questions", status_code=303)


def _edit_page(request: Request, ctx, csrf: str, project_id: str, annotation_id: str, error=None, status=200):
    shown = own_annotations.annotation_to_edit(ctx, project_id, annotation_id)
    return render(
        request,
        "edit.html",
        status_code=status,
        project=shown.project,
        config=shown.config,
        task=shown.task,
        annotation=shown.annotation,
        widget=shown.widget,
        widget_script=shown.widget_script,
        view=shown.widget_context,
        overlay=shown.overlay,
        shown=shown.shown,
        error=error,
        csrf_token=csrf,
    )


@router.get("/projects/{project_id}/mine/{annotation_id}/edit")
def edit_page(request: Request, project_id: str, annotation_id: str, session: Session):
    """One of your annotations in the task type's widget, to change until it is reviewed (nothing changes here)."""
    ctx, csrf = session
    return _edit_page(request, ctx, csrf, project_id, annotation_id)


@router.post("/projects/{project_id}/mine/{annotation_id}/edit")
async def save_edit(request: Request, project_id: str, annotation_id: str, session: Session):
    """Save the changed annotation (a new version; the old result is kept)."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))

    def work():
        project = projects.project_for_work(ctx, project_id, Action.TASK_WORK)
        tt = ctx.rt.task_types.get(project.task_type)
        try:
            result = tt.result_from_form(tt.parse_config(project.config), form)
            own_annotations.edit_annotation(ctx, project_id, annotation_id, result)
        except InvalidAnswer as exc:
            return _edit_page(request, ctx, csrf, project_id, annotation_id, exc.message, 422)
        return RedirectResponse(f"/projects/{project_id}/mine?edited={annotation_id}", status_code=303)

    return await run_in_threadpool(work)
