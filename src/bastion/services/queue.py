"""The annotation queue: lease the caller's next task, skip it, let leases expire.

Design note — see docs/queue.md for the diagram.

* A task has ``overlap`` slots (distinct annotators). ``annotation_count`` counts
  submitted annotations and ``lease_count`` live leases; a task is offered only
  while ``annotation_count + lease_count < overlap``. Both counters change only in
  guarded ``UPDATE … WHERE annotation_count + lease_count < overlap`` statements,
  so the database itself refuses an over-full task whatever the interleaving.
* ``assignments`` has one row per (task, person), unique: a person can never be
  handed, or annotate, the same task twice. Its state is leased → submitted |
  skipped | expired.
* The next-task query reads the head of ``ix_tasks_queue`` (open tasks only, in
  priority then id order), so its cost does not grow with the project's size;
  it skips tasks the caller already touched (one index probe each).
* PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers
  (``BEGIN IMMEDIATE`` + a process lock), so no two claims interleave.
* Expired leases are reclaimed lazily by every ``next`` call of the project (a
  bounded batch each time): their slot returns to the pool. A late submit on an
  expired but not yet reclaimed lease still counts — the slot was still held.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, exists, false, insert, select, update

from .. import ids
from ..access import Action
from ..domain.errors import Conflict, PermissionDenied
from ..storage import schema
from .context import Context, Unit
from .projects import bump_counts, load_project
from .tasks import find_task_row, task_dict

T = schema.tasks
A = schema.assignments
RECLAIM_BATCH = 100
CLAIM_ATTEMPTS = 8


def reclaim_expired(u: Unit, workspace_id: str, project_id: str, limit: int = RECLAIM_BATCH) -> int:
    """Return expired leases' slots to the pool (a bounded batch)."""
    rows = u.execute(
        select(A.c.id, A.c.task_id)
        .where(A.c.workspace_id == workspace_id, A.c.project_id == project_id,
               A.c.state == "leased", A.c.expires_at < u.now)
        .limit(limit)
    ).all()
    for row in rows:
        changed = u.execute(
            update(A).where(A.c.workspace_id == workspace_id, A.c.id == row.id, A.c.state == "leased")
            .values(state="expired", updated_at=u.now)
        ).rowcount
        if changed:
            u.execute(
                update(T).where(T.c.workspace_id == workspace_id, T.c.id == row.task_id)
                .values(lease_count=T.c.lease_count - 1)
            )
    return len(rows)


def candidate_query(workspace_id: str, project_id: str, overlap: int, user_id: str, *, skip_locked: bool):
    """The next open task for ``user_id``: the head of ix_tasks_queue, minus what they touched."""
    touched = exists().where(
        A.c.workspace_id == T.c.workspace_id, A.c.task_id == T.c.id,
        A.c.user_id == user_id, A.c.state != "expired",
    )
    query = (
        select(T.c.id)
        .where(
            T.c.workspace_id == workspace_id,
            T.c.project_id == project_id,
            T.c.done == false(),
            T.c.annotation_count + T.c.lease_count < overlap,
            ~touched,
        )
        .order_by(T.c.priority.desc(), T.c.id)
        .limit(1)
    )
    return query.with_for_update(skip_locked=True, of=T) if skip_locked else query


def _candidate(u: Unit, workspace_id: str, project_id: str, overlap: int, user_id: str) -> str | None:
    query = candidate_query(workspace_id, project_id, overlap, user_id,
                            skip_locked=u.tx.dialect.name == "postgresql")
    return u.execute(query).scalar()


def next_task(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """Lease the caller's next task of the project, or None when none is left for them."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_WORK)
        ws, me = project.workspace_id, ctx.actor.user_id
        lease_ms = project.settings.lease_seconds * 1000
        held = w.execute(
            select(A.c.id, A.c.task_id, A.c.expires_at)
            .where(A.c.workspace_id == ws, A.c.project_id == project.id, A.c.user_id == me, A.c.state == "leased")
            .order_by(A.c.id).limit(1)
        ).first()
        # The caller's own lease (even if past its expiry, its slot is still counted): renew it.
        renewed = held is not None and w.execute(
            update(A).where(A.c.workspace_id == ws, A.c.id == held.id, A.c.state == "leased")
            .values(expires_at=w.now + lease_ms, updated_at=w.now)
        ).rowcount
        if renewed:
            task_id, expires_at = held.task_id, w.now + lease_ms
        else:
            reclaim_expired(w, ws, project.id)
            task_id = None
            for _ in range(CLAIM_ATTEMPTS):
                candidate = _candidate(w, ws, project.id, project.overlap, me)
                if candidate is None:
                    return None
                taken = w.execute(
                    update(T)
                    .where(T.c.workspace_id == ws, T.c.id == candidate,
                           T.c.annotation_count + T.c.lease_count < project.overlap)
                    .values(lease_count=T.c.lease_count + 1)
                ).rowcount
                if taken:
                    task_id = candidate
                    break
            if task_id is None:
                return None
            expires_at = w.now + lease_ms
            _set_assignment(w, ws, project.id, task_id, me, "leased", expires_at)
        found = find_task_row(w, task_id)
        task = task_dict(w, found.row, found.key_id, full=False)
        task["lease"] = {"expires_at": expires_at}
        w.audit(ws, "task.shown", task_id, via="queue")
        return task


def _set_assignment(w: Unit, ws: str, project_id: str, task_id: str, user_id: str, state: str, expires_at: int) -> None:
    """Insert the (task, person) assignment, or move an expired/skipped one to ``state``."""
    updated = w.execute(
        update(A).where(A.c.workspace_id == ws, A.c.task_id == task_id, A.c.user_id == user_id)
        .values(state=state, expires_at=expires_at, updated_at=w.now)
    ).rowcount
    if not updated:
        w.execute(
            insert(A).values(
                workspace_id=ws, id=ids.new_id("asg"), project_id=project_id, task_id=task_id,
                user_id=user_id, state=state, expires_at=expires_at, created_at=w.now, updated_at=w.now,
            )
        )


def skip_task(ctx: Context, task_id: str) -> None:
    """Give a leased task back; it is not offered to the caller again."""
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        ws = found.row.workspace_id
        w.access.require(Action.TASK_WORK, ws, what="task")
        mine = w.execute(
            select(A.c.id, A.c.state).where(A.c.workspace_id == ws, A.c.task_id == task_id,
                                            A.c.user_id == ctx.actor.user_id)
        ).first()
        if mine is None:
            w.access.require_task_visible(ws, False)
            raise PermissionDenied("this task was not assigned to you")
        released = w.execute(
            update(A).where(A.c.workspace_id == ws, A.c.id == mine.id, A.c.state == "leased")
            .values(state="skipped", updated_at=w.now)
        ).rowcount
        if not released:
            raise Conflict(f"this task is not leased to you (it is {mine.state})")
        w.execute(update(T).where(T.c.workspace_id == ws, T.c.id == task_id)
                  .values(lease_count=T.c.lease_count - 1))
        bump_counts(w, ws, found.row.project_id, skips=1)
        w.audit(ws, "task.skipped", task_id)


def take_slot(w: Unit, ws: str, task_id: str, overlap: int, *, had_lease: bool) -> bool | None:
    """Count one more annotation on a task; True if that completed it, None if it is full."""
    new_count = T.c.annotation_count + 1
    stmt = update(T).where(T.c.workspace_id == ws, T.c.id == task_id)
    if had_lease:
        stmt = stmt.values(lease_count=T.c.lease_count - 1)
    else:
        stmt = stmt.where(T.c.annotation_count + T.c.lease_count < overlap)
    row = w.execute(
        stmt.values(annotation_count=new_count, done=case((new_count >= overlap, True), else_=False))
        .returning(T.c.annotation_count, T.c.done)
    ).first()
    if row is None:
        return None
    return bool(row.done) and row.annotation_count - 1 < overlap


__all__ = ["next_task", "skip_task", "reclaim_expired", "take_slot"]

