"""/api/v1 jobs: long work run by the jobs runner (services/jobs.py; docs/jobs.md).

A job belongs to one workspace; its kind decides who sees it (rebuilding a search
index: owners and managers). Any other caller gets 404 for its id.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict
from ...services import jobs, prelabel

router = APIRouter(tags=["jobs"], responses=COMMON_ERRORS)

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class ProgressOut(BaseModel):
    done: int = Field(description="Work done so far, in the kind's unit (tasks, rows).")
    total: int | None = Field(description="All the work, when known.")


class JobOut(BaseModel):
    id: str
    workspace_id: str
    kind: str = Field(description="The job kind, e.g. search.reindex.")
    params: dict[str, Any] = Field(description="Ids and settings the job was submitted with (never content).")
    state: State
    attempts: int
    max_attempts: int
    run_after: int = Field(description="Not run before this time (epoch ms): a retry's back-off.")
    progress: ProgressOut
    checkpoint: dict[str, Any] | None = Field(description="Where the next chunk starts (ids and counts).")
    last_error: str | None = Field(description="The last failure's message (no content).")
    cancel_requested: bool = Field(description="A cancel the runner honours when the current chunk ends.")
    dedupe_key: str | None
    created_by: str
    created_at: int
    updated_at: int
    started_at: int | None
    finished_at: int | None
    lease_expires_at: int | None = Field(description="While running: when the runner's lease runs out.")
    heartbeat_at: int | None


class JobIn(Strict):
    kind: str = Field(min_length=1, max_length=64, description="The job kind, e.g. search.reindex.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        max_length=20,
        description='Ids and settings, e.g. {"project_id": "prj_…"} for search.reindex (never content).',
    )


@router.post("/workspaces/{workspace_id}/jobs", response_model=JobOut, status_code=201, responses=error_docs(409))
def submit_job(workspace_id: str, body: JobIn, ctx: Ctx):
    """Queue a job; a job of the same kind and target already queued or running is answered instead."""
    job = jobs.submit(ctx, workspace_id, body.kind, body.params)
    return created(job, f"/jobs/{job['id']}")


@router.get("/workspaces/{workspace_id}/jobs", response_model=list[JobOut])
def list_jobs(
    workspace_id: str,
    ctx: Ctx,
    state: State | None = Query(None, description="Only jobs in this state."),
    before: str | None = Query(None, max_length=60, description="A job id: the page after it (newest first)."),
    limit: int = Query(50, ge=1, le=jobs.MAX_PAGE),
):
    """The workspace's jobs your role may see, newest first."""
    return to_json(jobs.list_jobs(ctx, workspace_id, state=state, before=before, limit=limit))


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, ctx: Ctx):
    """One job: its state, progress, attempts and last error."""
    return to_json(jobs.get(ctx, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=error_docs(409))
def cancel_job(job_id: str, ctx: Ctx):
    """Cancel a job: a queued one at once, a running one when its current chunk ends (409 once finished)."""
    return to_json(jobs.cancel(ctx, job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobOut, responses=error_docs(409))
def retry_job(job_id: str, ctx: Ctx):
    """Queue a failed or cancelled job again; it resumes from its last checkpoint (409 otherwise)."""
    return to_json(jobs.retry(ctx, job_id))


class PrelabelIn(Strict):
    chunk: int | None = Field(None, ge=1, le=100, description="Tasks a chunk (default 20).")


@router.post("/projects/{project_id}/prelabel", response_model=JobOut, status_code=201, responses=error_docs(409, 422))
def submit_prelabel(project_id: str, ctx: Ctx, body: PrelabelIn | None = None):
    """Pre-label the project's tasks with the model its ``prelabel`` setting names (owners, managers;
    docs/prelabel.md): a ``prelabel.run`` job; one already queued or running for the project is answered."""
    job = prelabel.submit(ctx, project_id, chunk=body.chunk if body is not None else None)
    return created(job, f"/jobs/{job['id']}")
