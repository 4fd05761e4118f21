"""Review: a queue of annotations to check, and the reviewer's decision.

* Which annotations wait for review is decided at submit time by the project's
  ``quality.review`` setting (none, a stable sample, or all); gold answers are
  graded automatically instead.
* Reviewers lease pending annotations like annotators lease tasks (one reviewer
  per annotation at a time; never their own work) and see the task, the
  annotation, the task's other annotations and the annotator's record.
* The decision: **accept**; **reject** with a comment — the annotation gives its
  slot back and the task returns to the pool (someone else will annotate it; the
  annotator sees the feedback); or **correct** — the correction is stored as a
  new version, sealed, and the original is kept. Exports carry every decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import search
from .context import Context, Unit
from .labelling import Widget, compared_widgets
from .projects import bump_counts, config_of, load_project, work_project
from .tasks import find_task_row, task_dict
from .variants import annotations_as_shown, viewed_by
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..domain.projects import Project, ProjectSummary
from ..storage import annotations_store, users_store
from ..storage import review_store as rs
from ..storage.annotations_store import AnnotationRow
from ..storage.review_store import ReviewRow

DECISIONS = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}
MAX_COMMENT = 10_000


def _annotation(w: Unit, annotation_id: str) -> AnnotationRow:
    row = rs.find_annotation(w.tx, annotation_id, user_id=None if w.actor.is_system else w.actor.user_id)
    if row is None:
        raise NotFound("annotation not found")
    return row


def _annotation_dict(w: Unit, row: AnnotationRow, key_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "task_id": row.task_id,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "result": w.sealer(row.workspace_id, key_id).open_json("annotations", row.id, "result", row.result),
        "lead_time_ms": row.lead_time_ms,
        "review_status": row.review_status,
        "created_at": row.created_at,
    }


def review_dicts(w: Unit, workspace_id: str, key_id: str, rows: Iterable[ReviewRow]) -> list[dict[str, Any]]:
    """Decrypt review rows."""
    sealer = w.sealer(workspace_id, key_id)
    out = []
    for review in rows:
        review_id, comment, correction = review.id, review.comment, review.correction
        out.append(
            {
                "id": review_id,
                "annotation_id": review.annotation_id,
                "reviewer_id": review.reviewer_id,
                "decision": review.decision,
                "comment": sealer.open_json("reviews", review_id, "comment", comment) if comment is not None else None,
                "correction": sealer.open_json("reviews", review_id, "correction", correction)
                if correction is not None
                else None,
                "created_at": review.created_at,
            }
        )
    return out


def annotator_record(w: Unit, workspace_id: str, project_id: str, user_id: str) -> dict[str, Any]:
    """What reviews and gold tasks made of the person's annotations in the project (reviewers see it)."""
    history = rs.annotator_history(w.tx, project_id, workspace_id=workspace_id, user_id=user_id)
    golds = history.gold_answers
    return {
        "user_id": user_id,
        "annotations": history.annotations,
        "accepted": history.accepted,
        "rejected": history.rejected,
        "corrected": history.corrected,
        "gold_answers": golds,
        "gold_accuracy": round(history.gold_sum / golds, 4) if golds else None,
    }


def review_next(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """Lease the next annotation waiting for review (the same one again while held); None when none waits."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.ANNOTATION_REVIEW)
        return _lease_next(w, project)


def _lease_next(w: Unit, project: Project) -> dict[str, Any] | None:
    ws, me = project.workspace_id, w.actor.user_id
    w.hold_person()
    expires = w.now + project.settings.lease_seconds * 1000
    held = rs.HELD.scalar(w.tx, ws=ws, project=project.id, user=me)
    if held is not None:
        rs.RENEW.run(w.tx, ws=ws, id=held, expires=expires)
        annotation_id = held
    else:
        rs.DROP_EXPIRED.run(w.tx, ws=ws, project=project.id, now=w.now)
        annotation_id = None
        for _ in range(8):
            candidate = rs.CANDIDATE.scalar(w.tx, ws=ws, project=project.id, user=me)
            if candidate is None:
                return None
            if rs.LEASE.run(w.tx, ws=ws, id=candidate, project=project.id, user=me, expires=expires):
                annotation_id = candidate
                break
        if annotation_id is None:
            return None
    w.see_content(ws)
    return _review_item(w, project, annotation_id, expires)


def held_review(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """The annotation the caller holds for review, shown again as it is — nothing leased, renewed or bound.

    For the review page's GET (a link another site can make the browser follow): the
    wall is decided without binding, the lease is left as it is, and the showing is
    audited (``review.shown``). None when the caller holds no live review lease here.
    """
    with ctx.write() as w:
        return _held(w, load_project(w, project_id, Action.ANNOTATION_REVIEW))


def _held(w: Unit, project: Project) -> dict[str, Any] | None:
    w.see_content(project.workspace_id)
    held = rs.find_live_lease(
        w.tx, project.id, workspace_id=project.workspace_id, reviewer_id=w.actor.user_id, now=w.now
    )
    if held is None:
        return None
    return _review_item(w, project, held.annotation_id, held.expires_at)


def _review_item(w: Unit, project, annotation_id: str, expires: int) -> dict[str, Any]:
    """What a reviewer is shown of one annotation (audited as ``review.shown``)."""
    ws = project.workspace_id
    row = _annotation(w, annotation_id)
    found = find_task_row(w, row.task_id)
    annotation = _annotation_dict(w, row, project.key_id)
    others = annotations_store.list_other_annotation_ids(w.tx, row.task_id, workspace_id=ws, besides=annotation_id)
    w.audit(ws, "review.shown", annotation_id, task=row.task_id)
    # Offsets as this reviewer sees the text: their own variant (services/variants.py).
    shown = annotations_as_shown(
        w, found, [annotation, *(_annotation_dict(w, _annotation(w, other), project.key_id) for other in others)]
    )
    return {
        "annotation": shown[0],
        "task": task_dict(w, found, found.key_id, full=True),
        "other_annotations": shown[1:],
        "annotator": annotator_record(w, ws, project.id, row.user_id),
        "lease": {"expires_at": expires},
    }


# -- the review page: the annotation in its widget, beside the task's other annotations ------------------


@dataclass(frozen=True)
class ComparedAnnotation:
    """One annotation of the task under review, as the page shows it: who made it, in its widget."""

    annotation: dict[str, Any]
    name: str  # the annotator, as people know them
    widget: Widget  # the reviewed one: a correction form (locked until Correct); the others: read-only


@dataclass(frozen=True)
class ReviewView:
    """Everything the review page shows: the held annotation (None: nothing held or left) and the task's
    annotations side by side, the reviewed one first, each marking what not all of them share."""

    project: Project | ProjectSummary  # a summary only where nothing of the config may be shown yet (a first access)
    item: dict[str, Any] | None
    compared: list[ComparedAnnotation] = field(default_factory=list)
    correcting: bool = False  # a refused correction is shown again, unlocked, as the reviewer left it


def review_view(ctx: Context, project_id: str, *, lease: bool, draft: tuple[str, Any] | None = None) -> ReviewView:
    """The review page's content in one transaction. ``lease``: lease (or renew) the next annotation — a
    POST; else show the one held. ``draft``: ``(annotation id, result)``, a refused correction of that
    annotation (from the reviewer's form), shown in its widget instead of the annotation while it is held.

    The task is shown as the reviewer is shown it — their own variant, as every text a person is shown
    (services/variants.py), so what a reviewer leaks carries their fingerprint, not the annotator's — and
    every annotation on it (offsets mapped onto that text); a preference or ranking in the order its
    annotator saw. A correction is read back from the reviewer's variant (``review_annotation``).
    """
    with ctx.write() as w:
        project = work_project(w, project_id, Action.ANNOTATION_REVIEW)
        item = _lease_next(w, project) if lease else _held(w, project)
        if item is None:
            return ReviewView(project, None)
        task_type = ctx.rt.task_types.get(project.task_type)
        config = task_type.parse_config(project.config)
        annotations = [item["annotation"], *item["other_annotations"]]
        names = users_store.names_of(w.tx, [a["user_id"] for a in annotations])
        results = [(f"ann-{a['id']}-", a["result"]) for a in annotations]
        correcting = draft is not None and draft[0] == annotations[0]["id"]
        if correcting:
            assert draft is not None
            results[0] = (results[0][0], draft[1])
        widgets = compared_widgets(
            task_type,
            config,
            item["task"],
            results,
            modes=["correct", *("read" for _ in annotations[1:])],
            unlocked=frozenset({0}) if correcting else frozenset(),  # a refused draft stays open, script or not
        )
        compared = [
            ComparedAnnotation(a, names.get(a["user_id"], a["user_id"]), widget)
            for a, widget in zip(annotations, widgets, strict=True)
        ]
        return ReviewView(project, item, compared, correcting=correcting)


def correction_from_form(ctx: Context, project_id: str, form: Any) -> Any:
    """The correction the review page's widget posted (the task type's ``result_from_form``); InvalidAnswer
    names what is missing. Validated by ``review_annotation``."""
    with ctx.read() as r:
        project = work_project(r, project_id, Action.ANNOTATION_REVIEW)
    task_type = ctx.rt.task_types.get(project.task_type)
    return task_type.result_from_form(task_type.parse_config(project.config), form)


def review_annotation(
    ctx: Context, annotation_id: str, decision: str, *, comment: str | None = None, correction: Any = None
) -> dict[str, Any]:
    """Accept, reject (with a comment) or correct an annotation."""
    status = DECISIONS.get(decision)
    if status is None:
        raise InvalidInput(f"decision: one of {', '.join(DECISIONS)}")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise InvalidInput(f"comment: text of at most {MAX_COMMENT} characters")
    if status == "rejected" and not (comment and comment.strip()):
        raise InvalidInput("comment: say why the annotation is rejected (the annotator sees it)")
    if status == "corrected" and correction is None:
        raise InvalidInput("correction: required when correcting (a result of the project's task type)")
    if status != "corrected" and correction is not None:
        raise InvalidInput("correction: only with decision 'correct'")
    with ctx.write() as w:
        w.hold_person()
        row = _annotation(w, annotation_id)
        ws, project_id, task_id, author = row.workspace_id, row.project_id, row.task_id, row.user_id
        w.access.require(Action.ANNOTATION_REVIEW, ws, what="annotation")
        w.see_content(ws)
        if author == ctx.actor.user_id:
            raise PermissionDenied("you cannot review your own annotation")
        found = find_task_row(w, task_id)
        if found.is_gold:
            raise Conflict("gold answers are graded against the gold answer, not reviewed")
        project = load_project(w, project_id, Action.ANNOTATION_REVIEW)
        sealer = w.sealer(ws, project.key_id)
        normalised = None
        if status == "corrected":
            task_type = ctx.rt.task_types.get(project.task_type)
            data = sealer.open_json("tasks", task_id, "payload", found.payload)["data"]
            config = config_of(w, found)
            view = viewed_by(w, found, task_type, config, data)  # corrected on the reviewer's own variant
            normalised = task_type.validate_result(config, data, view.to_canonical(correction))
        if not rs.SET_STATUS.run(w.tx, ws=ws, id=annotation_id, status=status):
            raise Conflict(f"this annotation was already reviewed ({row.review_status})")
        review_id = ids.new_id("rev")
        rs.INSERT_REVIEW.run(
            w.tx,
            ws=ws,
            id=review_id,
            project=project_id,
            task=task_id,
            annotation=annotation_id,
            reviewer=ctx.actor.user_id,
            decision=status,
            comment=sealer.seal_json("reviews", review_id, "comment", comment) if comment else None,
            correction=sealer.seal_json("reviews", review_id, "correction", normalised)
            if normalised is not None
            else None,
            now=w.now,
        )
        if status == "rejected":
            was_done = bool(rs.TASK_DONE.scalar(w.tx, ws=ws, id=task_id))
            still_done = rs.UNCOUNT.scalar(w.tx, ws=ws, id=task_id, overlap=found.overlap, yes=True, no=False)
            bump_counts(w, ws, project_id, annotations=-1, done=-1 if was_done and not still_done else 0)
        rs.RELEASE.run(w.tx, ws=ws, id=annotation_id)
        # A rejected answer no longer counts, a correction adds its labels: the index follows.
        search.settle_answers(w, found, ctx.rt.task_types.get(project.task_type), config_of(w, found))
        w.audit(ws, "annotation.reviewed", annotation_id, decision=status, task=task_id)
        w.event(
            ws, "annotation.reviewed", annotation_id, annotation=annotation_id, task=task_id, project=project_id,
            decision=status,
        )  # fmt: skip
        return {
            "id": review_id,
            "annotation_id": annotation_id,
            "decision": status,
            "comment": comment,
            "correction": normalised,
            "reviewer_id": ctx.actor.user_id,
            "created_at": w.now,
        }


def my_feedback(ctx: Context, workspace_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """What reviewers and gold tasks said about the caller's own work in a workspace (walled; audited)."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: from 1 to 1000")
    with ctx.write() as w:
        w.access.require(Action.TASK_WORK, workspace_id)
        w.see_content(workspace_id)  # comments, corrections and gold answers are the client's content
        rows = rs.list_feedback(w.tx, workspace_id=workspace_id, user_id=ctx.actor.user_id, limit=limit)
        out = []
        for judged in rows:
            project = load_project(w, judged.project_id, Action.TASK_WORK)
            item: dict[str, Any] = {
                "annotation_id": judged.annotation_id,
                "project_id": judged.project_id,
                "task_id": judged.task_id,
                "review_status": judged.review_status,
                "created_at": judged.created_at,
            }
            reviews = review_dicts(
                w,
                workspace_id,
                project.key_id,
                rs.list_reviews_of(w.tx, judged.annotation_id, workspace_id=workspace_id),
            )
            if reviews:
                item["review"] = {k: reviews[-1][k] for k in ("decision", "comment", "correction", "created_at")}
            if judged.gold_score is not None:
                item["gold_score"] = round(judged.gold_score, 4)
                if project.settings.quality.gold_feedback:
                    found = find_task_row(w, judged.task_id)
                    assert found.gold is not None  # only a gold task gives a gold score
                    item["expected"] = w.sealer(workspace_id, found.key_id).open_json(
                        "tasks", judged.task_id, "gold", found.gold
                    )
            out.append(item)
        w.audit(workspace_id, "feedback.read", ctx.actor.user_id, count=len(out))
        return out
