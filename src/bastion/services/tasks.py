"""Reading tasks: one by id, or a project's tasks page by page (keyset paging).

Workers (annotators) see only tasks handed to them, and only what they need to
label (data and predictions, not the client's ``meta``). Every read of task
content by a person is audited (``task.read``, ``tasks.listed``).
"""

from __future__ import annotations

from typing import Any

from .context import Context, Unit
from .projects import load_project
from .variants import present_task
from ..access import Action
from ..domain.errors import InvalidInput, NotFound
from ..storage import queue_store, tasks_store
from ..storage.queue_store import TaskRecord, task_record

MAX_PAGE = 1000


def find_task_row(u: Unit, task_id: str) -> TaskRecord:
    """The task and its project, within the actor's workspaces; NotFound otherwise."""
    found = task_record(u.tx, task_id, None if u.actor.is_system else u.actor.user_id)
    if found is None:
        raise NotFound("task not found")
    return found


def task_dict(
    u: Unit, row: Any, key_id: str, *, full: bool, config: Any = None, original: bool = False
) -> dict[str, Any]:
    """Decrypt a task row into its API shape, as the asking person is shown it; ``full`` adds meta and counters.

    Shown means: the person's own variant of every text (services/variants.py); a
    held task only to owners, a canary only to its recipients. ``original``: the stored
    data as it is (an owner's data browser; the caller has decided they may see it).
    """
    sealer = u.sealer(row.workspace_id, key_id)
    body = sealer.open_json("tasks", row.id, "payload", row.payload)
    out: dict[str, Any] = {
        "id": row.id,
        "project_id": row.project_id,
        "data": body["data"],
        "predictions": sealer.open_json("tasks", row.id, "predictions", row.predictions)
        if row.predictions is not None
        else [],
    }
    if full:
        out.update(
            external_id=body.get("external_id"),
            meta=body.get("meta"),
            priority=row.priority,
            annotation_count=row.annotation_count,
            done=bool(row.done),
            created_at=row.created_at,
        )
    if original:
        return out
    return present_task(u, row, out, key_id=key_id, config=config)


def get_task(ctx: Context, task_id: str) -> dict[str, Any]:
    with ctx.write() as w:
        w.hold_person()
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        full = w.access.can_browse(ws)
        if not full:
            w.access.require_task_visible(ws, queue_store.is_assigned(w.tx, ws, task_id, ctx.actor.user_id))
        w.see_content(ws)
        task = task_dict(w, found, found.key_id, full=full)
        w.audit(ws, "task.read", task_id)
        return task


def list_tasks(ctx: Context, project_id: str, *, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
    """A page of a project's tasks in id order; ``next_cursor`` continues it."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 60):
        raise InvalidInput("cursor: not a cursor returned by this API")
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_BROWSE)
        w.see_content(project.workspace_id)
        # Canaries are not the project's tasks; held ones wait for an owner (GET …/held).
        rows = tasks_store.list_task_page(
            w.tx, project.id, workspace_id=project.workspace_id, after=cursor or "", limit=limit + 1
        )
        page = rows[:limit]
        config = ctx.rt.task_types.get(project.task_type).parse_config(project.config)
        tasks = [task_dict(w, row, project.key_id, full=True, config=config) for row in page]
        if tasks:
            w.audit(
                project.workspace_id,
                "tasks.listed",
                project.id,
                count=len(tasks),
                first=tasks[0]["id"],
                last=tasks[-1]["id"],
            )
        return {"items": tasks, "next_cursor": page[-1].id if len(rows) > limit else None}
