"""/api/v1 annotations: submit and read."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import AnnotationIn, AnnotationOut, TaskOut
from ...services import annotations as svc

router = APIRouter(tags=["annotations"], responses=COMMON_ERRORS)


@router.post("/tasks/{task_id}/annotations", response_model=AnnotationOut, status_code=201, responses=error_docs(409))
def submit_annotation(task_id: str, body: AnnotationIn, ctx: Ctx):
    """Submit your result for a task (validated against the project's config)."""
    annotation = svc.submit_annotation(
        ctx,
        task_id,
        body.result,
        lead_time_ms=body.lead_time_ms,
        paste_count=body.paste_count,
        pasted_chars=body.pasted_chars,
    )
    return created(annotation, f"/annotations/{annotation['id']}")


class SubmittedAndNext(BaseModel):
    annotation: AnnotationOut
    next: TaskOut | None = Field(description="Your next task of the same project (null when none is left).")
    guidelines_owed: int | None = Field(
        None,
        description="When set, no next task came: acknowledge this version of the project's guidelines first.",
    )


@router.post("/tasks/{task_id}/submit-and-next", response_model=SubmittedAndNext, responses=error_docs(409))
def submit_and_next(task_id: str, body: AnnotationIn, ctx: Ctx):
    """Submit your result and lease your next task of the project, in one transaction (one durable commit)."""
    annotation, task = svc.submit_and_next(
        ctx,
        task_id,
        body.result,
        lead_time_ms=body.lead_time_ms,
        paste_count=body.paste_count,
        pasted_chars=body.pasted_chars,
    )
    owed = annotation.pop("guidelines_owed", None)
    return to_json({"annotation": annotation, "next": task, "guidelines_owed": owed})


@router.get("/tasks/{task_id}/annotations", response_model=list[AnnotationOut])
def list_annotations(task_id: str, ctx: Ctx):
    """A task's annotations (annotators: only their own)."""
    return to_json(svc.list_annotations(ctx, task_id))
