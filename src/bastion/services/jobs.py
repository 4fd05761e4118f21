"""Jobs as people see them: submit, list, read, cancel, retry (the runner is ``services/job_runner.py``).

A job belongs to one workspace. Who may see and act on it is decided by its kind's
``action`` (``services/job_kinds.py``; rebuilding a search index: ``task.manage``, so
owners and managers): a member whose role lacks it, and anyone outside the workspace,
get NotFound for its id, as if it did not exist; listing a workspace's jobs shows a
member the jobs of the kinds their role allows. Cancelling or retrying also needs a
token that may write.

Every state change is audited in the workspace's log (``job.submitted``,
``job.cancel_requested``, ``job.retried`` here; the runner's in ``job_runner.py``),
with metadata only: the kind, the job's params (ids and settings), counts.

The trap: a cancel of a running job is a request: the runner honours it between chunks,
so the job reads ``running`` with ``cancel_requested`` until its current chunk commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import Context, Unit
from .job_kinds import JobKind, kinds_of
from .. import ids
from ..access import POLICY, Action
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..storage import jobs_store
from ..storage.jobs_store import JobRow

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
MAX_PAGE = 200


def view(row: JobRow) -> dict[str, Any]:
    """A job as the API, the pages and the CLI show it."""
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "kind": row.kind,
        "params": row.params,
        "state": row.state,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "run_after": row.run_after,
        "progress": {"done": row.progress_done, "total": row.progress_total},
        "checkpoint": row.checkpoint,
        "last_error": row.last_error,
        "cancel_requested": row.cancel_requested,
        "dedupe_key": row.dedupe_key,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "lease_expires_at": row.lease_expires_at,
        "heartbeat_at": row.heartbeat_at,
    }


def _may_see(u: Unit, row: JobRow, kind: JobKind | None) -> bool:
    if u.actor.is_system:
        return True
    role = u.access.role(row.workspace_id)
    action = kind.action if kind is not None else Action.PROJECT_MANAGE  # a kind no longer installed
    return role is not None and action in POLICY[role]


def _load(u: Unit, job_id: str) -> tuple[JobRow, JobKind | None]:
    if not ids.has_prefix(job_id, "job"):
        raise NotFound("job not found")
    scope = None if u.actor.is_system else list(u.access.roles)
    row = jobs_store.find_job(u.tx, job_id, workspace_ids=scope)
    kind = None if row is None else kinds_of(u.rt).find(row.kind)
    if row is None or not _may_see(u, row, kind):
        raise NotFound("job not found")
    return row, kind


def submit(ctx: Context, workspace_id: str, kind_name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Queue a job of ``kind_name`` in the workspace (the kind's action decides who may). A job with the
    same dedupe key already queued or running is answered instead of a second one."""
    if not isinstance(params, Mapping | None):
        raise InvalidInput("params: an object is required")
    with ctx.write() as w:
        kind = kinds_of(ctx.rt).get(kind_name)
        w.access.require(kind.action, workspace_id, what="workspace")
        prepared = kind.prepare(w, workspace_id, dict(params or {}))
        if prepared.dedupe_key is not None:
            existing = jobs_store.find_active_by_key(w.tx, workspace_id, prepared.dedupe_key)
            if existing is not None:
                return view(existing)
        job_id = ids.new_id("job")
        jobs_store.insert_job(
            w.tx,
            workspace_id,
            job_id,
            kind=kind.name,
            params=prepared.params,
            max_attempts=kind.max_attempts,
            dedupe_key=prepared.dedupe_key,
            created_by=w.actor.user_id,
            now=w.now,
        )
        w.audit(workspace_id, "job.submitted", job_id, kind=kind.name, params=prepared.params)
        return view(jobs_store.get_job(w.tx, workspace_id, job_id))


def get(ctx: Context, job_id: str) -> dict[str, Any]:
    with ctx.read() as r:
        row, _ = _load(r, job_id)
        return view(row)


def list_jobs(
    ctx: Context, workspace_id: str, *, state: str | None = None, before: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The workspace's jobs the caller's role may see, newest first (``before``: a job id, for the next page)."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"state: one of {', '.join(STATES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
    with ctx.read() as r:
        r.access.require(Action.WORKSPACE_READ, workspace_id, what="workspace")
        kinds = kinds_of(ctx.rt)
        if r.actor.is_system:
            names = None
        else:
            role = r.access.role(workspace_id)
            names = [k.name for k in kinds if role is not None and k.action in POLICY[role]]
        rows = jobs_store.list_jobs(
            r.tx, workspace_id, kinds=names, states=[state] if state else None, before=before, limit=limit
        )
        return [view(row) for row in rows]


def cancel(ctx: Context, job_id: str) -> dict[str, Any]:
    """Cancel a job: a queued one at once; a running one when its current chunk ends (the runner
    honours the request between chunks). Conflict for a job already finished."""
    with ctx.write() as w:
        row, kind = _load(w, job_id)
        w.access.require(kind.action if kind else Action.PROJECT_MANAGE, row.workspace_id, what="job")
        if row.state in jobs_store.FINISHED:
            raise Conflict(f"the job has already {_ended(row.state)}")
        if row.state == "queued":
            jobs_store.finish(w.tx, row.workspace_id, row.id, "cancelled", now=w.now)
            w.audit(row.workspace_id, "job.cancelled", row.id, kind=row.kind, done=row.progress_done)
        elif not row.cancel_requested:
            jobs_store.request_cancel(w.tx, row.workspace_id, row.id, now=w.now)
            w.audit(row.workspace_id, "job.cancel_requested", row.id, kind=row.kind)
        return view(jobs_store.get_job(w.tx, row.workspace_id, row.id))


def retry(ctx: Context, job_id: str) -> dict[str, Any]:
    """Queue a failed or cancelled job again, due now, with fresh attempts: it resumes from its last
    checkpoint. Conflict for a job that is queued, running or succeeded."""
    with ctx.write() as w:
        row, kind = _load(w, job_id)
        w.access.require(kind.action if kind else Action.PROJECT_MANAGE, row.workspace_id, what="job")
        if kind is None:
            raise Conflict(f"no job kind named {row.kind!r} is installed here")
        if row.state not in ("failed", "cancelled"):
            raise Conflict(f"only a failed or cancelled job can be retried (this one is {row.state})")
        jobs_store.reset_for_retry(w.tx, row.workspace_id, row.id, now=w.now)
        w.audit(row.workspace_id, "job.retried", row.id, kind=row.kind, was=row.state)
        return view(jobs_store.get_job(w.tx, row.workspace_id, row.id))


def _ended(state: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", "cancelled": "been cancelled"}[state]


def submit_reindex(ctx: Context, project_id: str, *, batch: int | None = None) -> dict[str, Any]:
    """Queue a ``search.reindex`` job for a project (``bastion task reindex``): its workspace is the project's."""
    from .projects import load_project

    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_MANAGE)
    params: dict[str, Any] = {"project_id": project.id}
    if batch is not None:
        params["batch"] = batch
    return submit(ctx, project.workspace_id, "search.reindex", params)
