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
  it skips tasks the caller already touched (one index probe each), starting
  from where the caller's previous scan ended while the project's queue epoch
  says nothing before that point reopened (``_candidate``).
* PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers
  (``BEGIN IMMEDIATE`` + a process lock), so no two claims interleave.
* Expired leases are reclaimed lazily by every ``next`` call of the project (a
  bounded batch each time): their slot returns to the pool. A late submit on an
  expired but not yet reclaimed lease still counts — the slot was still held.
"""

from __future__ import annotations

import random
from contextlib import nullcontext
from typing import Any

from .canaries import maybe_issue_canary
from .context import Context, Unit
from .credentials import require_credentials
from .guidelines import require_acknowledged
from .projects import bump_counts, load_project, project_read, workspace_hint
from .qualification import may_take
from .tasks import find_task_row, task_dict
from .workforce import skills_of
from ..access import Action
from ..domain.errors import Conflict, GuidelinesUnacknowledged, PermissionDenied
from ..storage import guidelines_store, projects_store, redaction_store
from ..storage import queue_store as qs
from ..storage.fast import Statement, prefetch

RECLAIM_BATCH = 100
DAY_MS = 24 * 3600 * 1000
CLAIM_ATTEMPTS = 8


def reclaim_expired(u: Unit, workspace_id: str, project_id: str, limit: int = RECLAIM_BATCH) -> int:
    """Return expired leases' slots to the pool (a bounded batch)."""
    rows = qs.EXPIRED.rows(u.tx, ws=workspace_id, project=project_id, now=u.now, limit=limit)
    for assignment_id, task_id in rows:
        if qs.EXPIRE.run(u.tx, ws=workspace_id, id=assignment_id, now=u.now):
            qs.RELEASE_SLOT.run(u.tx, ws=workspace_id, id=task_id)
    return len(rows)


MARKS_LIMIT = 100_000


def _candidate(
    u: Unit, workspace_id: str, project_id: str, overlap: int | None, user_id: str
) -> tuple[str, bool] | None:
    """The next open task for ``user_id``: the head of ix_tasks_queue, minus what they touched; with
    whether its slot is taken already (PostgreSQL claims it with its slot in one statement).

    The scan starts where the person's previous one ended (their *mark*) while the
    project's queue epoch is unchanged: nothing before the mark can have become a
    candidate for them without bumping it (storage/queue_store.py). Without that, a
    person who keeps half of an overlap-2 project's tasks open would walk past all
    of them on every call. A mark is a hint: a scan from it that finds nothing falls
    back to the head. ``overlap=None`` (qualification tests): every task is for
    everyone, in order.
    """
    tx = u.tx
    if overlap is None:
        anyone = qs.CANDIDATE_ANY.scalar(tx, ws=workspace_id, project=project_id, user=user_id)
        return None if anyone is None else (anyone, False)
    marks, key = u.rt.queue_marks, (workspace_id, project_id, user_id)
    epoch = qs.EPOCH.scalar(tx, ws=workspace_id, project=project_id)
    mark = marks.get(key)
    start = mark[1] if mark is not None and epoch is not None and mark[0] == epoch else None
    # A plain read (on PostgreSQL it also sees rows others are claiming, so the mark
    # never moves past a task that still has a slot for this person).
    found = qs.first_open(tx, workspace_id, project_id, user_id, overlap, start)
    if found is None and start is not None:
        found = qs.first_open(tx, workspace_id, project_id, user_id, overlap, None)
    if found is None:
        marks.pop(key, None)
        return None
    if epoch is not None:
        if len(marks) >= MARKS_LIMIT:
            marks.clear()
        marks[key] = (epoch, (found[0], found[1]))
    if tx.db.is_sqlite:  # one writer at a time: what was read is what is taken
        return found[1], False
    # PostgreSQL: claimed (SKIP LOCKED) and its slot taken in one statement (queue_store.CLAIM_SLOT: why
    # two annotators racing for a last slot cannot both take it). The peek above stays a statement of its
    # own: it places the mark, so it must see the rows others are claiming, which the claim passes over
    # (a mark moved past a locked task that still has a slot would hide it from this person).
    claimed = qs.first_open(tx, workspace_id, project_id, user_id, overlap, (found[0], found[1]), take=True)
    return None if claimed is None else (claimed[1], True)


def next_task(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """Lease the caller's next task of the project, or None when none is left for them."""
    with ctx.write() as w:
        return lease_next(w, project_id)


def _reads_ahead(w: Unit, ws: str, project_id: str, me: str) -> list[tuple[Statement, dict[str, Any]]]:
    """What ``_lease`` reads first, whatever it finds: the held lease, the guidelines' standing, a
    pause, the queue's epoch (the same statements and parameters as its calls). Not the expired
    leases: the reclaim's read of them may lock them (it does on main since 52c9020), and a
    lock is taken only where the reclaim runs."""
    mine = {"ws": ws, "project": project_id, "user": me}
    return [
        (qs.HELD, mine),
        (guidelines_store.STANDING, mine),
        (qs.PAUSED, mine),
        (qs.EPOCH, {"ws": ws, "project": project_id}),
    ]


def _lease(w: Unit, project, ws: str, me: str) -> tuple[str, int] | None:
    """Renew the caller's lease or claim a new task: (task id, lease expiry), or None."""
    lease_ms = project.settings.lease_seconds * 1000
    held = qs.find_lease(w.tx, project.id, workspace_id=ws, user_id=me)
    task_id: str | None
    # The caller's own lease (even if past its expiry, its slot is still counted): renew it.
    if held is not None and qs.RENEW.run(w.tx, ws=ws, id=held.id, expires=w.now + lease_ms, now=w.now):
        task_id, expires_at = held.task_id, w.now + lease_ms
    else:
        require_acknowledged(w, ws, project.id)  # new guidelines are read before a new task (services/guidelines.py)
        if not may_work_on(w, project, me):
            return None
        reclaim_expired(w, ws, project.id)
        unlimited = project.settings.qualification is not None
        # Now and then a canary (services/canaries.py): served like any task, never marked as one.
        task_id = None if unlimited else maybe_issue_canary(w, project, me)
        gold_rate = project.settings.quality.gold_rate
        if task_id is None and not unlimited and gold_rate and random.random() < gold_rate:
            # Mix a gold task in: served like any other, never marked as one.
            gold = qs.GOLD_CANDIDATE.scalar(w.tx, ws=ws, project=project.id, user=me)
            if gold is not None and qs.TAKE_ANY.run(w.tx, ws=ws, id=gold):
                task_id = gold
        for _ in range(0 if task_id else CLAIM_ATTEMPTS):
            found = _candidate(w, ws, project.id, None if unlimited else project.overlap, me)
            if found is None:
                return None
            candidate, taken = found
            if not taken:
                taken = bool(
                    qs.TAKE_ANY.run(w.tx, ws=ws, id=candidate)
                    if unlimited
                    else qs.TAKE_SLOT.run(w.tx, ws=ws, id=candidate, overlap=project.overlap)
                )
            if taken:
                task_id = candidate
                break
        if task_id is None:
            return None
        expires_at = w.now + lease_ms
        qs.set_assignment(w.tx, ws, project.id, task_id, me, "leased", expires_at, defer=True)
    return task_id, expires_at


def lease_next(w: Unit, project_id: str) -> dict[str, Any] | None:
    """``next_task`` inside an open transaction (also used right after a submit)."""
    me = w.actor.user_id
    w.hold_person()
    # PostgreSQL: the project and the lease's first reads (which depend on nothing read here) in one
    # round trip after the person's lock (fast.prefetch; the first write drops what is left unread).
    # The lease's reads need the project's workspace: as this process last read it (a project never
    # moves). On the first call here, or with a wrong hint, they are asked apart once the project is read.
    hint = workspace_hint(project_id)
    ahead = _reads_ahead(w, hint, project_id, me) if hint is not None else []
    with prefetch(w.tx, [project_read(w, project_id), *ahead]):
        project = load_project(w, project_id, Action.TASK_WORK)
        ws = project.workspace_id
        require_credentials(w, project, me)  # before a held lease is renewed too: an expired NDA stops at once
        with nullcontext() if ws == hint else prefetch(w.tx, _reads_ahead(w, ws, project.id, me)):
            leased = _lease(w, project, ws, me)
    if leased is None:
        return None
    task_id, expires_at = leased
    # PostgreSQL: the wall's inputs, the task's row and flags in one round trip (the row is only
    # opened once the wall has decided).
    shown = [(qs.TASK_ROW, {"id": task_id, "user": me}), (redaction_store.TASK_FLAGS, {"ws": ws, "id": task_id})]
    with prefetch(w.tx, [*w.wall_reads(ws), *([] if w.actor.is_system else shown)]):
        w.see_content(ws)  # walls and exclusions decide before anything is shown
        found = find_task_row(w, task_id)
        task = task_dict(w, found, found.key_id, full=False)
    task["lease"] = {"expires_at": expires_at}
    w.audit(ws, "task.shown", task_id, via="queue")
    return task


def held_task(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """The task the caller holds in the project, shown again as it is — nothing leased, renewed or bound.

    For the labelling page's GET (a link another site can make the browser follow):
    the wall is decided without binding (the lease bound the person already), the
    lease is left as it is, and the showing is audited (``task.shown``, via "page").
    None when the caller holds no live lease here.
    """
    with ctx.write() as w:
        return show_held(w, project_id)


def show_held(w: Unit, project_id: str) -> dict[str, Any] | None:
    """``held_task`` inside an open transaction (the labelling page's one call: services/labelling.py)."""
    project = load_project(w, project_id, Action.TASK_WORK)
    ws = project.workspace_id
    require_credentials(w, project, w.actor.user_id)
    w.see_content(ws)
    held = qs.find_live_lease(w.tx, project.id, workspace_id=ws, user_id=w.actor.user_id, now=w.now)
    if held is None:
        return None
    found = find_task_row(w, held.task_id)
    task = task_dict(w, found, found.key_id, full=False)
    task["lease"] = {"expires_at": held.expires_at}
    w.audit(ws, "task.shown", held.task_id, via="page")
    return task


def may_work_on(w: Unit, project, user_id: str) -> bool:
    """Routing and need-to-know: skills, caps and qualification state (walls are decided on showing).

    Raises PermissionDenied when skills are missing (the person can act on that);
    returns False when they simply have nothing more to do here (cap reached, test done).
    """
    rules = project.settings
    paused = qs.PAUSED.scalar(w.tx, ws=project.workspace_id, project=project.id, user=user_id)
    if paused is not None:
        raise PermissionDenied(f"your work on this project is paused ({paused}); a manager can lift the pause")
    wanted = rules.required_skills
    if (wanted.all or wanted.any) and not wanted.met_by(skills_of(w, user_id)):
        named = [*wanted.all, *([f"one of {', '.join(wanted.any)}"] if wanted.any else [])]
        raise PermissionDenied("this project needs skills: " + ", ".join(named))
    if rules.qualification is not None and not may_take(w, project, user_id):
        return False
    mine = {"workspace_id": project.workspace_id, "user_id": user_id}
    if rules.max_tasks_per_person is not None:
        seen = qs.count_assignments(w.tx, project.id, **mine)
        if seen >= rules.max_tasks_per_person:
            return False
    if rules.max_tasks_per_day is not None:
        today = qs.count_assignments(w.tx, project.id, **mine, since=w.now - DAY_MS)
        if today >= rules.max_tasks_per_day:
            return False
    return True


def next_any(ctx: Context) -> dict[str, Any] | None:
    """The caller's next task across every project they may work on.

    A lease the caller holds comes first (anywhere). Otherwise projects are tried
    by project priority, then age; within a project, task priority then age.
    Projects whose skills the caller lacks, whose workspace is walled off for
    them, or where a cap or a finished test leaves nothing, are passed over.
    """
    with ctx.read() as r:
        workspace_ids = r.access.workspace_ids(Action.TASK_WORK)
        if not workspace_ids:
            return None
        held = qs.first_leased_project(r.tx, workspace_ids=workspace_ids, user_id=ctx.actor.user_id)
        rows = projects_store.list_projects_by_priority(r.tx, workspace_ids=workspace_ids)
        open_walls = {ws: r.access.content_allowed(ws, r.now) for ws in {row.workspace_id for row in rows}}
    order = ([held] if held else []) + [row.id for row in rows if open_walls[row.workspace_id] and row.id != held]
    owed: GuidelinesUnacknowledged | None = None
    for project_id in order:
        try:
            task = next_task(ctx, project_id)
        except PermissionDenied:
            continue  # skills or a credential missing, or a wall raised since the check above
        except GuidelinesUnacknowledged as exc:  # passed over; said when no other project has a task
            owed = owed or exc
            continue
        if task is not None:
            return task
    if owed is not None:
        raise owed
    return None


def skip_task(ctx: Context, task_id: str) -> None:
    """Give a leased task back; it is not offered to the caller again."""
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        w.access.require(Action.TASK_WORK, ws, what="task")
        mine = qs.find_assignment(w.tx, task_id, workspace_id=ws, user_id=ctx.actor.user_id)
        if mine is None:
            w.access.require_task_visible(ws, False)
            raise PermissionDenied("this task was not assigned to you")
        if not qs.skip_assignment(w.tx, mine.id, task_id, workspace_id=ws, now=w.now):
            raise Conflict(f"this task is not leased to you (it is {mine.state})")
        bump_counts(w, ws, found.project_id, skips=1)
        w.audit(ws, "task.skipped", task_id)


def take_slot(w: Unit, ws: str, task_id: str, overlap: int, *, had_lease: bool, unlimited: bool = False) -> bool | None:
    """Count one more annotation on a task; True if that completed it, None if it is full."""
    if unlimited:  # a qualification test: everyone answers every task; it is never "done"
        if had_lease:
            qs.RELEASE_SLOT.run(w.tx, ws=ws, id=task_id)
        row = qs.COUNT_ANY.one(w.tx, ws=ws, id=task_id)
        return None if row is None else False
    statement = qs.COUNT_SLOT_LEASED if had_lease else qs.COUNT_SLOT_FREE
    row = statement.one(w.tx, ws=ws, id=task_id, overlap=overlap, yes=True, no=False)
    if row is None:
        return None
    count, done = row
    return bool(done) and count - 1 < overlap


def consume_and_count(w: Unit, ws: str, task_id: str, assignment_id: str, overlap: int) -> tuple[bool, bool | None]:
    """PostgreSQL: consume the caller's lease (guarded: a concurrent reclaim cannot also give its slot
    back) and count the annotation in its slot — or in a free one when the lease was reclaimed meanwhile
    — in one statement. (whether the lease was consumed, ``take_slot``'s answer)."""
    row = qs.CONSUME_AND_COUNT.one(w.tx, ws=ws, id=task_id, assignment=assignment_id, now=w.now, overlap=overlap)
    if row is None:  # full, and the lease was not there to consume
        return False, None
    count, done, consumed = row
    return bool(consumed), bool(done) and count - 1 < overlap


__all__ = ["held_task", "next_task", "show_held", "skip_task", "reclaim_expired", "take_slot", "consume_and_count"]
