"""The workforce dashboard pages: one workspace's, and every workspace the person manages people in.

Read-only GETs (each view is audited by the service); ids, names, counts and times only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from .common import render
from .quality import bar_chart
from ..auth import page_session
from ...services import dashboard

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _charts(section: dict[str, Any]) -> dict[str, Any]:
    """The section's hourly chart: the last 24 hours, labelled by each hour's start (UTC)."""
    import time

    labels = [time.strftime("%H:00", time.gmtime(ms / 1000)) for ms in section["throughput"]["hour_starts"]]
    return bar_chart(section["throughput"]["per_hour"], labels)


@router.get("/workspaces/{workspace_id}/workforce")
def workspace_page(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    section = dashboard.workspace_dashboard(ctx, workspace_id)
    return render(
        request,
        "workforce.html",
        sections=[(section, _charts(section))],
        single=section,
        generated_at=section["generated_at"],
        csrf_token=csrf,
    )


@router.get("/workforce")
def all_page(request: Request, session: Session):
    ctx, csrf = session
    found = dashboard.dashboard(ctx)
    return render(
        request,
        "workforce.html",
        sections=[(s, _charts(s)) for s in found["workspaces"]],
        single=None,
        generated_at=found["generated_at"],
        csrf_token=csrf,
    )
