"""The jobs table: submitting, claiming under a lease, checkpoints, state changes.

A job is claimed by one runner at a time for a lease (``lease_owner`` until
``lease_expires_at``). Claiming reads the due rows (queued and due, or running with
an expired lease) with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so runners never
wait on each other's candidates; on SQLite the write transaction (``BEGIN
IMMEDIATE``) already excludes every other claimer (``storage/dialects.py``).

Every write of a running job is guarded by its lease: ``hold`` renews the lease only
while this runner still owns it and the job is still running, and a chunk's work
commits only after ``hold`` succeeded in the same transaction. A runner whose lease
was taken over (it stalled past the expiry) finds nothing to hold and rolls its
chunk back, so no chunk is committed twice.

The trap: the claim reads across workspaces (``ix_jobs_due`` leads with the state,
not the workspace): only the runner, acting as the local operator, calls it. Every
other query names the workspace or is limited to the caller's workspaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Row, Select, and_, case, func, insert, or_, select, update

from . import schema
from .database import Tx
from .integrity import refused_as
from ..domain.errors import Conflict

J = schema.jobs

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")


class JobRow(NamedTuple):
    workspace_id: str
    id: str
    kind: str
    params: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_after: int
    lease_owner: str | None
    lease_expires_at: int | None
    heartbeat_at: int | None
    progress_done: int
    progress_total: int | None
    checkpoint: dict[str, Any] | None
    last_error: str | None
    cancel_requested: bool
    dedupe_key: str | None
    created_by: str
    created_at: int
    updated_at: int
    started_at: int | None
    finished_at: int | None


_COLUMNS = [getattr(J.c, name) for name in JobRow._fields]


def _row(row: Row[Any]) -> JobRow:
    values = dict(row._mapping)
    values["params"] = orjson.loads(values["params"])
    values["checkpoint"] = None if values["checkpoint"] is None else orjson.loads(values["checkpoint"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return JobRow(**values)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def insert_job(
    tx: Tx,
    workspace_id: str,
    job_id: str,
    *,
    kind: str,
    params: dict[str, Any],
    max_attempts: int,
    dedupe_key: str | None,
    created_by: str,
    now: int,
) -> None:
    """A queued job, due now. Conflict when a queued or running job of the workspace has its dedupe key."""
    with refused_as(tx, Conflict(f"a job with the dedupe key {dedupe_key!r} is already queued or running")):
        tx.execute(
            insert(J).values(
                workspace_id=workspace_id,
                id=job_id,
                kind=kind,
                params=_json(params),
                state="queued",
                attempts=0,
                max_attempts=max_attempts,
                run_after=now,
                progress_done=0,
                cancel_requested=False,
                dedupe_key=dedupe_key,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
        )


def find_active_by_key(tx: Tx, workspace_id: str, dedupe_key: str) -> JobRow | None:
    row = tx.execute(
        select(*_COLUMNS).where(J.c.workspace_id == workspace_id, J.c.dedupe_key == dedupe_key, J.c.state.in_(ACTIVE))
    ).first()
    return None if row is None else _row(row)


def find_job(tx: Tx, job_id: str, *, workspace_ids: Sequence[str] | None) -> JobRow | None:
    """The job, within these workspaces (None: the local operator, any workspace)."""
    query = select(*_COLUMNS).where(J.c.id == job_id)
    if workspace_ids is not None:
        if not workspace_ids:
            return None
        query = query.where(J.c.workspace_id.in_(list(workspace_ids)))
    row = tx.execute(query).first()
    return None if row is None else _row(row)


def get_job(tx: Tx, workspace_id: str, job_id: str) -> JobRow:
    row = tx.execute(select(*_COLUMNS).where(J.c.workspace_id == workspace_id, J.c.id == job_id)).one()
    return _row(row)


def list_jobs(
    tx: Tx,
    workspace_id: str,
    *,
    kinds: Sequence[str] | None,
    states: Sequence[str] | None,
    before: str | None,
    limit: int,
) -> list[JobRow]:
    """The workspace's jobs of these kinds (None: all), newest first (ids are time-ordered), before ``before``."""
    query = select(*_COLUMNS).where(J.c.workspace_id == workspace_id)
    if kinds is not None:
        if not kinds:
            return []
        query = query.where(J.c.kind.in_(list(kinds)))
    if states:
        query = query.where(J.c.state.in_(list(states)))
    if before:
        query = query.where(J.c.id < before)
    rows = tx.execute(query.order_by(J.c.id.desc()).limit(limit)).all()
    return [_row(row) for row in rows]


def count_active(tx: Tx, workspace_id: str) -> int:
    return int(
        tx.execute(
            select(func.count()).select_from(J).where(J.c.workspace_id == workspace_id, J.c.state.in_(ACTIVE))
        ).scalar_one()
    )


# -- the runner's side ----------------------------------------------------------------------------


def _due(now: int, kinds: Sequence[str], job_id: str | None) -> Select[tuple[str, str]]:
    due = or_(
        and_(J.c.state == "queued", J.c.run_after <= now),
        and_(J.c.state == "running", J.c.lease_expires_at < now),
    )
    query = select(J.c.workspace_id, J.c.id).where(due, J.c.kind.in_(list(kinds)))
    if job_id is not None:
        query = query.where(J.c.id == job_id)
    return query


def any_due(tx: Tx, *, now: int, kinds: Sequence[str], job_id: str | None = None) -> bool:
    """Whether a claim would find a job (a read: an idle runner's poll takes no write lock)."""
    return bool(kinds) and tx.execute(_due(now, kinds, job_id).limit(1)).first() is not None


def claim(
    tx: Tx, owner: str, *, now: int, lease_ms: int, kinds: Sequence[str], job_id: str | None = None
) -> JobRow | None:
    """Claim one due job of these kinds (or this one job, if it is due) for a lease: the oldest due first.

    Due: queued with ``run_after`` passed, or running under an expired lease (its runner died).
    The claim counts an attempt. None when nothing is due.
    """
    if not kinds:
        return None
    query = _due(now, kinds, job_id).order_by(J.c.run_after, J.c.id).limit(1)
    if tx.dialect.skip_locked:
        query = query.with_for_update(skip_locked=True)
    found = tx.execute(query).first()
    if found is None:
        return None
    tx.execute(
        update(J)
        .where(J.c.workspace_id == found.workspace_id, J.c.id == found.id)
        .values(
            state="running",
            lease_owner=owner,
            lease_expires_at=now + lease_ms,
            heartbeat_at=now,
            attempts=J.c.attempts + 1,
            started_at=func.coalesce(J.c.started_at, now),
            updated_at=now,
        )
    )
    return get_job(tx, found.workspace_id, found.id)


def hold(tx: Tx, workspace_id: str, job_id: str, owner: str, *, now: int, lease_ms: int) -> JobRow | None:
    """Renew this runner's lease (a heartbeat) and read the job; None when the lease is no longer ours.

    On PostgreSQL the update also locks the row until the transaction ends: a chunk that
    holds first keeps every other runner off the job until it commits.
    """
    renewed = tx.execute(
        update(J)
        .where(J.c.workspace_id == workspace_id, J.c.id == job_id, J.c.lease_owner == owner, J.c.state == "running")
        .values(lease_expires_at=now + lease_ms, heartbeat_at=now)
    ).rowcount
    return get_job(tx, workspace_id, job_id) if renewed else None


def save_progress(
    tx: Tx, workspace_id: str, job_id: str, *, checkpoint: dict[str, Any], done: int, total: int | None, now: int
) -> None:
    tx.execute(
        update(J)
        .where(J.c.workspace_id == workspace_id, J.c.id == job_id)
        .values(checkpoint=_json(checkpoint), progress_done=done, progress_total=total, updated_at=now)
    )


def finish(tx: Tx, workspace_id: str, job_id: str, state: str, *, now: int, error: str | None = None) -> None:
    """A job ends (succeeded, failed or cancelled): its lease goes."""
    values: dict[str, Any] = {
        "state": state,
        "lease_owner": None,
        "lease_expires_at": None,
        "finished_at": now,
        "updated_at": now,
    }
    if error is not None:
        values["last_error"] = error
    tx.execute(update(J).where(J.c.workspace_id == workspace_id, J.c.id == job_id).values(**values))


def requeue(
    tx: Tx, workspace_id: str, job_id: str, *, run_after: int, now: int, error: str | None, uncount: bool = False
) -> None:
    """Back to the queue, due at ``run_after``, its lease gone (``uncount``: the attempt did not count)."""
    values: dict[str, Any] = {
        "state": "queued",
        "lease_owner": None,
        "lease_expires_at": None,
        "run_after": run_after,
        "updated_at": now,
    }
    if error is not None:
        values["last_error"] = error
    if uncount:
        values["attempts"] = case((J.c.attempts > 0, J.c.attempts - 1), else_=0)
    tx.execute(update(J).where(J.c.workspace_id == workspace_id, J.c.id == job_id).values(**values))


def request_cancel(tx: Tx, workspace_id: str, job_id: str, *, now: int) -> None:
    tx.execute(
        update(J)
        .where(J.c.workspace_id == workspace_id, J.c.id == job_id)
        .values(cancel_requested=True, updated_at=now)
    )


def reset_for_retry(tx: Tx, workspace_id: str, job_id: str, *, now: int) -> None:
    """A failed or cancelled job queued again, due now, with fresh attempts; its checkpoint is kept (it
    resumes). Conflict when another job with its dedupe key is queued or running meanwhile."""
    with refused_as(tx, Conflict("another job with this job's dedupe key is queued or running")):
        tx.execute(
            update(J)
            .where(J.c.workspace_id == workspace_id, J.c.id == job_id, J.c.state.in_(("failed", "cancelled")))
            .values(
                state="queued",
                attempts=0,
                run_after=now,
                cancel_requested=False,
                finished_at=None,
                updated_at=now,
            )
        )
