"""/api/v1 workforce dashboard: people active now, throughput, quality per person, forecasts (no task content)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .common import COMMON_ERRORS, Ctx, to_json
from ...services import dashboard

router = APIRouter(tags=["workforce"], responses=COMMON_ERRORS)


@router.get("/workspaces/{workspace_id}/workforce", response_model=dict[str, Any])
def workspace_dashboard(workspace_id: str, ctx: Ctx):
    """The workspace's workforce dashboard (``people.read``): who is active now, annotations per hour over
    the last 24 hours (per project too), each person's accuracy on gold and review outcomes, and per project
    the annotations still to make with a forecast of the finish and its 95% interval (docs/workforce.md).
    Ids, names, counts and times only, never task content. Each read is recorded in the audit log."""
    return to_json(dashboard.workspace_dashboard(ctx, workspace_id))


@router.get("/workforce", response_model=dict[str, Any])
def dashboard_everywhere(ctx: Ctx):
    """The dashboard of every workspace where you hold ``people.read``, one section each (none: an empty list).
    Each section is recorded in its workspace's audit log."""
    return to_json(dashboard.dashboard(ctx))
