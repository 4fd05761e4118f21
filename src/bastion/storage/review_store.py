"""The review queue's storage: leases on pending annotations, reviews, feedback (``fast.py``)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from . import schema
from .annotations_store import AnnotationRow
from .database import Tx
from .fast import Statement

L = schema.review_leases

HELD = Statement(
    "SELECT annotation_id FROM review_leases WHERE workspace_id = :ws AND project_id = :project "
    "AND reviewer_id = :user ORDER BY annotation_id LIMIT 1"
)
RENEW = Statement("UPDATE review_leases SET expires_at = :expires WHERE workspace_id = :ws AND annotation_id = :id")
DROP_EXPIRED = Statement(
    "DELETE FROM review_leases WHERE workspace_id = :ws AND project_id = :project AND expires_at < :now"
)
_FREE = "NOT EXISTS (SELECT 1 FROM review_leases l WHERE l.workspace_id = a.workspace_id AND l.annotation_id = a.id)"
CANDIDATE = Statement(
    "SELECT a.id FROM annotations a WHERE a.workspace_id = :ws AND a.project_id = :project "
    f"AND a.review_status = 'pending' AND a.user_id <> :user AND {_FREE} ORDER BY a.id LIMIT 1",
    postgresql="SELECT a.id FROM annotations a WHERE a.workspace_id = :ws AND a.project_id = :project "
    f"AND a.review_status = 'pending' AND a.user_id <> :user AND {_FREE} ORDER BY a.id LIMIT 1 "
    "FOR UPDATE OF a SKIP LOCKED",
)
LEASE = Statement(
    "INSERT INTO review_leases (workspace_id, annotation_id, project_id, reviewer_id, expires_at) "
    "VALUES (:ws, :id, :project, :user, :expires) ON CONFLICT (workspace_id, annotation_id) DO NOTHING"
)
RELEASE = Statement("DELETE FROM review_leases WHERE workspace_id = :ws AND annotation_id = :id")
ANNOTATION = Statement(
    "SELECT a.workspace_id, a.id, a.project_id, a.task_id, a.user_id, a.result, a.lead_time_ms, a.review_status, "
    "a.gold_score, a.created_at FROM annotations a WHERE a.id = :id "
    "AND a.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = :user)"
)
ANNOTATION_ANY = Statement(
    "SELECT a.workspace_id, a.id, a.project_id, a.task_id, a.user_id, a.result, a.lead_time_ms, a.review_status, "
    "a.gold_score, a.created_at FROM annotations a WHERE a.id = :id"
)
SET_STATUS = Statement(
    "UPDATE annotations SET review_status = :status WHERE workspace_id = :ws AND id = :id "
    "AND review_status IN ('none', 'pending')"
)
INSERT_REVIEW = Statement(
    "INSERT INTO reviews (workspace_id, id, project_id, task_id, annotation_id, reviewer_id, decision, comment, "
    "correction, created_at) VALUES (:ws, :id, :project, :task, :annotation, :reviewer, :decision, :comment, "
    ":correction, :now)"
)
UNCOUNT = Statement(  # a rejected annotation gives its slot back: the task returns to the pool
    "UPDATE tasks SET annotation_count = annotation_count - 1, "
    "done = CASE WHEN annotation_count - 1 >= :overlap THEN :yes ELSE :no END "
    "WHERE workspace_id = :ws AND id = :id RETURNING done"
)
TASK_DONE = Statement("SELECT done FROM tasks WHERE workspace_id = :ws AND id = :id")
HISTORY = Statement(
    "SELECT count(*), sum(CASE WHEN review_status = 'accepted' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN review_status = 'rejected' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN review_status = 'corrected' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN gold_score IS NOT NULL THEN 1 ELSE 0 END), coalesce(sum(gold_score), 0) "
    "FROM annotations WHERE workspace_id = :ws AND project_id = :project AND user_id = :user"
)
_REVIEWS_OF = (
    "SELECT annotation_id, reviewer_id, decision, comment, correction, created_at, id FROM reviews "
    "WHERE workspace_id = :ws AND annotation_id = :annotation ORDER BY {}"
)
REVIEWS_OF = Statement(  # "+id": keeps SQLite on ix_reviews_annotation (not a walk of the workspace's reviews)
    _REVIEWS_OF.format("+id"),
    postgresql=_REVIEWS_OF.format("id"),
)
REVIEWS_IN_RANGE = Statement(
    "SELECT annotation_id, reviewer_id, decision, comment, correction, created_at, id FROM reviews "
    "WHERE workspace_id = :ws AND project_id = :project AND task_id >= :first AND task_id <= :last ORDER BY id"
)
FEEDBACK = Statement(
    "SELECT a.id, a.project_id, a.task_id, a.review_status, a.gold_score, a.created_at FROM annotations a "
    "WHERE a.workspace_id = :ws AND a.user_id = :user "
    "AND (a.review_status IN ('rejected', 'corrected', 'accepted') OR a.gold_score IS NOT NULL) "
    "ORDER BY a.id DESC LIMIT :limit"
)


class ReviewRow(NamedTuple):
    """A review decision (``comment``, ``correction``: sealed), in the order services/reviews.py opens them."""

    annotation_id: str
    reviewer_id: str
    decision: str
    comment: bytes | None
    correction: bytes | None
    created_at: int
    id: str


class HeldReview(NamedTuple):
    """A live review lease: the annotation a reviewer holds and until when."""

    annotation_id: str
    expires_at: int


class AnnotatorHistory(NamedTuple):
    """What reviews and gold tasks made of a person's annotations in a project."""

    annotations: int
    accepted: int
    rejected: int
    corrected: int
    gold_answers: int
    gold_sum: float


class Feedback(NamedTuple):
    """One of a person's annotations that a reviewer or a gold task judged."""

    annotation_id: str
    project_id: str
    task_id: str
    review_status: str
    gold_score: float | None
    created_at: int


def find_annotation(tx: Tx, annotation_id: str, *, user_id: str | None) -> AnnotationRow | None:
    """The annotation, within the person's workspaces (``user_id=None``: the local operator, any workspace)."""
    row = (
        ANNOTATION_ANY.one(tx, id=annotation_id)
        if user_id is None
        else ANNOTATION.one(tx, id=annotation_id, user=user_id)
    )
    return None if row is None else AnnotationRow(*row)


def find_live_lease(tx: Tx, project_id: str, *, workspace_id: str, reviewer_id: str, now: int) -> HeldReview | None:
    """The reviewer's first review lease in the project that has not expired by ``now``."""
    row = tx.execute(
        select(L.c.annotation_id, L.c.expires_at)
        .where(
            L.c.workspace_id == workspace_id,
            L.c.project_id == project_id,
            L.c.reviewer_id == reviewer_id,
            L.c.expires_at > now,
        )
        .order_by(L.c.annotation_id)
        .limit(1)
    ).first()
    return None if row is None else HeldReview._make(row)


def annotator_history(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> AnnotatorHistory:
    total, accepted, rejected, corrected, golds, gold_sum = HISTORY.one_row(
        tx, ws=workspace_id, project=project_id, user=user_id
    )
    return AnnotatorHistory(total, accepted or 0, rejected or 0, corrected or 0, golds or 0, gold_sum)


def list_reviews_of(tx: Tx, annotation_id: str, *, workspace_id: str) -> list[ReviewRow]:
    """The decisions on one annotation, oldest first."""
    return [ReviewRow(*row) for row in REVIEWS_OF.rows(tx, ws=workspace_id, annotation=annotation_id)]


def list_feedback(tx: Tx, *, workspace_id: str, user_id: str, limit: int) -> list[Feedback]:
    """The person's judged annotations in the workspace, newest first."""
    return [Feedback(*row) for row in FEEDBACK.rows(tx, ws=workspace_id, user=user_id, limit=limit)]
