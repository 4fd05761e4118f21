"""Workforce pages: a workspace's conflicts, exclusions and wall explanations; people (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import BastionError, NotFound
from ...services import users, workforce, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _walls_page(request, ctx, csrf, workspace_id, *, explanation=None, error=None, status=200, person=""):
    ws = workspaces.get_workspace(ctx, workspace_id)
    allowed = workspaces.allowed_actions(ctx, workspace_id)
    conflicts = workforce.list_conflicts(ctx, workspace_id) if Action.WALLS_READ in allowed else []
    exclusions = workforce.list_exclusions(ctx, workspace_id) if Action.WALLS_READ in allowed else []
    members = workspaces.list_members(ctx, workspace_id) if Action.MEMBER_READ in allowed else []
    return render(
        request,
        "walls.html",
        status_code=status,
        ws=ws,
        allowed=allowed,
        Action=Action,
        conflicts=conflicts,
        exclusions=exclusions,
        members=members,
        explanation=explanation,
        error=error,
        csrf_token=csrf,
        person=person,
    )


@router.get("/workspaces/{workspace_id}/walls")
def walls_page(request: Request, workspace_id: str, session: Session, person: str | None = None):
    ctx, csrf = session
    if not person:
        return _walls_page(request, ctx, csrf, workspace_id)
    workspaces.get_workspace(ctx, workspace_id)  # 404 for a workspace you are not in, before anything else
    try:
        explanation = workforce.explain(ctx, person[:320], workspace_id)
    except NotFound as exc:  # a stranger and an unknown person read alike
        return _walls_page(request, ctx, csrf, workspace_id, error=exc.message, status=404, person=person[:320])
    return _walls_page(request, ctx, csrf, workspace_id, explanation=explanation, person=explanation["email"])


@router.post("/workspaces/{workspace_id}/walls")
async def walls_change(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))

    def work():
        workspaces.allowed_actions(ctx, workspace_id)  # 404 here for a workspace you are not in
        try:
            if action == "add-conflict":
                days = str(form.get("cooling_off_days", "")).strip()
                workforce.add_conflict(
                    ctx,
                    workspace_id,
                    str(form.get("competitor", "")).strip(),
                    cooling_off_days=float(days) if days else None,
                )
            elif action == "consent":
                workforce.consent_removal(ctx, workspace_id, str(form.get("competitor", "")).strip())
            elif action == "add-exclusion":
                kind = str(form.get("kind", "")) or None
                workforce.add_exclusion(ctx, workspace_id, str(form.get("org", "")), kind)
            else:
                return _walls_page(request, ctx, csrf, workspace_id, error=f"unknown action {action!r}", status=422)
        except ValueError:
            return _walls_page(request, ctx, csrf, workspace_id, error="cooling-off: a number of days", status=422)
        except BastionError as exc:
            if exc.code == "forbidden":
                raise
            return _walls_page(request, ctx, csrf, workspace_id, error=exc.message, status=422)
        return RedirectResponse(f"/workspaces/{workspace_id}/walls", status_code=303)

    return await run_in_threadpool(work)


@router.get("/people")
def people_page(request: Request, session: Session):
    """Platform admins: everyone, with their skills, affiliations and history."""
    ctx, csrf = session
    people = users.list_users(ctx)
    rows = [
        (p, workforce.list_skills(ctx, p.id), workforce.list_affiliations(ctx, p.id), workforce.history(ctx, p.id))
        for p in people
    ]
    return render(request, "people.html", people=rows, csrf_token=csrf)
