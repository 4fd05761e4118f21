"""A task's whole story, for its page: its data, every annotation in its widget, reviews, who was shown it.

:func:`task_history` reads, in one transaction, for those who may browse tasks
(``Action.TASK_BROWSE``) and pass the wall: the task (data, meta, predictions), every
annotation (annotator, time, gold score, review state) and every review (decision,
comment, correction) — results rendered read-only by the task type's widget
(services/labelling.py), the annotations marking what not all of them share — and,
for owners, who was shown the task. The reading is audited (``task.read`` with
``view="page"``; ``as_user`` when a variant was asked for).

Which text is shown:

* owners and managers — who export the canonical text anyway (docs/security.md,
  Leak tracing) — see the **original** (the stored, redacted text: re-identifying is
  a separate owner action);
* reviewers see **their own variant**, as everywhere else, so what they leak
  carries their fingerprint;
* owners may ask for the variant **one person was shown** (``as_user``), among the
  people the record says were shown the task. "Who saw what" is an owner's
  need-to-know (``Action.LEAKS_TRACE``), as is the list of showings.

Results (annotations, corrections, predictions) are mapped onto whichever text is shown.

The trap: the list of who was shown a task is the tracing record
(``redaction_store.showings_of``: leases, ``task.shown``, ``task.read``,
``review.shown``, listings whose page enclosed the task), not a log of page views;
a listing names a range of ids, so it counts everyone whose page enclosed the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._audit_append import fold
from .context import Context
from .labelling import Widget, compared_widgets, result_widget, starting_values
from .projects import config_of, work_project
from .reviews import review_dicts
from .tasks import find_task_row
from .variants import View, view_for
from ..access import Action
from ..domain.errors import InvalidInput, NotFound, PermissionDenied
from ..domain.projects import Project
from ..storage import annotations_store, redaction_store, users_store
from ..storage import review_store as rs
from ..storage.redaction_store import Showing

SHOWN_HOW = {
    "lease:leased": "holds it (leased)",
    "lease:submitted": "leased it, and answered",
    "lease:skipped": "leased it, and skipped it",
    "lease:expired": "leased it; the lease expired",
    "task.shown": "was shown it in the queue",
    "task.read": "read it",
    "review.shown": "reviewed an annotation of it",
    "tasks.listed": "listed it in the data browser",
}


@dataclass(frozen=True)
class AnnotationEntry:
    annotation: dict[str, Any]  # id, user_id, created_at, lead_time_ms, review_status, gold_score
    name: str  # the annotator
    widget: Widget  # the result, read-only, marking what not every annotation shares


@dataclass(frozen=True)
class ReviewEntry:
    review: dict[str, Any]  # id, annotation_id, reviewer_id, decision, comment, created_at
    reviewer: str
    annotator: str
    widget: Widget | None  # the correction, read-only (None: no correction)


@dataclass(frozen=True)
class ShownEntry:
    user_id: str
    name: str
    how: str  # in words
    at: int


@dataclass(frozen=True)
class TaskHistory:
    """Everything the task page shows."""

    project: Project
    task: dict[str, Any]  # id, external_id, meta, data (as shown here), predictions, priority, done, counts, times
    text: str  # which text: "original" | "yours" | "theirs"
    as_user: str | None  # whose variant (``text == "theirs"``)
    as_name: str | None
    predictions: Widget | None  # the first pre-annotation in the widget (None: none)
    gold: Widget | None  # a gold task's answer, for owners and managers (annotators' reviewers may annotate too)
    annotations: list[AnnotationEntry]
    reviews: list[ReviewEntry]
    shown: list[ShownEntry] | None  # who was shown it, oldest first; None: not for this reader (owners only)
    people: list[tuple[str, str]]  # (user id, name) of those shown it, whose variant may be asked for


def task_history(ctx: Context, task_id: str, *, as_user: str | None = None) -> TaskHistory:
    """The task page's content (see the module docstring); NotFound outside the reader's workspaces."""
    if as_user is not None and (not isinstance(as_user, str) or not 1 <= len(as_user) <= 60):
        raise InvalidInput("as: the id of a person who was shown this task")
    with ctx.write() as w:
        w.hold_person()
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        w.access.require(Action.TASK_BROWSE, ws, what="task")
        project = work_project(w, found.project_id, Action.TASK_BROWSE)  # walled: may not bind in a GET
        held, is_canary, _gold = redaction_store.task_flags(w.tx, ws, task_id)
        # As in the data browser: a held task waits for an owner; a canary is not one of the project's tasks.
        if is_canary or (held and not w.access.allows(Action.REDACTION_REVIEW, ws)):
            raise NotFound("task not found")
        sealer = w.sealer(ws, found.key_id)
        body = sealer.open_json("tasks", task_id, "payload", found.payload)
        data = body["data"]
        predictions = (
            sealer.open_json("tasks", task_id, "predictions", found.predictions)
            if found.predictions is not None
            else []
        )
        gold = sealer.open_json("tasks", task_id, "gold", found.gold) if found.gold is not None else None
        task_type = w.rt.task_types.get(found.task_type)
        config = config_of(w, found)

        may_trace = w.actor.is_system or w.access.allows(Action.LEAKS_TRACE, ws)
        if may_trace:
            fold(w, ws)  # who was shown the task is in the log: the queued entries too (PostgreSQL)
        showings = redaction_store.showings_of(w.tx, ws, found.project_id, task_id) if may_trace else []
        shown_ids = sorted({s.user_id for s in showings})
        if as_user is not None:
            if not may_trace:
                raise PermissionDenied("only owners may see the text another person was shown")
            if as_user not in shown_ids:
                raise InvalidInput("as: this person was not shown this task (see who was)")
        may_export = w.actor.is_system or w.access.allows(Action.EXPORT, ws)
        if as_user is not None:
            view, text = _view(w, task_type, config, found, data, predictions, gold, person=as_user), "theirs"
        elif may_export:
            view, text = View(task_id), "original"  # owners and managers: the canonical text, as they export it
        else:
            view, text = _view(w, task_type, config, found, data, predictions, gold), "yours"

        shown_task = {
            "id": task_id,
            "project_id": found.project_id,
            "external_id": body.get("external_id"),
            "meta": body.get("meta"),
            "data": view.data(data),
            "predictions": [view.as_shown(p) for p in predictions],
            "priority": found.priority,
            "annotation_count": found.annotation_count,
            "done": bool(found.done),
            "created_at": found.created_at,
            "is_gold": bool(found.is_gold),
        }
        rows = annotations_store.list_task_annotations(w.tx, task_id, workspace_id=ws, user_id=None)
        annotations = [
            {
                "id": row.id,
                "user_id": row.user_id,
                "result": view.as_shown(sealer.open_json("annotations", row.id, "result", row.result)),
                "created_at": row.created_at,
                "lead_time_ms": row.lead_time_ms,
                "review_status": row.review_status,
                "gold_score": round(row.gold_score, 4) if row.gold_score is not None else None,
            }
            for row in rows
        ]
        reviews = [
            review
            for row in rows
            for review in review_dicts(w, ws, found.key_id, rs.list_reviews_of(w.tx, row.id, workspace_id=ws))
        ]
        reviews.sort(key=lambda r: (r["created_at"], r["id"]))
        names = users_store.names_of(
            w.tx,
            [a["user_id"] for a in annotations] + [r["reviewer_id"] for r in reviews] + shown_ids + [as_user or ""],
        )

        def name(user_id: str) -> str:
            return names.get(user_id, user_id)

        widgets = compared_widgets(
            task_type, config, shown_task, [(f"ann-{a['id']}-", a["result"]) for a in annotations]
        )
        author = {a["id"]: a["user_id"] for a in annotations}
        review_entries = []
        for review in reviews:
            correction = review.pop("correction")
            widget = None
            if correction is not None:
                widget = result_widget(
                    task_type, config, shown_task, view.as_shown(correction), prefix=f"rev-{review['id']}-"
                )
            review_entries.append(
                ReviewEntry(review, name(review["reviewer_id"]), name(author.get(review["annotation_id"], "")), widget)
            )
        prediction_widget = (
            result_widget(
                task_type, config, shown_task, starting_values(shown_task["predictions"])[0][0], prefix="pred-"
            )
            if shown_task["predictions"]
            else None
        )
        gold_widget = (
            result_widget(task_type, config, shown_task, view.as_shown(gold), prefix="gold-")
            if gold is not None and may_export
            else None
        )
        details: dict[str, Any] = {"view": "page", "annotations": len(annotations), "reviews": len(reviews)}
        if as_user is not None:
            details["as_user"] = as_user  # an owner read this person's variant: on the record, for a later trace
        w.audit(ws, "task.read", task_id, **details)
        return TaskHistory(
            project=project,
            task=shown_task,
            text=text,
            as_user=as_user,
            as_name=name(as_user) if as_user else None,
            predictions=prediction_widget,
            gold=gold_widget,
            annotations=[
                AnnotationEntry({k: v for k, v in a.items() if k != "result"}, name(a["user_id"]), widget)
                for a, widget in zip(annotations, widgets, strict=True)
            ],
            reviews=review_entries,
            shown=[_shown(s, name(s.user_id)) for s in showings] if may_trace else None,
            people=[(user_id, name(user_id)) for user_id in shown_ids],
        )


def _view(w, task_type, config, found, data, predictions, gold, *, person: str | None = None) -> View:
    return view_for(
        w,
        task_type,
        config,
        workspace_id=found.workspace_id,
        task_id=found.id,
        data=data,
        predictions=predictions,
        gold=gold,
        person=person,
    )


def _shown(showing: Showing, name: str) -> ShownEntry:
    return ShownEntry(showing.user_id, name, SHOWN_HOW.get(showing.how, showing.how), showing.at)


__all__ = ["AnnotationEntry", "ReviewEntry", "ShownEntry", "TaskHistory", "task_history"]
