"""Workforce pages: a workspace's conflicts, exclusions and wall explanations; people (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ._forms import redirect_after_post, refused_status
from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import BastionError, InvalidInput, NotFound
from ...services import approvals, users, workforce, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _walls_page(request, ctx, csrf, workspace_id, *, explanation=None, error=None, status=200, person="", done=None):
    ws = workspaces.get_workspace(ctx, workspace_id)
    allowed = workspaces.allowed_actions(ctx, workspace_id)
    overview = workforce.walls_overview(ctx, workspace_id) if Action.WALLS_READ in allowed else None
    members = workspaces.list_members(ctx, workspace_id) if Action.MEMBER_READ in allowed else []
    named: set[str] = set()
    if explanation:
        named |= {r["edge"]["other_workspace"] for r in explanation["reasons"] if r.get("edge")}
        named |= set(explanation["lifted"])
    return render(
        request,
        "walls.html",
        status_code=status,
        ws=ws,
        allowed=allowed,
        Action=Action,
        overview=overview,
        members=members,
        explanation=explanation,
        names=workspaces.names_known(ctx, named),
        error=error,
        done=DONE.get(done or ""),
        csrf_token=csrf,
        person=person,
    )


DONE = {
    "add-conflict": "Competitor declared.",
    "request-removal": "A second owner is asked to approve the withdrawal (approvals).",
    "remove-conflict": "Withdrawal scheduled.",
    "consent": "The wall is down: you consented to its withdrawal.",
    "add-exclusion": "Affiliation excluded.",
    "remove-exclusion": "Exclusion removed.",
}


@router.get("/workspaces/{workspace_id}/walls")
def walls_page(
    request: Request,
    workspace_id: str,
    session: Session,
    person: str | None = None,
    done: str | None = Query(None, max_length=20),
):
    ctx, csrf = session
    if not person:
        return _walls_page(request, ctx, csrf, workspace_id, done=done)
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

    def field(name: str, limit: int = 320) -> str:
        return str(form.get(name, "")).strip()[:limit]

    refused = refused_status(request)

    def work():
        workspaces.allowed_actions(ctx, workspace_id)  # 404 here for a workspace you are not in
        try:
            if action == "add-conflict":
                days = field("cooling_off_days", 20)
                workforce.add_competitor(
                    ctx, workspace_id, field("competitor"), cooling_off_days=float(days) if days else None
                )
            elif action == "request-removal":
                approvals.request(
                    ctx, workspace_id, "wall.remove", {"competitor": field("competitor")}, field("reason", 500)
                )
            elif action == "remove-conflict":
                workforce.remove_conflict(ctx, workspace_id, field("competitor"), approval=field("approval") or None)
            elif action == "consent":
                workforce.consent_removal(ctx, workspace_id, field("competitor"))
            elif action == "add-exclusion":
                workforce.add_exclusion(ctx, workspace_id, str(form.get("org", "")), field("kind", 20) or None)
            elif action == "remove-exclusion":
                workforce.remove_exclusion(ctx, workspace_id, field("org", 200), field("kind", 20) or None)
            else:
                return _walls_page(request, ctx, csrf, workspace_id, error=f"unknown action {action!r}", status=refused)
        except ValueError:
            return _walls_page(request, ctx, csrf, workspace_id, error="cooling-off: a number of days", status=refused)
        except BastionError as exc:
            if exc.code == "forbidden":
                raise
            return _walls_page(request, ctx, csrf, workspace_id, error=exc.message, status=refused)
        return redirect_after_post(request, f"/workspaces/{workspace_id}/walls?done={action}")

    return await run_in_threadpool(work)


@router.get("/people")
def people_page(request: Request, session: Session, done: str | None = Query(None, max_length=20)):
    """Platform admins: everyone, with their skills, affiliations and history."""
    ctx, csrf = session
    return _people_page(request, ctx, csrf, done=done)


def _people_page(request, ctx, csrf, *, error=None, status=200, done=None):
    people = users.list_users(ctx)
    rows = [
        (p, workforce.list_skills(ctx, p.id), workforce.list_affiliations(ctx, p.id), workforce.history(ctx, p.id))
        for p in people
    ]
    names = workspaces.names_known(ctx, {h["workspace_id"] for _, _, _, history in rows for h in history})
    return render(
        request, "people.html", status_code=status, people=rows, names=names, csrf_token=csrf, error=error, done=done
    )


@router.post("/people/{user_id}/active")
async def people_set_active(request: Request, user_id: str, session: Session):
    """Platform admins: deactivate (``active=0``) or reactivate (``active=1``) a person."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    active = str(form.get("active", ""))

    def work():
        try:
            if active == "0":
                users.deactivate_user(ctx, user_id, via="page")
            elif active == "1":
                users.activate_user(ctx, user_id, via="page")
            else:
                raise InvalidInput("active: 0 (deactivate) or 1 (activate)")
        except BastionError as exc:
            if exc.code == "forbidden":
                raise
            return _people_page(request, ctx, csrf, error=exc.message, status=refused_status(request))
        return redirect_after_post(request, "/people?done=" + ("deactivated" if active == "0" else "activated"))

    return await run_in_threadpool(work)
