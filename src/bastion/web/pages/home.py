"""The start page: my workspaces and their projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ...access import Action
from ...services import projects, workspaces
from ..auth import page_session
from .common import render

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


@router.get("/")
def home(request: Request, session: Session):
    ctx, csrf = session
    rows = []
    for ws in workspaces.list_workspaces(ctx):
        if ws.role is None:  # admins see every workspace's name, but no content
            rows.append((ws, [], frozenset()))
            continue
        allowed = workspaces.allowed_actions(ctx, ws.id)
        rows.append((ws, projects.list_projects(ctx, ws.id), allowed))
    return render(request, "home.html", workspaces=rows, csrf_token=csrf, Action=Action)
