"""/api/v1 a person's own work in a project: their progress, their annotations, undo and edit.

The same services as the annotator's pages (services/own_annotations.py): everything is the
caller's own, so there is no other person's id in these paths. Reads of task data are walled
and audited as on the pages.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, error_docs, to_json
from .models import Strict, TaskOut
from ...services import own_annotations as svc

router = APIRouter(tags=["annotations"], responses=COMMON_ERRORS)


class ProgressOut(BaseModel):
    done: int = Field(description="Tasks you annotated in the project.")
    done_last_day: int = Field(description="Of those, in the last 24 hours.")
    left: int = Field(description="About how many tasks you could still get (0 while your work here is paused).")
    paused: str | None = Field(description="Why your work on the project is paused, if it is.")


class ReviewDecisionOut(BaseModel):
    decision: str
    comment: str | None
    created_at: int


class OwnAnnotationOut(BaseModel):
    id: str
    task_id: str
    data: dict[str, Any] = Field(description="The task's data as you were shown it.")
    result: Any = Field(description="Your result, as you see it.")
    summary: str = Field(description="The result in a few words.")
    review_status: Literal["none", "pending", "accepted", "rejected", "corrected"]
    review: ReviewDecisionOut | None = Field(description="The latest review decision; null while unreviewed.")
    version: int = Field(description="1, then one more for each edit or undo.")
    created_at: int
    can_change: bool = Field(description="Whether you may still edit it (not reviewed, not locked by the project).")


class OwnAnnotationPage(BaseModel):
    items: list[OwnAnnotationOut]
    next_cursor: str | None


class TakenBackOut(BaseModel):
    task: TaskOut = Field(description="The task, leased to you again.")
    previous: Any = Field(description="The result taken back, as you gave it.")


class EditIn(Strict):
    result: Any = Field(description="The new result, in the shape the project's task type defines.")


class EditedOut(BaseModel):
    id: str
    task_id: str
    project_id: str
    user_id: str
    result: Any
    lead_time_ms: int | None
    created_at: int
    version: int = Field(description="The annotation's version after the edit (unchanged: no new version).")


@router.get("/projects/{project_id}/me/progress", response_model=ProgressOut)
def my_progress(project_id: str, ctx: Ctx):
    """Your progress in the project: done, done in the last day, about how many are left, a pause."""
    progress = svc.my_progress(ctx, project_id)
    return to_json(
        {
            "done": progress.done,
            "done_last_day": progress.done_last_day,
            "left": progress.left,
            "paused": progress.paused,
        }
    )


@router.get("/projects/{project_id}/me/annotations", response_model=OwnAnnotationPage)
def my_annotations(
    project_id: str,
    ctx: Ctx,
    cursor: str | None = Query(None, max_length=60, description="next_cursor of the page before."),
    limit: int = Query(50, ge=1, le=svc.MAX_PAGE),
):
    """Your annotations in the project, newest first, with their review state (walled and audited)."""
    return to_json(svc.my_annotations(ctx, project_id, cursor=cursor, limit=limit))


@router.post("/projects/{project_id}/me/undo", response_model=TakenBackOut, responses=error_docs(409))
def undo_last(project_id: str, ctx: Ctx):
    """Take back your newest annotation in the project (until it is reviewed): the task is yours again under
    a fresh lease, and the answer is kept as a version (audited)."""
    taken = svc.undo_last(ctx, project_id)
    return to_json({"task": taken.task, "previous": taken.previous})


@router.patch(
    "/projects/{project_id}/me/annotations/{annotation_id}", response_model=EditedOut, responses=error_docs(409)
)
def edit_annotation(project_id: str, annotation_id: str, body: EditIn, ctx: Ctx):
    """Change your annotation's result (checked like a submit) until it is reviewed; the old result is kept
    as a version (audited)."""
    return to_json(svc.edit_annotation(ctx, project_id, annotation_id, body.result))
