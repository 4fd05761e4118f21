"""/api/v1 working time: active time per person, project and day, and its flags (docs/workforce.md, "Time")."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, to_json
from ...services import time_report

router = APIRouter(tags=["workforce"], responses=COMMON_ERRORS)


class TimeRowOut(BaseModel):
    day: str
    project_id: str
    project: str
    user_id: str
    person: str
    annotations: int
    timed: int
    active_ms: int
    median_ms: int | None
    fast: int
    pasted: int
    pasted_chars: int


class TimePersonOut(BaseModel):
    user_id: str
    person: str
    annotations: int
    active_ms: int
    fast: int
    pasted: int


class TimeProjectOut(BaseModel):
    project_id: str
    project: str
    timed: int
    median_ms: int | None
    fast_below_ms: int | None


class TimeFlagOut(BaseModel):
    annotation_id: str
    project_id: str
    user_id: str
    person: str
    day: str
    reason: Literal["fast", "pasted"]
    lead_time_ms: int | None
    project_median_ms: int | None
    paste_count: int | None
    pasted_chars: int | None


class TimeRulesOut(BaseModel):
    fast_share: float
    min_for_median: int


class TimeReportOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    rows: list[TimeRowOut]
    people: list[TimePersonOut]
    projects: list[TimeProjectOut]
    flags: list[TimeFlagOut]
    flags_total: int
    rules: TimeRulesOut


@router.get(
    "/workspaces/{workspace_id}/time",
    response_model=TimeReportOut,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def working_time(
    workspace_id: str,
    ctx: Ctx,
    since: str | None = Query(None, alias="from", max_length=10, description="First day (UTC), YYYY-MM-DD."),
    until: str | None = Query(None, alias="to", max_length=10, description="Last day (UTC), YYYY-MM-DD; today."),
    project: str | None = Query(None, max_length=60, description="Only this project."),
    user: str | None = Query(None, max_length=60, description="Only this person (their user id)."),
    format: Literal["json", "csv"] = Query("json", description="csv: the rows, one per day, project and person."),
):
    """Active time per person, project and day (sum, count, median per task), per-person totals, each
    project's median, and flagged annotations by id (far faster than the project's median; text pasted).
    Never task content. Needs ``people.read`` (owners, managers, workforce managers)."""
    report = time_report.time_report(ctx, workspace_id, since=since, until=until, project_id=project, user_id=user)
    if format == "csv":
        return Response(
            time_report.report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="time-{report["from"]}-{report["to"]}.csv"'},
        )
    return to_json(report)
