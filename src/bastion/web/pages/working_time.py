"""A workspace's working time page (docs/workforce.md, "Time"): active time per person, project and day,
each project's median and the flagged annotations (by id only). ``people.read``: owners, managers and
workforce managers; never task content. A GET with its filters in the query: it changes nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from .common import render
from ..auth import page_session
from ...domain.errors import InvalidInput
from ...services import projects, time_report, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


@router.get("/workspaces/{workspace_id}/time")
def time_page(
    request: Request,
    workspace_id: str,
    session: Session,
    since: str = Query("", alias="from", max_length=10),
    until: str = Query("", alias="to", max_length=10),
    project: str = Query("", max_length=60),
    user: str = Query("", max_length=60),
):
    ctx, _csrf = session
    ws = workspaces.get_workspace(ctx, workspace_id)
    error = None
    try:
        report = time_report.time_report(
            ctx, workspace_id, since=since, until=until, project_id=project or None, user_id=user or None
        )
    except InvalidInput as exc:
        error = exc.message
        report = time_report.time_report(ctx, workspace_id, project_id=project or None, user_id=user or None)
    return render(
        request,
        "time.html",
        status_code=422 if error else 200,
        ws=ws,
        report=report,
        error=error,
        projects=projects.list_project_summaries(ctx, workspace_id),
        members=sorted(workspaces.list_members(ctx, workspace_id), key=lambda m: m.email),
        filters={"from": since, "to": until, "project": project, "user": user},
        rules=time_report,
    )
