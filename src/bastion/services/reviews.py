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

from typing import Any

from sqlalchemy import select

from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..storage import review_store as rs
from ..storage import schema
from .context import Context, Unit
from .projects import bump_counts, config_of, load_project
from .variants import annotations_as_shown, viewed_by
from .tasks import find_task_row, task_dict

DECISIONS = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}
MAX_COMMENT = 10_000


def _annotation(w: Unit, annotation_id: str):
    row = (rs.ANNOTATION_ANY.one(w.tx, id=annotation_id) if w.actor.is_system
           else rs.ANNOTATION.one(w.tx, id=annotation_id, user=w.actor.user_id))
    if row is None:
        raise NotFound("annotation not found")
    return row


def _annotation_dict(w: Unit, row, key_id: str) -> dict[str, Any]:
    ws, ann_id, project_id, task_id, user_id, result, lead, status, gold_score, created = row
    return {"id": ann_id, "task_id": task_id, "project_id": project_id, "user_id": user_id,
            "result": w.sealer(ws, key_id).open_json("annotations", ann_id, "result", result),
            "lead_time_ms": lead, "review_status": status, "created_at": created}


def review_dicts(w: Unit, workspace_id: str, key_id: str, rows) -> list[dict[str, Any]]:
    """Decrypt review rows (annotation id, reviewer, decision, comment, correction, at, id)."""
    sealer = w.sealer(workspace_id, key_id)
    out = []
    for annotation_id, reviewer, decision, comment, correction, created, review_id in rows:
        out.append({
            "id": review_id, "annotation_id": annotation_id, "reviewer_id": reviewer, "decision": decision,
            "comment": sealer.open_json("reviews", review_id, "comment", comment) if comment is not None else None,
            "correction": sealer.open_json("reviews", review_id, "correction", correction)
            if correction is not None else None,
            "created_at": created,
        })
    return out


def annotator_record(w: Unit, workspace_id: str, project_id: str, user_id: str) -> dict[str, Any]:
    total, accepted, rejected, corrected, golds, gold_sum = rs.HISTORY.one(
        w.tx, ws=workspace_id, project=project_id, user=user_id)
    return {"user_id": user_id, "annotations": total, "accepted": accepted or 0, "rejected": rejected or 0,
            "corrected": corrected or 0, "gold_answers": golds or 0,
            "gold_accuracy": round(gold_sum / golds, 4) if golds else None}


def review_next(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """Lease the next annotation waiting for review (the same one again while held); None when none waits."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.ANNOTATION_REVIEW)
        ws, me = project.workspace_id, ctx.actor.user_id
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
    L = schema.review_leases
    with ctx.write() as w:
        project = load_project(w, project_id, Action.ANNOTATION_REVIEW)
        w.see_content(project.workspace_id)
        held = w.execute(select(L.c.annotation_id, L.c.expires_at).where(
            L.c.workspace_id == project.workspace_id, L.c.project_id == project.id,
            L.c.reviewer_id == ctx.actor.user_id, L.c.expires_at > w.now).order_by(L.c.annotation_id).limit(1)).first()
        if held is None:
            return None
        return _review_item(w, project, held.annotation_id, held.expires_at)


def _review_item(w: Unit, project, annotation_id: str, expires: int) -> dict[str, Any]:
    """What a reviewer is shown of one annotation (audited as ``review.shown``)."""
    ws = project.workspace_id
    row = _annotation(w, annotation_id)
    found = find_task_row(w, row[3])
    annotation = _annotation_dict(w, row, project.key_id)
    others = w.execute(select(schema.annotations.c.id).where(
        schema.annotations.c.workspace_id == ws, schema.annotations.c.task_id == row[3],
        schema.annotations.c.id != annotation_id)).scalars().all()
    w.audit(ws, "review.shown", annotation_id, task=row[3])
    # Offsets as this reviewer sees the text: their own variant (services/variants.py).
    shown = annotations_as_shown(w, found, [annotation, *(
        _annotation_dict(w, _annotation(w, other), project.key_id) for other in others)])
    return {
        "annotation": shown[0],
        "task": task_dict(w, found, found.key_id, full=True),
        "other_annotations": shown[1:],
        "annotator": annotator_record(w, ws, project.id, row[4]),
        "lease": {"expires_at": expires},
    }


def review_annotation(ctx: Context, annotation_id: str, decision: str, *, comment: str | None = None,
                      correction: Any = None) -> dict[str, Any]:
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
        ws, _, project_id, task_id, author, *_rest = row
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
            raise Conflict(f"this annotation was already reviewed ({row[7]})")
        review_id = ids.new_id("rev")
        rs.INSERT_REVIEW.run(
            w.tx, ws=ws, id=review_id, project=project_id, task=task_id, annotation=annotation_id,
            reviewer=ctx.actor.user_id, decision=status,
            comment=sealer.seal_json("reviews", review_id, "comment", comment) if comment else None,
            correction=sealer.seal_json("reviews", review_id, "correction", normalised) if normalised is not None
            else None, now=w.now,
        )
        if status == "rejected":
            was_done = bool(rs.TASK_DONE.scalar(w.tx, ws=ws, id=task_id))
            still_done = rs.UNCOUNT.scalar(w.tx, ws=ws, id=task_id, overlap=found.overlap, yes=True, no=False)
            bump_counts(w, ws, project_id, annotations=-1, done=-1 if was_done and not still_done else 0)
        rs.RELEASE.run(w.tx, ws=ws, id=annotation_id)
        w.audit(ws, "annotation.reviewed", annotation_id, decision=status, task=task_id)
        return {"id": review_id, "annotation_id": annotation_id, "decision": status, "comment": comment,
                "correction": normalised, "reviewer_id": ctx.actor.user_id, "created_at": w.now}


def my_feedback(ctx: Context, workspace_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """What reviewers and gold tasks said about the caller's own work in a workspace (walled; audited)."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: from 1 to 1000")
    with ctx.write() as w:
        w.access.require(Action.TASK_WORK, workspace_id)
        w.see_content(workspace_id)  # comments, corrections and gold answers are the client's content
        rows = rs.FEEDBACK.rows(w.tx, ws=workspace_id, user=ctx.actor.user_id, limit=limit)
        out = []
        for ann_id, project_id, task_id, status, gold_score, created in rows:
            project = load_project(w, project_id, Action.TASK_WORK)
            item: dict[str, Any] = {"annotation_id": ann_id, "project_id": project_id, "task_id": task_id,
                                    "review_status": status, "created_at": created}
            reviews = review_dicts(w, workspace_id, project.key_id,
                                   rs.REVIEWS_OF.rows(w.tx, ws=workspace_id, annotation=ann_id))
            if reviews:
                item["review"] = {k: reviews[-1][k] for k in ("decision", "comment", "correction", "created_at")}
            if gold_score is not None:
                item["gold_score"] = round(gold_score, 4)
                if project.settings.quality.gold_feedback:
                    found = find_task_row(w, task_id)
                    item["expected"] = w.sealer(workspace_id, found.key_id).open_json("tasks", task_id, "gold",
                                                                                        found.gold)
            out.append(item)
        w.audit(workspace_id, "feedback.read", ctx.actor.user_id, count=len(out))
        return out
