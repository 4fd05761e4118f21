"""Two-person approval pages: a workspace's requests for its owners, and marking one's alerts read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import BastionError
from ...services import alerts, approvals, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _page(request, ctx, csrf, workspace_id, *, error=None, status=200):
    ws = workspaces.get_workspace(ctx, workspace_id)
    items = approvals.list_approvals(ctx, workspace_id)
    is_owner = Action.APPROVAL_REQUEST in workspaces.allowed_actions(ctx, workspace_id)
    return render(
        request,
        "approvals.html",
        status_code=status,
        ws=ws,
        csrf_token=csrf,
        error=error,
        pending=[a for a in items if a["state"] == "pending"],
        others=[a for a in items if a["state"] != "pending"][:50],
        kinds=approvals.KINDS,
        setting=approvals.setting(ctx, workspace_id) if is_owner else None,
    )


@router.get("/workspaces/{workspace_id}/approvals")
def approvals_page(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    return _page(request, ctx, csrf, workspace_id)


def _params(text: str) -> dict[str, str]:
    params = {}
    for part in text.replace(",", " ").split():
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise ValueError(f"params: {part!r} is not name=id")
        params[name] = value
    return params


@router.post("/workspaces/{workspace_id}/approvals")
async def approvals_change(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))

    def work():
        workspaces.get_workspace(ctx, workspace_id)  # 404 here for a workspace you are not in
        try:
            if action == "request":
                approvals.request(
                    ctx,
                    workspace_id,
                    str(form.get("kind", "")),
                    _params(str(form.get("params", ""))),
                    str(form.get("reason", "")),
                )
            elif action in ("approve", "refuse"):
                note = str(form.get("note", "")).strip() or None
                approvals.decide(ctx, str(form.get("approval", "")), approve=action == "approve", note=note)
            else:
                return _page(request, ctx, csrf, workspace_id, error=f"unknown action {action!r}", status=422)
        except ValueError as exc:
            return _page(request, ctx, csrf, workspace_id, error=str(exc), status=422)
        except BastionError as exc:
            if exc.code == "forbidden" and action not in ("approve", "refuse"):
                raise
            return _page(
                request, ctx, csrf, workspace_id, error=exc.message, status=403 if exc.code == "forbidden" else 422
            )
        return RedirectResponse(f"/workspaces/{workspace_id}/approvals", status_code=303)

    return await run_in_threadpool(work)


@router.post("/alerts/read")
async def alerts_read(request: Request, session: Session):
    """Mark your alerts read (the banner on the home page)."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    await run_in_threadpool(alerts.mark_read, ctx)
    return RedirectResponse("/", status_code=303)
