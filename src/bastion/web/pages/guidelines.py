"""A project's guidelines (services/guidelines.py): read a version, compare two, acknowledge the one the
queue waits for; owners and managers write a new version and add an answered question to the FAQ.

The reading and comparing pages are the annotators' (translated, web/i18n.py); writing is English.
Every page shows the reader's own variant with the labelling page's overlay.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import Conflict, InvalidInput, NotFound
from ...services import guidelines, projects, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


@router.get("/projects/{project_id}/guidelines")
def guidelines_page(
    request: Request,
    project_id: str,
    session: Session,
    version: int | None = Query(None, ge=1, le=1_000_000_000),
):
    """The guidelines (the newest version, or ``?version=N``), their versions, and what you owe."""
    ctx, csrf = session
    listed = guidelines.list_versions(ctx, project_id)  # the project's people only
    shown = None
    if listed["newest"] is not None:
        shown = guidelines.show_version(ctx, project_id, version)
    elif version is not None:
        raise NotFound(f"version {version} of the guidelines not found")
    project = shown.project if shown else projects.get_project_summary(ctx, project_id)
    allowed = workspaces.allowed_actions(ctx, project.workspace_id)
    return render(
        request,
        "guidelines.html",
        project=project,
        shown=shown,
        versions=listed["items"],
        owed=listed["owed"],
        acknowledged=listed["acknowledged"],
        overlay=shown.overlay if shown else None,
        may_write=Action.PROJECT_MANAGE in allowed,
        csrf_token=csrf,
    )


@router.get("/projects/{project_id}/guidelines/diff")
def guidelines_diff_page(
    request: Request,
    project_id: str,
    session: Session,
    old: int | None = Query(None, alias="from", ge=1, le=1_000_000_000),
    new: int | None = Query(None, alias="to", ge=1, le=1_000_000_000),
):
    """What changed between two versions, line by line (by default: the newest version's change)."""
    ctx, csrf = session
    if new is None:
        new = guidelines.list_versions(ctx, project_id)["newest"]
        if new is None:
            raise NotFound("this project has no guidelines yet")
    if old is None:
        old = new - 1
        if old < 1:
            raise NotFound("there is only one version of the guidelines: nothing to compare")
    diff = guidelines.diff_versions(ctx, project_id, old, new)
    return render(
        request, "guidelines_diff.html", project=diff.project, diff=diff, overlay=diff.overlay, csrf_token=csrf
    )


@router.post("/projects/{project_id}/guidelines/acknowledge")
def acknowledge(
    request: Request,
    project_id: str,
    session: Session,
    version: str = Form("", max_length=12),
    csrf_token: str = Form("", max_length=200),
):
    """I have read version N: the queue hands out tasks again; back to labelling."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    guidelines.acknowledge(ctx, project_id, version)
    return RedirectResponse(f"/projects/{project_id}/label", status_code=303)


def _edit_page(request: Request, ctx, csrf: str, project_id: str, body=None, requires_ack=True, error=None, status=200):
    project, newest, source = guidelines.source_for_editing(ctx, project_id)
    return render(
        request,
        "guidelines_edit.html",
        status_code=status,
        project=project,
        newest=newest,
        body=source if body is None else body,
        requires_ack=requires_ack,
        error=error,
        csrf_token=csrf,
    )


@router.get("/projects/{project_id}/guidelines/edit")
def edit_page(request: Request, project_id: str, session: Session):
    """Write the next version (owners and managers): the newest one as written, to change."""
    ctx, csrf = session
    return _edit_page(request, ctx, csrf, project_id)


@router.post("/projects/{project_id}/guidelines")
def create_version(
    request: Request,
    project_id: str,
    session: Session,
    body: str = Form("", max_length=400_000),
    minor: str = Form("", max_length=10),
    csrf_token: str = Form("", max_length=200),
):
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    requires_ack = minor != "yes"
    try:
        made = guidelines.create_version(ctx, project_id, body, requires_ack=requires_ack)
    except (InvalidInput, Conflict) as exc:
        return _edit_page(request, ctx, csrf, project_id, body, requires_ack, exc.message, 422)
    return RedirectResponse(f"/projects/{project_id}/guidelines?version={made['version']}", status_code=303)


@router.post("/projects/{project_id}/questions/{question_id}/promote")
def promote(
    request: Request,
    project_id: str,
    question_id: str,
    session: Session,
    question: str = Form("", max_length=20_000),
    answer: str = Form("", max_length=20_000),
    minor: str = Form("", max_length=10),
    csrf_token: str = Form("", max_length=200),
):
    """Add an answered question, as edited here, to the guidelines' FAQ: a new version."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    try:
        made = guidelines.promote_question(ctx, project_id, question_id, question, answer, requires_ack=minor != "yes")
    except InvalidInput as exc:
        from .questions import _questions_page

        return _questions_page(request, ctx, csrf, project_id, "answered", None, exc.message, 422)
    return RedirectResponse(f"/projects/{project_id}/guidelines?version={made['version']}", status_code=303)
