"""/api/v1 workforce dashboard: people active now, throughput, quality per person, forecasts (no task content)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, to_json
from ...services import dashboard

router = APIRouter(tags=["workforce"], responses=COMMON_ERRORS)


class ProjectThroughputOut(BaseModel):
    project_id: str
    name: str
    per_hour: list[int] = Field(description="Annotations in each of the last hours, oldest first.")
    total: int


class ThroughputOut(BaseModel):
    hours: int
    hour_starts: list[int] = Field(description="Each hour's start (epoch ms), oldest first.")
    per_hour: list[int]
    total: int
    per_project: list[ProjectThroughputOut]


class WorkspaceDashboardOut(BaseModel):
    workspace_id: str
    workspace_name: str
    generated_at: int
    active_minutes: int = Field(description="Active now: a live lease, or an annotation in this many minutes.")
    active_now: list[dict[str, Any]] = Field(description="Who is active now: ids, names, leases, recent counts.")
    throughput: ThroughputOut
    people: list[dict[str, Any]] = Field(
        description="Per person: annotations in 24 h, accuracy on gold, review outcomes, earnings to date."
    )
    forecast_hours: int = Field(description="The hours of recent work the forecasts' rates are taken from.")
    forecast: list[dict[str, Any]] = Field(
        description="Per project: annotations still to make, the rate with its 95% interval, the finish."
    )
    earnings_shown: bool = Field(description="Whether the workspace pays through Bastion (its people's earnings).")


class DashboardOut(BaseModel):
    generated_at: int
    workspaces: list[WorkspaceDashboardOut]


@router.get("/workspaces/{workspace_id}/workforce", response_model=WorkspaceDashboardOut)
def workspace_dashboard(workspace_id: str, ctx: Ctx):
    """The workspace's workforce dashboard (``people.read``): who is active now, annotations per hour over
    the last 24 hours (per project too), each person's accuracy on gold and review outcomes, and per project
    the annotations still to make with a forecast of the finish and its 95% interval (docs/workforce.md).
    Ids, names, counts and times only, never task content. Each read is recorded in the audit log."""
    return to_json(dashboard.workspace_dashboard(ctx, workspace_id))


@router.get("/workforce", response_model=DashboardOut)
def dashboard_everywhere(ctx: Ctx):
    """The dashboard of every workspace where you hold ``people.read``, one section each (none: an empty list).
    Each section is recorded in its workspace's audit log."""
    return to_json(dashboard.dashboard(ctx))
