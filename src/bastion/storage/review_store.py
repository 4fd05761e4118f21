"""The review queue's storage: leases on pending annotations, reviews, feedback (``fast.py``)."""

from __future__ import annotations

from .fast import Statement

HELD = Statement(
    "SELECT annotation_id FROM review_leases WHERE workspace_id = :ws AND project_id = :project "
    "AND reviewer_id = :user ORDER BY annotation_id LIMIT 1"
)
RENEW = Statement("UPDATE review_leases SET expires_at = :expires WHERE workspace_id = :ws AND annotation_id = :id")
DROP_EXPIRED = Statement(
    "DELETE FROM review_leases WHERE workspace_id = :ws AND project_id = :project AND expires_at < :now"
)
_FREE = ("NOT EXISTS (SELECT 1 FROM review_leases l WHERE l.workspace_id = a.workspace_id "
         "AND l.annotation_id = a.id)")
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
_REVIEWS_OF = ("SELECT annotation_id, reviewer_id, decision, comment, correction, created_at, id FROM reviews "
               "WHERE workspace_id = :ws AND annotation_id = :annotation ORDER BY {}")
REVIEWS_OF = Statement(  # "+id": keeps SQLite on ix_reviews_annotation (not a walk of the workspace's reviews)
    _REVIEWS_OF.format("+id"), postgresql=_REVIEWS_OF.format("id"),
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
