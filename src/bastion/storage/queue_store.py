"""The queue's storage: leases, claims and task rows, on the hot path (see ``fast.py``).

Every statement names ``workspace_id`` first, matching the leading column of the
keys and indexes (and PostgreSQL's row-level security). The candidate query
reads the head of ``ix_tasks_queue``; ``done = 0`` is spelled literally on
SQLite so its planner can use that partial index.
"""

from __future__ import annotations

from typing import NamedTuple

from .. import ids
from .fast import Statement


class TaskRecord(NamedTuple):
    """A task row joined with what reading it needs (its project's key, overlap, type, config)."""

    workspace_id: str
    id: str
    project_id: str
    payload: bytes
    predictions: bytes | None
    priority: int
    annotation_count: int
    done: bool
    created_at: int
    key_id: str
    overlap: int
    task_type: str
    config: bytes
    is_qualification: bool
    config_version: int
    is_gold: bool
    gold: bytes | None


def task_record(tx, task_id: str, user_id: str | None) -> TaskRecord | None:
    """The task, within the person's workspaces (``user_id=None``: the local operator, any workspace)."""
    row = TASK_ROW.one(tx, id=task_id, user=user_id) if user_id is not None else TASK_ROW_ANY.one(tx, id=task_id)
    return None if row is None else TaskRecord(*row)

HELD = Statement(
    "SELECT id, task_id FROM assignments WHERE workspace_id = :ws AND project_id = :project "
    "AND user_id = :user AND state = 'leased' ORDER BY id LIMIT 1"
)
RENEW = Statement(
    "UPDATE assignments SET expires_at = :expires, updated_at = :now "
    "WHERE workspace_id = :ws AND id = :id AND state = 'leased'"
)
EXPIRED = Statement(
    "SELECT id, task_id FROM assignments WHERE workspace_id = :ws AND project_id = :project "
    "AND state = 'leased' AND expires_at < :now LIMIT :limit"
)
EXPIRE = Statement(
    "UPDATE assignments SET state = 'expired', updated_at = :now WHERE workspace_id = :ws AND id = :id "
    "AND state = 'leased'"
)
RELEASE_SLOT = Statement("UPDATE tasks SET lease_count = lease_count - 1 WHERE workspace_id = :ws AND id = :id")
_TOUCHED = ("NOT EXISTS (SELECT 1 FROM assignments a WHERE a.workspace_id = t.workspace_id AND a.task_id = t.id "
            "AND a.user_id = :user AND a.state <> 'expired')")
CANDIDATE = Statement(
    "SELECT t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project AND t.done = 0 "
    f"AND t.annotation_count + t.lease_count < :overlap AND {_TOUCHED} ORDER BY t.priority DESC, t.id LIMIT 1",
    postgresql="SELECT t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project AND NOT t.done "
    f"AND t.annotation_count + t.lease_count < :overlap AND {_TOUCHED} ORDER BY t.priority DESC, t.id LIMIT 1 "
    "FOR UPDATE OF t SKIP LOCKED",
)
CANDIDATE_ANY = Statement(  # qualification tests: every task is for everyone (but held ones and canaries)
    f"SELECT t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project AND t.held = 0 "
    f"AND t.is_canary = 0 AND {_TOUCHED} ORDER BY t.priority DESC, t.id LIMIT 1",
    postgresql=f"SELECT t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project AND NOT t.held "
    f"AND NOT t.is_canary AND {_TOUCHED} ORDER BY t.priority DESC, t.id LIMIT 1",
)
TAKE_SLOT = Statement(
    "UPDATE tasks SET lease_count = lease_count + 1 WHERE workspace_id = :ws AND id = :id "
    "AND annotation_count + lease_count < :overlap"
)
TAKE_ANY = Statement("UPDATE tasks SET lease_count = lease_count + 1 WHERE workspace_id = :ws AND id = :id")
MOVE_ASSIGNMENT = Statement(
    "UPDATE assignments SET state = :state, expires_at = :expires, updated_at = :now "
    "WHERE workspace_id = :ws AND task_id = :task AND user_id = :user"
)
INSERT_ASSIGNMENT = Statement(
    "INSERT INTO assignments (workspace_id, id, project_id, task_id, user_id, state, expires_at, created_at, "
    "updated_at) VALUES (:ws, :id, :project, :task, :user, :state, :expires, :now, :now)"
)
MINE = Statement("SELECT id, state FROM assignments WHERE workspace_id = :ws AND task_id = :task AND user_id = :user")
CONSUME = Statement(
    "UPDATE assignments SET state = 'submitted', updated_at = :now WHERE workspace_id = :ws AND id = :id "
    "AND state = 'leased'"
)
COUNT_SLOT_LEASED = Statement(
    "UPDATE tasks SET annotation_count = annotation_count + 1, lease_count = lease_count - 1, "
    "done = CASE WHEN annotation_count + 1 >= :overlap THEN :yes ELSE :no END "
    "WHERE workspace_id = :ws AND id = :id RETURNING annotation_count, done"
)
COUNT_SLOT_FREE = Statement(
    "UPDATE tasks SET annotation_count = annotation_count + 1, "
    "done = CASE WHEN annotation_count + 1 >= :overlap THEN :yes ELSE :no END "
    "WHERE workspace_id = :ws AND id = :id AND annotation_count + lease_count < :overlap "
    "RETURNING annotation_count, done"
)
COUNT_ANY = Statement(
    "UPDATE tasks SET annotation_count = annotation_count + 1 WHERE workspace_id = :ws AND id = :id "
    "RETURNING annotation_count"
)
INSERT_ANNOTATION = Statement(
    "INSERT INTO annotations (workspace_id, id, project_id, task_id, user_id, result, lead_time_ms, review_status, "
    "gold_score, created_at) VALUES (:ws, :id, :project, :task, :user, :result, :lead, :review, :gold_score, :now)"
)
GOLD_CANDIDATE = Statement(
    f"SELECT t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project AND t.is_gold = 1 "
    f"AND t.held = 0 AND {_TOUCHED} ORDER BY t.id LIMIT 1",
    postgresql=f"SELECT t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project AND t.is_gold "
    f"AND NOT t.held AND {_TOUCHED} ORDER BY t.id LIMIT 1",
)
PAUSED = Statement(
    "SELECT reason FROM annotator_pauses WHERE workspace_id = :ws AND project_id = :project AND user_id = :user"
)
GOLD_STATS = Statement(
    "SELECT count(*), coalesce(sum(gold_score), 0) FROM annotations WHERE workspace_id = :ws "
    "AND project_id = :project AND user_id = :user AND gold_score IS NOT NULL"
)
PAUSE = Statement(
    "INSERT INTO annotator_pauses (workspace_id, project_id, user_id, paused_at, reason) "
    "VALUES (:ws, :project, :user, :now, :reason) ON CONFLICT (workspace_id, project_id, user_id) DO NOTHING"
)
TASK_ROW = Statement(
    "SELECT t.workspace_id, t.id, t.project_id, t.payload, t.predictions, t.priority, t.annotation_count, t.done, "
    "t.created_at, p.key_id, p.overlap, p.task_type, p.config, p.qualification IS NOT NULL, p.config_version, "
    "t.is_gold, t.gold FROM tasks t JOIN projects p ON p.workspace_id = t.workspace_id AND p.id = t.project_id "
    "WHERE t.id = :id AND t.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = :user)"
)
TASK_ROW_ANY = Statement(  # the local operator: every workspace
    "SELECT t.workspace_id, t.id, t.project_id, t.payload, t.predictions, t.priority, t.annotation_count, t.done, "
    "t.created_at, p.key_id, p.overlap, p.task_type, p.config, p.qualification IS NOT NULL, p.config_version, "
    "t.is_gold, t.gold FROM tasks t JOIN projects p ON p.workspace_id = t.workspace_id AND p.id = t.project_id "
    "WHERE t.id = :id"
)
BUMP_COUNTS = Statement(
    "UPDATE project_counters SET tasks = tasks + :tasks, done = done + :done, annotations = annotations + :annotations, "
    "skips = skips + :skips WHERE workspace_id = :ws AND project_id = :project AND shard = :shard"
)


def set_assignment(tx, ws: str, project_id: str, task_id: str, user_id: str, state: str, expires_at: int) -> None:
    """Insert the (task, person) assignment, or move an expired/skipped one to ``state``."""
    params = {"ws": ws, "task": task_id, "user": user_id, "state": state, "expires": expires_at, "now": tx.now}
    if not MOVE_ASSIGNMENT.run(tx, **params):
        INSERT_ASSIGNMENT.run(tx, id=ids.new_id("asg"), project=project_id, **params)

PROJECT_ROW = Statement(
    "SELECT workspace_id, id, name, task_type, key_id, config, config_version, overlap, lease_seconds, priority, "
    "required_skills, max_tasks_per_person, max_tasks_per_day, qualification, quality, created_at, updated_at "
    "FROM projects WHERE id = :id AND workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = :user)"
)
PROJECT_ROW_ANY = Statement(
    "SELECT workspace_id, id, name, task_type, key_id, config, config_version, overlap, lease_seconds, priority, "
    "required_skills, max_tasks_per_person, max_tasks_per_day, qualification, quality, created_at, updated_at "
    "FROM projects WHERE id = :id"
)


class ProjectRecord(NamedTuple):
    workspace_id: str
    id: str
    name: str
    task_type: str
    key_id: str
    config: bytes
    config_version: int
    overlap: int
    lease_seconds: int
    priority: int
    required_skills: str
    max_tasks_per_person: int | None
    max_tasks_per_day: int | None
    qualification: str | None
    quality: str
    created_at: int
    updated_at: int


def project_record(tx, project_id: str, user_id: str | None) -> ProjectRecord | None:
    row = (PROJECT_ROW.one(tx, id=project_id, user=user_id) if user_id is not None
           else PROJECT_ROW_ANY.one(tx, id=project_id))
    return None if row is None else ProjectRecord(*row)


MEMBERSHIPS = Statement("SELECT workspace_id, role FROM memberships WHERE user_id = :user")
