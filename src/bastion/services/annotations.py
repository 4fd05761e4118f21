"""Submitting and reading annotations.

Submitting validates the result against the project's task type, consumes the
caller's lease (or a free slot, for people allowed to work without one), and
writes the sealed result — all in one transaction with its audit record. The
unique (task, person) constraints make a second annotation by the same person
impossible even under concurrent requests.
"""

from __future__ import annotations

import hashlib
from typing import Any

from . import search
from .canaries import answer_canary
from .chat import settle_result
from .context import Context, Unit
from .credentials import require_credentials
from .guidelines import version_in_force
from .projects import bump_counts, config_of, load_project
from .qualification import grade_if_complete
from .queue import consume_and_count, lease_next, take_slot
from .tasks import find_task_row
from .variants import annotations_as_shown, viewed_by
from .workforce import release_leases
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, GuidelinesUnacknowledged, InvalidInput, PermissionDenied
from ..storage import (
    annotations_store,
    guidelines_store,
    own_annotations_store,
    projects_store,
    redaction_store,
)
from ..storage import queue_store as qs
from ..storage.annotations_store import AnnotationRow
from ..storage.fast import Statement, prefetch

MAX_LEAD_TIME_MS = 7 * 24 * 3600 * 1000
# A submit may not claim more active time (``lead_time_ms``) than its lease has lasted, lease start to
# now, give or take this much for clock rounding (docs/workforce.md, "Time"). Without a lease on the
# task (people who may work without one) only this much may be claimed.
CLAIM_TOLERANCE_MS = 1000
MAX_PASTES = 100_000
MAX_PASTED_CHARS = 100_000_000


def annotation_dict(u: Unit, row: AnnotationRow, key_id: str) -> dict[str, Any]:
    """An annotation in its API shape, its result opened."""
    return {
        "id": row.id,
        "task_id": row.task_id,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "result": u.sealer(row.workspace_id, key_id).open_json("annotations", row.id, "result", row.result),
        "lead_time_ms": row.lead_time_ms,
        "created_at": row.created_at,
    }


def submit_annotation(
    ctx: Context,
    task_id: str,
    result: Any,
    *,
    lead_time_ms: int | None = None,
    paste_count: int | None = None,
    pasted_chars: int | None = None,
) -> dict[str, Any]:
    """Record the caller's result for a task."""
    with ctx.write() as w:
        return record_annotation(w, task_id, result, lead_time_ms, paste_count=paste_count, pasted_chars=pasted_chars)


def submit_and_next(
    ctx: Context,
    task_id: str,
    result: Any,
    *,
    lead_time_ms: int | None = None,
    paste_count: int | None = None,
    pasted_chars: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Submit a result and lease the next task of the same project, in one transaction.

    One durable commit instead of two: the labelling loop's natural step. When new guidelines wait
    to be acknowledged, the submit stands and no next task comes (the annotation says which version:
    ``guidelines_owed``); the gate refuses before the queue writes anything.
    """
    with ctx.write() as w:
        annotation = record_annotation(
            w, task_id, result, lead_time_ms, paste_count=paste_count, pasted_chars=pasted_chars
        )
        try:
            return annotation, lease_next(w, annotation["project_id"])
        except GuidelinesUnacknowledged as exc:
            return {**annotation, "guidelines_owed": exc.details["version"]}, None


def _count(name: str, value: Any, most: int) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most):
        raise InvalidInput(f"{name}: an integer from 0 to {most}")


def check_time_claim(lead_time_ms: int | None, leased_at: int | None, now: int) -> None:
    """Refuse a claim of more active time than the lease has lasted (``leased_at`` None: no lease)."""
    if lead_time_ms is None:
        return
    most = CLAIM_TOLERANCE_MS + (max(now - leased_at, 0) if leased_at is not None else 0)
    if lead_time_ms > most:
        held = "how long your lease on this task has lasted" if leased_at is not None else "no lease on this task"
        raise InvalidInput(
            f"lead_time_ms: at most {most} ms ({held}, with {CLAIM_TOLERANCE_MS} ms for clock rounding)",
            details=[{"path": "lead_time_ms", "message": f"at most {most}", "limit": most}],
        )


def record_annotation(
    w: Unit,
    task_id: str,
    result: Any,
    lead_time_ms: int | None,
    *,
    paste_count: int | None = None,
    pasted_chars: int | None = None,
) -> dict[str, Any]:
    """``submit_annotation`` inside an open transaction."""
    _count("lead_time_ms", lead_time_ms, MAX_LEAD_TIME_MS)
    _count("paste_count", paste_count, MAX_PASTES)
    _count("pasted_chars", pasted_chars, MAX_PASTED_CHARS)
    me = w.actor.user_id
    w.hold_person()
    found = find_task_row(w, task_id)
    task, ws = found, found.workspace_id
    w.access.require(Action.TASK_WORK, ws, what="task")
    # PostgreSQL: what the checks below read, in one round trip (fast.prefetch): the wall's inputs, the
    # person's assignment, the task's flags, the project, the guidelines' standing.
    with prefetch(w.tx, _reads_ahead(w, found)):
        w.see_content(ws)
        mine = qs.find_assignment(w.tx, task_id, workspace_id=ws, user_id=me)
        if mine is None and not w.access.can_browse(ws):
            raise PermissionDenied("this task was not assigned to you")
        if mine is not None and mine.state == "submitted":
            raise Conflict("you have already annotated this task")
        check_time_claim(lead_time_ms, mine.leased_at if mine is not None else None, w.now)

        task_type = w.rt.task_types.get(found.task_type)
        sealer = w.sealer(ws, found.key_id)
        config = config_of(w, found)
        data = sealer.open_json("tasks", task.id, "payload", task.payload)["data"]
        # What this person was shown (services/variants.py): offsets on their variant map back to the
        # canonical text before validation; a canary's answer is kept apart, never an annotation.
        view = viewed_by(w, found, task_type, config, data)
        if view.is_canary:
            return answer_canary(w, found, view, task_type, config, data, result, lead_time_ms, mine)
        if found.task_type == "chat":  # a chat's replies are the models', kept server-side (services/chat.py)
            result = settle_result(w, found, result)
        normalised = task_type.validate_result(config, data, view.to_canonical(result))
        # Read before the first write (nothing this transaction writes changes them).
        project = load_project(w, task.project_id, Action.TASK_WORK)
        guidelines = version_in_force(w, ws, task.project_id)

    qualification = found.is_qualification
    # Gold tasks are for everyone (no overlap) and are graded on the spot.
    unlimited = qualification or bool(found.is_gold)
    leased = mine is not None and mine.state == "leased"
    if leased and not unlimited and not w.tx.db.is_sqlite:
        assert mine is not None  # leased
        require_credentials(w, project, me)  # a lease taken before an NDA expired takes no answer after
        # The two steps below in one statement (queue_store.CONSUME_AND_COUNT).
        consumed, completed = consume_and_count(w, ws, task_id, mine.id, found.overlap)
    else:
        # Consume the lease with a guarded transition, so a concurrent reclaim of the
        # same lease cannot also give its slot back.
        consumed = (
            mine is not None and mine.state == "leased" and bool(qs.CONSUME.run(w.tx, ws=ws, id=mine.id, now=w.now))
        )
        require_credentials(w, project, me)  # a lease taken before an NDA expired takes no answer after
        completed = take_slot(w, ws, task_id, found.overlap, had_lease=consumed, unlimited=unlimited)
    if completed is None:
        raise Conflict("this task already has all the annotations it needs")
    if not consumed:
        qs.set_assignment(w.tx, ws, task.project_id, task_id, me, "submitted", w.now)
    annotation_id = ids.new_id("ann")
    gold = gold_score = None
    if found.is_gold and found.gold is not None:
        gold = sealer.open_json("tasks", task_id, "gold", found.gold)
        gold_score = float(task_type.gold_score(config, data, normalised, gold))
    review = review_status(project.settings.quality, annotation_id, is_gold=bool(found.is_gold))
    if project.settings.quality.review == "sample" and not found.is_gold:
        # An answer given again after an undo keeps the sample's draw for the one taken back
        # (services/own_annotations.py): an undo must not re-roll whether a reviewer sees it.
        carried = own_annotations_store.carried_review(w.tx, task_id, workspace_id=ws, user_id=me)
        if carried is not None:
            review = carried
    try:
        qs.INSERT_ANNOTATION.run(
            w.tx,
            ws=ws,
            id=annotation_id,
            project=task.project_id,
            task=task_id,
            user=me,
            result=sealer.seal_json("annotations", annotation_id, "result", normalised),
            lead=lead_time_ms,
            review=review,
            gold_score=gold_score,
            now=w.now,
            guidelines=guidelines,
            pastes=paste_count,
            pasted=pasted_chars,
        )
    except w.tx.db.integrity_errors as exc:  # a concurrent submit by the same person won the race
        raise Conflict("you have already annotated this task") from exc
    if not found.is_gold:  # gold answers are calibration, not among the project's annotations
        bump_counts(w, ws, task.project_id, annotations=1, done=1 if completed else 0)
        # The data browser's index: the answer's labels; at the overlap, the task's agreement.
        if completed:
            search.complete_task(w, found, task_type, config, normalised)
        else:
            search.label_answer(
                w, ws, task.project_id, found.key_id, task_id, task_type.result_labels(config, normalised)
            )
    w.audit(ws, "annotation.submitted", annotation_id, task=task_id)
    if completed and not found.is_gold:
        w.event(ws, "task.completed", task_id, project=task.project_id, task=task_id, overlap=found.overlap)
        announce_if_project_done(w, ws, task.project_id)
    if qualification:
        grade_if_complete(w, project, me, task_type, config)
    out = {
        "id": annotation_id,
        "task_id": task_id,
        "project_id": task.project_id,
        "user_id": me,
        "result": normalised,
        "lead_time_ms": lead_time_ms,
        "created_at": w.now,
    }
    if gold_score is not None:
        quality = project.settings.quality
        if quality.gold_feedback:
            out["feedback"] = {"expected": gold, "score": round(gold_score, 4)}
        if quality.pause_below is not None:
            pause_if_below(w, project, me)
    return view.annotation_as_shown(out)


def _reads_ahead(w: Unit, found) -> list[tuple[Statement, dict[str, Any]]]:
    """What ``record_annotation`` reads after the task row, whatever it finds (the same statements and
    parameters as its calls; fast.prefetch)."""
    ws, me = found.workspace_id, w.actor.user_id
    if w.actor.is_system:
        return []
    return [
        *w.wall_reads(ws),
        (qs.MINE, {"ws": ws, "task": found.id, "user": me}),
        (redaction_store.TASK_FLAGS, {"ws": ws, "id": found.id}),
        (projects_store.PROJECT_ROW, {"id": found.project_id, "user": me}),
        (guidelines_store.STANDING, {"ws": ws, "project": found.project_id, "user": me}),
    ]


def review_status(quality, annotation_id: str, *, is_gold: bool) -> str:
    """Whether a new annotation waits for review: all, none, or a stable sample by its id."""
    if is_gold or quality.review == "none":
        return "none"
    if quality.review == "all":
        return "pending"
    draw = int.from_bytes(hashlib.sha256(annotation_id.encode()).digest()[:8], "big") / 2**64
    return "pending" if draw < quality.review_fraction else "none"


# How many tasks short of done a completion takes the project's completion lock (PostgreSQL): more
# transactions than this completing tasks of one project at the same moment is beyond any pool here.
COMPLETION_WINDOW = 1024


def announce_if_project_done(w: Unit, workspace_id: str, project_id: str) -> None:
    """``project.completed`` when the task just completed was the project's last one left to do (its
    counters, summed in this transaction, say every task is done).

    On PostgreSQL two transactions completing the last two tasks each see the other's counter shard
    uncommitted, so neither would see the project done. Near the end (within ``COMPLETION_WINDOW``
    tasks) a completion therefore takes the project's completion lock (held to commit) and sums again:
    in READ COMMITTED that second sum sees every completion committed before the lock was granted,
    so exactly one of them — the last to get the lock — announces it."""
    counts = projects_store.sum_counts(w.tx, [project_id], workspace_id=workspace_id).get(project_id)
    if counts is None or counts.tasks == 0 or counts.done + COMPLETION_WINDOW < counts.tasks:
        return
    projects_store.lock_completion(w.tx, project_id, workspace_id=workspace_id)  # SQLite: one writer already
    counts = projects_store.sum_counts(w.tx, [project_id], workspace_id=workspace_id).get(project_id)
    assert counts is not None  # the project's counter rows exist: one was just bumped
    if counts.done >= counts.tasks:
        w.event(workspace_id, "project.completed", project_id, project=project_id, tasks=counts.tasks)


def pause_if_below(w: Unit, project, user_id: str) -> bool:
    """Auto-pause: after K gold answers, accuracy below the threshold stops the person's work here."""
    quality = project.settings.quality
    stats = qs.GOLD_STATS.one(w.tx, ws=project.workspace_id, project=project.id, user=user_id)
    assert stats is not None  # an aggregate: always one row
    count, total = stats
    if count < quality.pause_after or total / count >= quality.pause_below:
        return False
    reason = f"accuracy {total / count:.2f} on {count} gold tasks, below {quality.pause_below:.2f}"
    if qs.PAUSE.run(w.tx, ws=project.workspace_id, project=project.id, user=user_id, now=w.now, reason=reason):
        release_leases(w, user_id, project.workspace_id, reason="paused", project_id=project.id)
        w.audit(
            project.workspace_id,
            "quality.paused",
            user_id,
            project=project.id,
            accuracy=round(total / count, 4),
            gold_answers=count,
        )
        w.event(project.workspace_id, "annotator.paused", user_id, project=project.id, user=user_id, gold_answers=count)
    return True


def list_annotations(ctx: Context, task_id: str) -> list[dict[str, Any]]:
    """A task's annotations: all of them for browsers, only the caller's own for workers."""
    with ctx.write() as w:
        w.hold_person()
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        only = None
        if not w.access.can_browse(ws):
            w.access.require(Action.TASK_WORK, ws, what="task")
            only = ctx.actor.user_id
            w.access.require_task_visible(ws, qs.is_assigned(w.tx, ws, task_id, only))
        w.see_content(ws)
        rows = annotations_store.list_task_annotations(w.tx, task_id, workspace_id=ws, user_id=only)
        items = annotations_as_shown(w, found, [annotation_dict(w, row, found.key_id) for row in rows])
        if items:
            w.audit(ws, "annotations.read", task_id, count=len(items))
        return items
