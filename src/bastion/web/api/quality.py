"""/api/v1 quality: the quality report, the review queue and decisions, feedback, pauses."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict
from ...services import quality, reviews

router = APIRouter(tags=["quality"], responses=COMMON_ERRORS)


class ReviewIn(Strict):
    decision: Literal["accept", "reject", "correct"]
    comment: str | None = Field(default=None, max_length=10_000, description="Required when rejecting.")
    correction: Any = Field(default=None, description="With 'correct': the corrected result (a new version).")


class ReviewOut(BaseModel):
    id: str
    annotation_id: str
    decision: str
    comment: str | None
    correction: Any
    reviewer_id: str
    created_at: int


class ReviewItemOut(BaseModel):
    annotation: dict[str, Any]
    task: dict[str, Any]
    other_annotations: list[dict[str, Any]]
    annotator: dict[str, Any]
    lease: dict[str, int]


def methods_schema(schema: dict[str, Any]) -> None:
    """An aggregation method's OpenAPI schema, from the task types installed when the document is made:
    the methods as an enum, and which fit each type (``x-methods-by-task-type``)."""
    by_type = quality.methods_by_type()
    names = sorted({m for methods in by_type.values() for m in methods})
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["enum"] = names
    schema["x-methods-by-task-type"] = by_type


@router.get("/projects/{project_id}/quality", response_model=dict[str, Any])
def quality_report(
    project_id: str,
    ctx: Ctx,
    method: str | None = Query(
        None,
        max_length=40,
        json_schema_extra=methods_schema,
        description=("Aggregation method; it must fit the project's task type (default: the type's first)."),
    ),
):
    """Agreement (with its meaning in words), accuracy on gold, aggregation, throughput, pauses, and per model
    version of pre-labels: tasks, acceptance and agreement with people (docs/prelabel.md)."""
    return to_json(quality.quality_report(ctx, project_id, method=method))


@router.post(
    "/projects/{project_id}/review/next",
    response_model=ReviewItemOut,
    responses={204: {"description": "Nothing waits for your review in this project."}},
)
def review_next(project_id: str, ctx: Ctx):
    """Lease the next annotation to review (the same one again while you hold it)."""
    item = reviews.review_next(ctx, project_id)
    return Response(status_code=204) if item is None else to_json(item)


@router.post(
    "/annotations/{annotation_id}/review", response_model=ReviewOut, status_code=201, responses=error_docs(409)
)
def review(annotation_id: str, body: ReviewIn, ctx: Ctx):
    """Accept, reject with a comment (the task returns to the pool), or correct (the original is kept)."""
    done = reviews.review_annotation(
        ctx, annotation_id, body.decision, comment=body.comment, correction=body.correction
    )
    return created(done, f"/reviews/{done['id']}")


@router.get("/workspaces/{workspace_id}/feedback", response_model=list[dict[str, Any]])
def feedback(workspace_id: str, ctx: Ctx, limit: int = Query(100, ge=1, le=1000)):
    """What reviews and gold tasks said about your own work in this workspace."""
    return to_json(reviews.my_feedback(ctx, workspace_id, limit=limit))


@router.delete("/projects/{project_id}/pauses/{user_id}", status_code=204, response_class=Response)
def lift_pause(project_id: str, user_id: str, ctx: Ctx):
    """Let an automatically paused annotator work on the project again (managers)."""
    quality.lift_pause(ctx, project_id, user_id)
    return Response(status_code=204)
