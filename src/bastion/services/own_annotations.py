"""A person's own annotations in a project: their progress, their list of annotations, undo and edit.

* **Progress** (:func:`my_progress`, :func:`progress_of`): how many tasks they annotated
  (in all, and in the last 24 hours — the window of the per-day cap) and about how many
  are left for them. Their own work, not the project's "complete" count (a task is
  complete when all its overlap is in). Read when a page is rendered, never on the
  submit path: the labelling page counts on in the browser after each submit.
* **The list** (:func:`my_annotations`): their annotations, newest first, a page at a time
  (keyset on the annotation id: the same cost at any depth), each with its review state,
  the reviewer's comment, and one line from the task type (``TaskType.summarise``) —
  all as they were shown the task (their variant; their screen letters).
* **Undo** (:func:`take_back_last`): their newest annotation in the project comes back to
  them. The annotation goes (its result kept as a sealed version, ``annotation_versions``),
  the task's count of annotations falls and it is no longer done if that was all it
  needed, and the person holds it again under a fresh lease (the lease they held on the
  next task is given back first, so a second undo steps back once more).
* **Edit** (:func:`edit_annotation`): a new result for one of their annotations; the one it
  replaces is kept as a sealed version. Exports read the annotation row: the latest.

Refused with a clear error (``Conflict``) once a reviewer decided on the annotation, while a
reviewer has it open, in a qualification test (graded at once: final) and on a gold task
whose expected answer was shown (``gold_feedback``): taking that back would let the person
copy the expected answer. A gold annotation made without feedback may change (and is graded
again): nothing was shown, and a refusal would tell the person the task was gold. Another
person's annotation is refused (``PermissionDenied``); another workspace's is ``NotFound``.

The trap: a canary's answer is not an annotation (services/canaries.py), yet the person
must not be able to tell a canary apart. Their canary answers are listed, taken back and
changed like the rest (they stay on the canary's issue), and their progress counts
submitted assignments, canaries included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .annotations import pause_if_below
from .canaries import canary_answers, change_canary_answer, take_back_canary_answer
from .context import Context, Unit
from .projects import bump_counts, config_of, counts_of, load_project
from .tasks import find_task_row, task_dict
from .tracing import overlay_of
from .variants import viewed_by
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.projects import Counts, Project
from ..storage import own_annotations_store
from ..storage import queue_store as qs
from ..storage import review_store as rs
from ..storage.annotations_store import AnnotationRow
from ..storage.queue_store import TaskRecord

DAY_MS = 24 * 3600 * 1000
MAX_PAGE = 200


@dataclass(frozen=True)
class Progress:
    """A person's progress in one project."""

    done: int  # tasks they annotated here
    done_last_day: int  # of those, in the last 24 hours
    left: int  # about how many tasks they could still get (see ``progress_of``)
    paused: str | None = None  # why their work here is paused, if it is


def my_progress(ctx: Context, project_id: str) -> Progress:
    """The caller's progress in the project (counts only: decided by role, not walled, not audited)."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_WORK)
        return progress_of(r, project)


def progress_of(u: Unit, project: Project) -> Progress:
    """``my_progress`` inside an open transaction.

    ``left`` is an estimate, cheap at any size: the project's open tasks (its counters)
    less those still open that the person annotated or skipped, capped by
    ``max_tasks_per_person``. It counts tasks others hold leased now (they may come
    back) and items held for redaction review. A qualification test: its tasks less
    those the person was handed.
    """
    ws, me = project.workspace_id, u.actor.user_id
    mine = own_annotations_store.count_progress(u.tx, project.id, workspace_id=ws, user_id=me, since=u.now - DAY_MS)
    rules = project.settings
    if rules.qualification is not None:
        total = own_annotations_store.count_tasks(u.tx, project.id, workspace_id=ws)
        handed = qs.count_assignments(u.tx, project.id, workspace_id=ws, user_id=me)
        left = max(0, total - handed)
    else:
        counts = counts_of(u, ws, [project.id]).get(project.id, Counts())
        left = max(0, counts.remaining - mine.passed_open)
        if rules.max_tasks_per_person is not None:
            seen = qs.count_assignments(u.tx, project.id, workspace_id=ws, user_id=me)
            left = min(left, max(0, rules.max_tasks_per_person - seen))
    paused = qs.PAUSED.scalar(u.tx, ws=ws, project=project.id, user=me)
    return Progress(done=mine.done, done_last_day=mine.done_since, left=0 if paused else left, paused=paused)


# -- the list ---------------------------------------------------------------------------


def my_annotations(ctx: Context, project_id: str, *, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """A page of the caller's annotations in the project, newest first; ``next_cursor`` continues it.

    Each item: ``id``, ``task_id``, ``data`` and ``result`` (as the person was shown the
    task), ``summary``, ``review_status`` (none | pending | accepted | rejected |
    corrected), ``review`` (the latest decision: ``decision``, ``comment``, ``created_at``;
    None while unreviewed), ``version`` (1, then one more per edit or undo), ``created_at``
    and ``can_change``. Walled and audited (``annotations.listed``).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
    if cursor is not None and not ids.has_prefix(cursor, "ann"):
        raise InvalidInput("cursor: not a cursor given by this page")
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_WORK)
        ws, me = project.workspace_id, ctx.actor.user_id
        w.see_content(ws)
        rows = own_annotations_store.list_annotation_page(
            w.tx, project.id, workspace_id=ws, user_id=me, before=cursor, limit=limit + 1
        )
        canaries = [a for a in canary_answers(w, project.id, workspace_id=ws, key_id=project.key_id) if a.get("id")]
        merged: list[tuple[str, AnnotationRow | dict[str, Any]]] = [(row.id, row) for row in rows]
        merged += [(a["id"], a) for a in canaries if cursor is None or a["id"] < cursor]
        merged.sort(key=lambda pair: pair[0], reverse=True)
        page = merged[:limit]
        task_type = w.rt.task_types.get(project.task_type)
        config = task_type.parse_config(project.config)
        annotation_ids = [key for key, item in page if isinstance(item, AnnotationRow)]
        decisions = own_annotations_store.latest_decisions(w.tx, annotation_ids, workspace_id=ws)
        versions = own_annotations_store.count_versions(
            w.tx,
            [item.task_id if isinstance(item, AnnotationRow) else item["task_id"] for _, item in page],
            workspace_id=ws,
            user_id=me,
        )
        sealer = w.sealer(ws, project.key_id)
        items = []
        for key, item in page:
            if isinstance(item, AnnotationRow):
                found = find_task_row(w, item.task_id)
                result = w.sealer(ws, found.key_id).open_json("annotations", item.id, "result", item.result)
                status, made = item.review_status, item.created_at
                change = _why_fixed(project, item, found) is None
            else:  # a canary's answer, listed like any other
                found = find_task_row(w, item["task_id"])
                result, status, made, change = item["result"], "none", item["created_at"], True
            task = task_dict(w, found, found.key_id, full=False, config=config)
            shown = result if not isinstance(item, AnnotationRow) else _as_shown(w, found, task_type, config, result)
            decision = decisions.get(key)
            items.append(
                {
                    "id": key,
                    "task_id": found.id,
                    "data": task["data"],
                    "result": shown,
                    "summary": task_type.summarise(config, shown),
                    "review_status": status,
                    "review": None
                    if decision is None
                    else {
                        "decision": decision.decision,
                        "comment": sealer.open_json("reviews", decision.review_id, "comment", decision.comment)
                        if decision.comment is not None
                        else None,
                        "created_at": decision.created_at,
                    },
                    "version": versions.get(found.id, 0) + 1,
                    "created_at": made,
                    "can_change": change,
                }
            )
        w.audit(ws, "annotations.listed", project.id, count=len(items), own=True)
        return {"items": items, "next_cursor": page[-1][0] if len(merged) > limit else None}


def _as_shown(w: Unit, found: TaskRecord, task_type, config, result: Any) -> Any:
    """A stored result as the person was shown the task (their variant's offsets and text)."""
    if not task_type.offset_fields(config):
        return result
    data = w.sealer(found.workspace_id, found.key_id).open_json("tasks", found.id, "payload", found.payload)["data"]
    return viewed_by(w, found, task_type, config, data).as_shown(result)


# -- what may change --------------------------------------------------------------------


def _why_fixed(project: Project, row: AnnotationRow, found: TaskRecord) -> str | None:
    """Why this annotation can no longer change (None: it can)."""
    if row.review_status not in own_annotations_store.UNREVIEWED:
        return f"this annotation was already reviewed ({row.review_status}): it can no longer change"
    if found.is_qualification:
        return "annotations in a qualification test are final"
    if found.is_gold and project.settings.quality.gold_feedback:
        return "the expected answer was shown to you after this annotation: it is final"
    return None


def _require_changeable(w: Unit, project: Project, row: AnnotationRow, found: TaskRecord) -> None:
    why = _why_fixed(project, row, found)
    if why is not None:
        raise Conflict(why)
    if own_annotations_store.is_under_review(w.tx, row.id, workspace_id=row.workspace_id, now=w.now):
        raise Conflict("a reviewer has this annotation open: it can change again once they are done")


def _keep_version(w: Unit, row: AnnotationRow, found: TaskRecord, change: str) -> int:
    """Keep ``row``'s result as the person's next version of their annotation of the task; returns its number."""
    ws = row.workspace_id
    sealer = w.sealer(ws, found.key_id)
    result = sealer.open("annotations", row.id, "result", row.result)
    version = own_annotations_store.last_version(w.tx, row.task_id, workspace_id=ws, user_id=row.user_id) + 1
    version_id = ids.new_id("anv")
    own_annotations_store.keep_version(
        w.tx,
        version_id,
        row=row,
        version=version,
        result=sealer.seal("annotation_versions", version_id, "result", result),
        change=change,
        created_at=own_annotations_store.version_made_at(w.tx, row.id, workspace_id=ws, fallback=row.created_at),
        now=w.now,
    )
    return version


def _own_annotation(w: Unit, project: Project, annotation_id: str) -> tuple[TaskRecord, AnnotationRow | dict[str, Any]]:
    """The caller's annotation ``annotation_id`` in the project (or a canary's answer, listed like one)."""
    if not isinstance(annotation_id, str) or not ids.has_prefix(annotation_id, "ann"):
        raise NotFound("annotation not found")
    me = w.actor.user_id
    row = rs.find_annotation(w.tx, annotation_id, user_id=None if w.actor.is_system else me)
    if row is not None:
        if row.project_id != project.id:
            raise NotFound("annotation not found")
        if row.user_id != me:
            raise PermissionDenied("this is someone else's annotation: only the person who made it can change it")
        return find_task_row(w, row.task_id), row
    for answer in canary_answers(w, project.id, workspace_id=project.workspace_id, key_id=project.key_id):
        if answer.get("id") == annotation_id:
            return find_task_row(w, answer["task_id"]), answer
    raise NotFound("annotation not found")


# -- undo -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TakenBack:
    """An undone annotation: the task, leased to the person again, and their result as they gave it."""

    task: dict[str, Any]  # as shown to them, with ``lease.expires_at``
    previous: Any  # the result taken back, as shown (the widget starts from it)


def undo_last(ctx: Context, project_id: str) -> TakenBack:
    """Take back the caller's newest annotation in the project; the task is theirs again under a fresh lease."""
    with ctx.write() as w:
        return take_back_last(w, project_id)


def take_back_last(w: Unit, project_id: str) -> TakenBack:
    """``undo_last`` inside an open transaction (the labelling page shows the task in the same one)."""
    project = load_project(w, project_id, Action.TASK_WORK)
    ws, me = project.workspace_id, w.actor.user_id
    w.hold_person()
    w.see_content(ws)
    paused = qs.PAUSED.scalar(w.tx, ws=ws, project=project.id, user=me)
    if paused is not None:  # an undo leases the task again: no lease for a paused person
        raise PermissionDenied(f"your work on this project is paused ({paused}); a manager can lift the pause")
    row = own_annotations_store.find_last_annotation(w.tx, project.id, workspace_id=ws, user_id=me)
    canaries = canary_answers(w, project.id, workspace_id=ws, key_id=project.key_id)
    canary = max((a for a in canaries if a.get("id")), key=lambda a: a["id"], default=None)
    if row is None and canary is None:
        raise Conflict("you have no annotation here to take back")
    expires = w.now + project.settings.lease_seconds * 1000
    if canary is not None and (row is None or canary["id"] > row.id):
        found = find_task_row(w, canary["task_id"])
        qs.release_leases(w.tx, ws, me, project_id=project.id)
        take_back_canary_answer(w, project, found.id)
        previous = canary["result"]
    else:
        assert row is not None
        found = find_task_row(w, row.task_id)
        _require_changeable(w, project, row, found)
        qs.release_leases(w.tx, ws, me, project_id=project.id)  # the next task goes back to the pool
        task_type = w.rt.task_types.get(found.task_type)
        config = config_of(w, found)
        result = w.sealer(ws, found.key_id).open_json("annotations", row.id, "result", row.result)
        version = _keep_version(w, row, found, "undone")
        if not own_annotations_store.delete_annotation(w.tx, row.id, workspace_id=ws):
            raise Conflict("this annotation was reviewed a moment ago: it can no longer change")
        if found.is_gold:  # calibration: never in the queue, not among the project's counts
            own_annotations_store.RETAKE_ANY.run(w.tx, ws=ws, id=found.id)
        else:
            was_done = bool(own_annotations_store.TASK_DONE.scalar(w.tx, ws=ws, id=found.id))
            still_done = own_annotations_store.RETAKE_SLOT.scalar(
                w.tx, ws=ws, id=found.id, overlap=found.overlap, yes=True, no=False
            )
            bump_counts(w, ws, project.id, annotations=-1, done=-1 if was_done and not still_done else 0)
        qs.set_assignment(w.tx, ws, project.id, found.id, me, "leased", expires)
        w.audit(ws, "annotation.undone", row.id, task=found.id, version=version)
        previous = _as_shown(w, found, task_type, config, result)
    task = task_dict(w, found, found.key_id, full=False)
    task["lease"] = {"expires_at": expires}
    w.audit(ws, "task.shown", found.id, via="undo")
    return TakenBack(task=task, previous=previous)


# -- edit -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotationToEdit:
    """What the edit page shows: the task as the person was shown it, their result to start from."""

    project: Project
    config: Any
    task: dict[str, Any]  # as shown; ``predictions`` = [their result as shown] (widgets start from it)
    annotation: dict[str, Any]  # id, summary, review_status
    widget: str
    widget_script: str
    widget_context: dict[str, Any]
    overlay: dict[str, Any] | None  # as on the labelling page (services/tracing.py)
    shown: Any = None  # the widget to change it in (services/labelling.Widget, mode "label")


def annotation_to_edit(ctx: Context, project_id: str, annotation_id: str) -> AnnotationToEdit:
    """The caller's annotation, ready to change in the task type's widget (refused once it cannot change)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_WORK)
        ws = project.workspace_id
        w.see_content(ws)
        found, mine = _own_annotation(w, project, annotation_id)
        task_type = w.rt.task_types.get(found.task_type)
        config = config_of(w, found)
        if isinstance(mine, AnnotationRow):
            _require_changeable(w, project, mine, found)
            stored = w.sealer(ws, found.key_id).open_json("annotations", mine.id, "result", mine.result)
            shown = _as_shown(w, found, task_type, config, stored)
            status = mine.review_status
        else:
            shown, status = mine["result"], "none"
        task = task_dict(w, found, found.key_id, full=False, config=config)
        task["predictions"] = [shown]
        w.audit(ws, "task.shown", found.id, via="edit")
        from .labelling import label_widget  # labelling imports this module (undo)

        widget = label_widget(task_type, config, task, user_id=ctx.actor.user_id)
        return AnnotationToEdit(
            project=project,
            config=config,
            task=task,
            annotation={
                "id": annotation_id,
                "summary": task_type.summarise(config, shown),
                "review_status": status,
            },
            widget=f"tasktypes/{task_type.name}/widget.html",
            widget_script=f"/static/tasktypes/{task_type.name}/widget.js",
            widget_context=widget.view,
            overlay=overlay_of(w, project.id),
            shown=widget,
        )


def edit_annotation(ctx: Context, project_id: str, annotation_id: str, result: Any) -> dict[str, Any]:
    """Replace the caller's annotation's result (checked like a submit); the old one is kept as a version.

    Returns the annotation (``result`` as the person sees it) with its ``version``.
    An unchanged result changes nothing (no version, no audit record).
    """
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_WORK)
        ws, me = project.workspace_id, ctx.actor.user_id
        w.hold_person()
        w.see_content(ws)
        found, mine = _own_annotation(w, project, annotation_id)
        task_type = w.rt.task_types.get(found.task_type)
        config = config_of(w, found)
        sealer = w.sealer(ws, found.key_id)
        data = sealer.open_json("tasks", found.id, "payload", found.payload)["data"]
        view = viewed_by(w, found, task_type, config, data)
        if not isinstance(mine, AnnotationRow):
            return change_canary_answer(w, found, view, task_type, config, data, result, mine)
        row = mine
        _require_changeable(w, project, row, found)
        normalised = task_type.validate_result(config, data, view.to_canonical(result))
        current = sealer.open_json("annotations", row.id, "result", row.result)
        out = {
            "id": row.id,
            "task_id": row.task_id,
            "project_id": row.project_id,
            "user_id": me,
            "result": normalised,
            "lead_time_ms": row.lead_time_ms,
            "created_at": row.created_at,
        }
        if normalised == current:
            out["version"] = own_annotations_store.last_version(w.tx, row.task_id, workspace_id=ws, user_id=me) + 1
            return view.annotation_as_shown(out)
        gold_score = row.gold_score
        if found.is_gold and found.gold is not None:  # graded again (no feedback was shown: see the module)
            gold = sealer.open_json("tasks", found.id, "gold", found.gold)
            gold_score = float(task_type.gold_score(config, data, normalised, gold))
        version = _keep_version(w, row, found, "edited")
        changed = own_annotations_store.replace_result(
            w.tx,
            row.id,
            workspace_id=ws,
            result=sealer.seal_json("annotations", row.id, "result", normalised),
            gold_score=gold_score,
        )
        if not changed:
            raise Conflict("this annotation was reviewed a moment ago: it can no longer change")
        w.audit(ws, "annotation.edited", row.id, task=row.task_id, version=version + 1)
        if found.is_gold and project.settings.quality.pause_below is not None:
            pause_if_below(w, project, me)
        out["version"] = version + 1
        return view.annotation_as_shown(out)


__all__ = [
    "AnnotationToEdit",
    "Progress",
    "TakenBack",
    "annotation_to_edit",
    "edit_annotation",
    "my_annotations",
    "my_progress",
    "progress_of",
    "take_back_last",
    "undo_last",
]
