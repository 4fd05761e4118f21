"""The start page: my workspaces and their projects (metadata only); opening a workspace's content.

The start page lists every workspace of the person, so it shows metadata alone and
binds them to none (services/content.py). A workspace walled off for them is not
listed with the others (its projects, their names and Label buttons are gone): a
line at the end names it and says why, in dates and names, as its 403 would.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...services import alerts, content, projects, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


@router.get("/")
def home(request: Request, session: Session):
    ctx, csrf = session
    rows: list[tuple[Any, ...]] = []
    mine = workspaces.list_workspaces(ctx)
    states = content.wall_states(ctx, [ws.id for ws in mine if ws.role is not None])
    walled_ids = [ws.id for ws in mine if states.get(ws.id) == content.WALLED]
    refusals = content.wall_refusals(ctx, walled_ids) if walled_ids else {}
    walled = [(ws, refusals.get(ws.id, "")) for ws in mine if ws.id in refusals]
    for ws in mine:
        if ws.role is None:  # admins see every workspace's name, but no content
            rows.append((ws, [], frozenset(), None))
            continue
        if ws.id in refusals:
            continue
        allowed = workspaces.allowed_actions(ctx, ws.id)
        rows.append((ws, projects.list_project_summaries(ctx, ws.id), allowed, states.get(ws.id)))
    unread = alerts.list_alerts(ctx, unread_only=True, limit=20)  # break-glass uses, requests awaiting you
    return render(
        request,
        "home.html",
        workspaces=rows,
        walled=walled,
        csrf_token=csrf,
        Action=Action,
        states=content,
        alerts=unread,
    )


def _same_site_path(value: str, fallback: str) -> str:
    if not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return fallback
    return value


@router.post("/workspaces/{workspace_id}/open")
def open_workspace(
    request: Request,
    workspace_id: str,
    session: Session,
    csrf_token: str = Form("", max_length=200),
    next: str = Form("/", max_length=2000),
):
    """The Open button: a deliberate first access to the workspace's content (binds; walls decide)."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    content.open_workspace(ctx, workspace_id)
    return RedirectResponse(_same_site_path(next, "/"), status_code=303)
