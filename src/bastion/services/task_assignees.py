"""Giving a task to a named person: the queue serves it to them first.

An assignment is a lease made on the person's behalf (``assignments``, state
``leased``) that lasts ``ASSIGNMENT_SECONDS`` (or the project's lease time, if
longer) instead of the project's lease time. It holds one of the task's overlap
slots, like any lease, so:

* the person's next ``next`` call in the project serves it before any new task
  (the queue renews a lease the person holds first: services/queue.py), and from
  then on it is an ordinary lease of the project's length;
* nobody else is served that slot; with ``overlap`` > 1 the task's other slots stay
  in the pool (an assignment names one of its annotators, not all of them);
* the queue itself is unchanged: no extra statement on next or submit.

Who may be given a task is decided when it is given, by the rules the queue
applies: a member whose role works on tasks, not paused on the project, with the
project's skills, under its caps, who has not already annotated or skipped the
task, and whom the walls let see the workspace's data (decided for them, without
binding them: they bind when they are shown it). Walls are decided again when the
task is shown: a person walled off meanwhile is never shown it.

When the assignee cannot take it, the task returns to the pool: an assignment not
opened within ``ASSIGNMENT_SECONDS`` expires like a lease (reclaimed by the next
``next`` call of the project); removing the person from the workspace, pausing
them on the project or recording a tie the workspace excludes ends their leases
at once; and ``unassign_task`` ends every lease on the task.
"""

from __future__ import annotations

from typing import Any

from .context import Context
from .credentials import require_credentials
from .queue import may_work_on
from .task_changes import find_managed_task
from ..access import POLICY, Action
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.users import normalise_email
from ..domain.walls import decide
from ..domain.workspaces import Role
from ..storage import memberships_store, queue_store, users_store, workforce_store

ASSIGNMENT_SECONDS = 7 * 24 * 3600


def assign_task(ctx: Context, task_id: str, user: Any) -> dict[str, Any]:
    """Give an open task to a member (by e-mail): their next task in the project is this one."""
    if not isinstance(user, str) or "@" not in user or len(user) > 320:
        raise InvalidInput("user: the e-mail of a member of the workspace")
    with ctx.write() as w:
        project, (task,) = find_managed_task(w, task_id)
        ws = project.workspace_id
        person = users_store.find_user_by_email(w.tx, normalise_email(user))
        role = None if person is None else memberships_store.find_role(w.tx, ws, person.id)
        if person is None or role is None:
            raise NotFound("no member of this workspace has this e-mail")
        if Action.TASK_WORK not in POLICY[Role(role)]:
            raise Conflict(f"a member with the role {role} does not work on tasks")
        if project.settings.qualification is not None:
            raise Conflict("a qualification test's tasks are for everyone: they cannot be assigned")
        if task.is_gold or task.held or task.done:
            raise Conflict("only an open task can be assigned (this one is done, held or gold)")
        mine = queue_store.find_assignment(w.tx, task_id, workspace_id=ws, user_id=person.id)
        if mine is not None and mine.state == "leased":
            return {"id": task_id, "user": person.email, "user_id": person.id, "expires_at": None}
        if mine is not None and mine.state in ("submitted", "skipped"):
            raise Conflict(f"this person has already {mine.state} this task")
        edges = workforce_store.list_edges(w.tx, ws, w.now)
        with w.wall_check_scope([ws, *(edge.other(ws) for edge in edges)]):
            history = workforce_store.list_history(w.tx, person.id)
        walls = decide(
            ws,
            history,
            edges,
            workforce_store.list_affiliations(w.tx, person.id),
            workforce_store.list_exclusions(w.tx, ws),
            w.now,
        )
        if not walls.allowed:
            raise Conflict("walls keep this person from this workspace's data (see `bastion walls explain`)")
        try:
            require_credentials(w, project, person.id)
            may = may_work_on(w, project, person.id)
        except PermissionDenied as exc:
            raise Conflict(f"this person cannot be served this project's tasks: {exc.message}") from None
        if not may:
            raise Conflict("this person has reached a cap on this project's tasks")
        if not queue_store.TAKE_SLOT.run(w.tx, ws=ws, id=task_id, overlap=project.overlap):
            raise Conflict("the task has no free slot: its overlap is reached or leased")
        expires_at = w.now + 1000 * max(ASSIGNMENT_SECONDS, project.settings.lease_seconds)
        queue_store.set_assignment(w.tx, ws, project.id, task_id, person.id, "leased", expires_at)
        w.audit(ws, "task.assigned", task_id, user=person.id)
    return {"id": task_id, "user": person.email, "user_id": person.id, "expires_at": expires_at}


def unassign_task(ctx: Context, task_id: str) -> dict[str, Any]:
    """End every lease on the task (an assignment, or a lease taken through the queue): its slots return
    to the pool. Answers how many there were."""
    with ctx.write() as w:
        project, _ = find_managed_task(w, task_id)
        ws = project.workspace_id
        released = queue_store.release_task_leases(w.tx, ws, task_id)
        if released:
            w.audit(ws, "task.unassigned", task_id, users=released)
    return {"id": task_id, "released": len(released)}
