"""/api/v1 guidelines: a project's versioned Markdown document (services/guidelines.py), acknowledged
before the next task; an answered question added to its FAQ."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from ...services import guidelines

router = APIRouter(tags=["guidelines"], responses=COMMON_ERRORS)


class GuidelinesIn(BaseModel):
    body: str = Field(max_length=200_000, description="The whole document, Markdown (no HTML).")
    requires_ack: bool = Field(
        True, description="People must acknowledge this version before their next task (false: a small fix)."
    )


class VersionOut(BaseModel):
    id: str
    project_id: str | None = None
    version: int
    requires_ack: bool
    created_by: str | None = None
    created_at: int


class VersionsOut(BaseModel):
    items: list[VersionOut] = Field(description="Newest first, without their text.")
    newest: int | None
    acknowledged: int | None = Field(description="The newest version you acknowledged.")
    owed: int | None = Field(description="The version to acknowledge before your next task (null: none).")


class GuidelineOut(VersionOut):
    body: str = Field(description="The text as you are shown it (your own wording variant).")
    owed: int | None


class DiffOut(BaseModel):
    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    unified: str = Field(description="A unified diff of the two versions as you are shown them.")


class AcknowledgeIn(BaseModel):
    version: int = Field(ge=1)


class AcknowledgedOut(BaseModel):
    project_id: str
    acknowledged: int | None
    owed: int | None
    newest: int | None


class PromoteIn(BaseModel):
    question: str = Field(max_length=5000, description="The question as it goes in (edit out what quotes a task).")
    answer: str = Field(max_length=5000)
    requires_ack: bool = True


@router.get("/projects/{project_id}/guidelines", response_model=VersionsOut)
def list_versions(project_id: str, ctx: Ctx):
    """The project's guideline versions and where you stand (the project's people)."""
    return to_json(guidelines.list_versions(ctx, project_id))


@router.post("/projects/{project_id}/guidelines", response_model=VersionOut, status_code=201)
def create_version(project_id: str, body: GuidelinesIn, ctx: Ctx):
    """Write a new version (owners and managers)."""
    made = guidelines.create_version(ctx, project_id, body.body, requires_ack=body.requires_ack)
    return created(made, f"/projects/{project_id}/guidelines/{made['version']}")


@router.get("/projects/{project_id}/guidelines/diff", response_model=DiffOut)
def diff_versions(
    project_id: str,
    ctx: Ctx,
    old: int = Query(..., alias="from", ge=1, le=1_000_000_000),
    new: int = Query(..., alias="to", ge=1, le=1_000_000_000),
):
    """What changed between two versions, as a unified diff of the texts you are shown."""
    diff = guidelines.diff_versions(ctx, project_id, old, new)
    return to_json({"from": diff.old, "to": diff.new, "unified": diff.unified})


@router.get("/projects/{project_id}/guidelines/{version}", response_model=GuidelineOut)
def read_version(project_id: str, version: int, ctx: Ctx):
    """One version (your own wording variant of it)."""
    return to_json(guidelines.read_version(ctx, project_id, version))


@router.post("/projects/{project_id}/guidelines/acknowledge", response_model=AcknowledgedOut)
def acknowledge(project_id: str, body: AcknowledgeIn, ctx: Ctx):
    """You have read this version: the queue hands you tasks again once you owe none."""
    return to_json(guidelines.acknowledge(ctx, project_id, body.version))


@router.post(
    "/projects/{project_id}/questions/{question_id}/promote",
    response_model=VersionOut,
    status_code=201,
    responses=error_docs(409),
)
def promote_question(project_id: str, question_id: str, body: PromoteIn, ctx: Ctx):
    """Add an answered question, as worded here, to the guidelines' FAQ: a new version (owners and managers)."""
    made = guidelines.promote_question(
        ctx, project_id, question_id, body.question, body.answer, requires_ack=body.requires_ack
    )
    return created(made, f"/projects/{project_id}/guidelines/{made['version']}")
