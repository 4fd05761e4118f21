"""/api/v1 need-to-know: held items, re-identification, canaries, leak tracing (owners only).

Every route answers 404 outside the caller's workspaces and 403 to roles other
than owner (docs/permissions.md): annotators, reviewers, managers and auditors
never reach the originals, the canaries or who saw what.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .approvals import ApprovalQuery, BreakGlassQuery
from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict
from ...services import canaries, redaction, tracing

router = APIRouter(tags=["need-to-know"], responses=COMMON_ERRORS)


class HeldItemOut(BaseModel):
    task_id: str
    created_at: int
    reasons: list[str]
    findings: int


class HeldPage(BaseModel):
    items: list[HeldItemOut]
    next_cursor: str | None


class ReidentifiedOut(BaseModel):
    id: str
    project_id: str
    data: dict[str, Any] = Field(description="The data as imported, before redaction.")
    redacted_data: dict[str, Any] = Field(description="The data as stored and shown (pseudonyms).")
    predictions: list[Any]
    annotations: list[dict[str, Any]] = Field(
        description="The task's annotations, spans mapped onto the original text."
    )
    findings: list[dict[str, Any]]
    held: bool
    held_reasons: list[str]


class CanaryIn(Strict):
    data: dict[str, Any] = Field(
        description="An item shaped like the project's, using each of {name}, {figure}, {date} and {place} in its text."
    )


class CanaryOut(BaseModel):
    id: str
    project_id: str
    state: str
    data: dict[str, Any]
    created_by: str | None
    created_at: int
    approved_by: str | None
    approved_at: int | None
    issued: int
    answered: int
    recipients: list[dict[str, Any]] | None = None


class TraceIn(Strict):
    excerpts: list[str] = Field(
        min_length=1,
        max_length=tracing.MAX_EXCERPTS,
        description="The leaked text(s); several excerpts pool their evidence.",
    )
    alpha: float = Field(
        default=1e-4,
        gt=0,
        le=0.05,
        description="Name someone only if an innocent would match this well with a probability below this.",
    )


class TraceOut(BaseModel):
    verdict: str = Field(description="conclusive (someone is named) or inconclusive (nobody is).")
    source_found: bool
    message: str
    alpha: float
    sources: list[dict[str, Any]]
    slots_read: int
    ranking: list[dict[str, Any]]
    suspects: list[str]
    canaries: list[dict[str, Any]]


@router.get("/projects/{project_id}/held", response_model=HeldPage)
def list_held(
    project_id: str,
    ctx: Ctx,
    cursor: str | None = Query(None, max_length=60, description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
):
    """Items redaction held for an owner's review: ids and reasons (owners)."""
    return to_json(redaction.list_held(ctx, project_id, after=cursor or "", limit=limit))


class ReleasedOut(BaseModel):
    task_id: str
    held: bool


@router.post("/tasks/{task_id}/release", response_model=ReleasedOut)
def release_held(task_id: str, ctx: Ctx):
    """Let a held item into the queue (owners; audited)."""
    return to_json(redaction.release_held(ctx, task_id))


@router.get("/tasks/{task_id}/reidentified", response_model=ReidentifiedOut)
def reidentified_task(task_id: str, ctx: Ctx, approval: ApprovalQuery = None, break_glass: BreakGlassQuery = None):
    """One task as imported, with what redaction found (owners, two-person approval; every call is audited)."""
    return to_json(redaction.reidentify_task(ctx, task_id, approval=approval, break_glass=break_glass))


@router.get("/projects/{project_id}/canaries", response_model=list[CanaryOut])
def list_canaries(project_id: str, ctx: Ctx, approval: ApprovalQuery = None, break_glass: BreakGlassQuery = None):
    """A project's canaries (owners, two-person approval)."""
    return to_json(canaries.list_canaries(ctx, project_id, approval=approval, break_glass=break_glass))


@router.post("/projects/{project_id}/canaries", response_model=CanaryOut, status_code=201)
def create_canary(project_id: str, body: CanaryIn, ctx: Ctx):
    """Propose a canary: a synthetic item with placeholders (a draft until an owner approves it)."""
    canary = canaries.create_canary(ctx, project_id, body.data)
    return created(canary, f"/canaries/{canary['id']}")


@router.get("/canaries/{canary_id}", response_model=CanaryOut)
def get_canary(canary_id: str, ctx: Ctx, approval: ApprovalQuery = None, break_glass: BreakGlassQuery = None):
    """A canary with its recipients and each one's facts, to probe a suspect model for (owners, two-person
    approval; audited)."""
    return to_json(canaries.get_canary(ctx, canary_id, approval=approval, break_glass=break_glass))


@router.post("/canaries/{canary_id}/approve", response_model=CanaryOut, responses=error_docs(409))
def approve_canary(canary_id: str, ctx: Ctx):
    """Approve a draft canary: it starts being mixed into queues at the project's canary_rate."""
    return to_json(canaries.set_canary_state(ctx, canary_id, "approved"))


@router.post("/canaries/{canary_id}/retire", response_model=CanaryOut, responses=error_docs(409))
def retire_canary(canary_id: str, ctx: Ctx):
    """Stop issuing a canary (what was issued is still traced)."""
    return to_json(canaries.set_canary_state(ctx, canary_id, "retired"))


@router.post("/projects/{project_id}/trace", response_model=TraceOut)
def trace(project_id: str, body: TraceIn, ctx: Ctx):
    """Trace leaked text to the people shown it: a verdict, a ranking with probabilities (owners; audited)."""
    return to_json(tracing.trace(ctx, project_id, body.excerpts, alpha=body.alpha))
