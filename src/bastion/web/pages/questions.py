"""The questions people asked about a project's tasks while labelling: the list owners and managers
read (open ones first) and answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse

from .common import render
from .own_annotations import preview_of, when
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import Conflict, InvalidInput
from ...services import projects, questions, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]

STATES = {"open": "open", "answered": "answered", "all": None}


def _questions_page(request: Request, ctx, csrf: str, project_id: str, state: str, cursor, error=None, status=200):
    page = questions.list_questions(ctx, project_id, state=STATES[state], cursor=cursor)
    project = projects.project_for_work(ctx, project_id, Action.QUESTION_ANSWER)
    items = [
        {
            **q,
            "preview": preview_of(q["data"]) if q["data"] is not None else None,
            "when": when(q["created_at"]),
            "answered_when": when(q["answered_at"]),
        }
        for q in page["items"]
    ]
    return render(
        request,
        "questions.html",
        status_code=status,
        project=project,
        items=items,
        state=state,
        open_count=page["open"],
        cursor=cursor,
        next_cursor=page["next_cursor"],
        error=error,
        csrf_token=csrf,
        may_promote=Action.PROJECT_MANAGE in workspaces.allowed_actions(ctx, project.workspace_id),
    )


@router.get("/projects/{project_id}/questions")
def questions_page(
    request: Request,
    project_id: str,
    session: Session,
    state: str = Query("open", max_length=10),
    cursor: str | None = Query(None, max_length=60),
):
    """The questions people asked about this project's tasks, open ones first; owners and managers answer."""
    ctx, csrf = session
    if state not in STATES:
        raise InvalidInput(f"state: one of {', '.join(STATES)}")
    return _questions_page(request, ctx, csrf, project_id, state, cursor)


@router.post("/projects/{project_id}/questions/{question_id}/answer")
def answer(
    request: Request,
    project_id: str,
    question_id: str,
    session: Session,
    answer: str = Form("", max_length=20_000),
    state: str = Form("open", max_length=10),
    csrf_token: str = Form("", max_length=200),
):
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    state = state if state in STATES else "open"
    try:
        questions.answer_question(ctx, project_id, question_id, answer)
    except (InvalidInput, Conflict) as exc:
        return _questions_page(request, ctx, csrf, project_id, state, None, exc.message, 422)
    return RedirectResponse(f"/projects/{project_id}/questions?state={state}", status_code=303)
