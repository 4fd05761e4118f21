"""/api/v1 working time: active time per person, project and day, and its flags (docs/workforce.md, "Time")."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, to_json
from ...services import time_report

router = APIRouter(tags=["workforce"], responses=COMMON_ERRORS)


@router.get(
    "/workspaces/{workspace_id}/time",
    response_model=dict[str, Any],
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
