"""The queue's storage: leases, claims and task rows, on the hot path (see ``fast.py``).

Every statement names ``workspace_id`` first, matching the leading column of the
keys and indexes (and PostgreSQL's row-level security). The candidate query
reads the head of ``ix_tasks_queue``; ``done = 0`` is spelled literally on
SQLite so its planner can use that partial index. The few reads and writes of
assignments off the hot path (a skip, the labelling page's GET, routing caps, a
qualification retake) are plain SQLAlchemy Core at the end, with typed rows.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, func, select

from . import schema
from .database import Tx
from .fast import Statement
from .. import ids


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


def task_record(tx: Tx, task_id: str, user_id: str | None) -> TaskRecord | None:
    """The task, within the person's workspaces (``user_id=None``: the local operator, any workspace)."""
    row = TASK_ROW.one(tx, id=task_id, user=user_id) if user_id is not None else TASK_ROW_ANY.one(tx, id=task_id)
    return None if row is None else TaskRecord(*row)


_HELD = (
    "SELECT id, task_id FROM assignments WHERE workspace_id = :ws AND project_id = :project "
    "AND user_id = :user AND state = 'leased' ORDER BY {} LIMIT 1"
)
HELD = Statement(  # "+id": keeps SQLite on ix_assignments_user (ordering by the key would walk the workspace's rows)
    _HELD.format("+id"),
    postgresql=_HELD.format("id"),
)
RENEW = Statement(
    "UPDATE assignments SET expires_at = :expires, updated_at = :now "
    "WHERE workspace_id = :ws AND id = :id AND state = 'leased'"
)
_EXPIRED_LEASES = (
    "SELECT id, task_id FROM assignments WHERE workspace_id = :ws AND project_id = :project "
    "AND state = 'leased' AND expires_at < :now LIMIT :limit"
)
# PostgreSQL: the reclaim takes the expired rows' locks here, passing over any another transaction holds (a lease
# being submitted or renewed: not the reclaim's to expire), so it never waits for an assignment row while holding
# a task row — a late submit takes its assignment row, then its task row, and the two would deadlock
# (tests/services/test_reclaim_lock_order.py). In task order, so two reclaims take task rows in the same order.
EXPIRED = Statement(
    _EXPIRED_LEASES,
    postgresql=f"SELECT id, task_id FROM ({_EXPIRED_LEASES} FOR UPDATE SKIP LOCKED) expired ORDER BY task_id, id",
)
EXPIRE = Statement(
    "UPDATE assignments SET state = 'expired', updated_at = :now WHERE workspace_id = :ws AND id = :id "
    "AND state = 'leased'"
)
RELEASE_SLOT = Statement("UPDATE tasks SET lease_count = lease_count - 1 WHERE workspace_id = :ws AND id = :id")
_TOUCHED = (
    "NOT EXISTS (SELECT 1 FROM assignments a WHERE a.workspace_id = t.workspace_id AND a.task_id = t.id "
    "AND a.user_id = :user AND a.state <> 'expired')"
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
# leased_at: when a lease begins (a submit may not claim more active time than it has lasted).
MOVE_ASSIGNMENT = Statement(
    "UPDATE assignments SET state = :state, expires_at = :expires, updated_at = :now, "
    "leased_at = coalesce(:leased_at, leased_at) "
    "WHERE workspace_id = :ws AND task_id = :task AND user_id = :user"
)
# PostgreSQL: both in one statement (the update when the (task, person) row is there already).
UPSERT_ASSIGNMENT = Statement(
    "SELECT 1",
    postgresql="INSERT INTO assignments (workspace_id, id, project_id, task_id, user_id, state, expires_at, "
    "created_at, updated_at, leased_at) VALUES (:ws, :id, :project, :task, :user, :state, :expires, :now, :now, "
    ":leased_at) ON CONFLICT (workspace_id, task_id, user_id) DO UPDATE SET state = EXCLUDED.state, "
    "expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at, "
    "leased_at = coalesce(EXCLUDED.leased_at, assignments.leased_at)",
)
INSERT_ASSIGNMENT = Statement(
    "INSERT INTO assignments (workspace_id, id, project_id, task_id, user_id, state, expires_at, created_at, "
    "updated_at, leased_at) VALUES (:ws, :id, :project, :task, :user, :state, :expires, :now, :now, :leased_at)"
)
SKIP = Statement(
    "UPDATE assignments SET state = 'skipped', updated_at = :now WHERE workspace_id = :ws AND id = :id "
    "AND state = 'leased'"
)
MINE = Statement(
    "SELECT id, state, coalesce(leased_at, created_at) FROM assignments "
    "WHERE workspace_id = :ws AND task_id = :task AND user_id = :user"
)
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
# PostgreSQL: CONSUME, then COUNT_SLOT_LEASED if it consumed the lease or COUNT_SLOT_FREE if not, in
# one statement (both tables are written from one snapshot; they are different rows, as apart).
# No row: the task is full and the lease was not consumed (the caller refuses the submit).
CONSUME_AND_COUNT = Statement(
    "SELECT 1",
    postgresql="WITH c AS (UPDATE assignments SET state = 'submitted', updated_at = :now "
    "WHERE workspace_id = :ws AND id = :assignment AND state = 'leased' RETURNING 1) "
    "UPDATE tasks SET annotation_count = annotation_count + 1, lease_count = lease_count - (SELECT count(*) FROM c), "
    "done = CASE WHEN annotation_count + 1 >= :overlap THEN true ELSE false END "
    "WHERE workspace_id = :ws AND id = :id "
    "AND (EXISTS (SELECT 1 FROM c) OR annotation_count + lease_count < :overlap) "
    "RETURNING annotation_count, done, (SELECT count(*) FROM c)",
)
COUNT_ANY = Statement(
    "UPDATE tasks SET annotation_count = annotation_count + 1 WHERE workspace_id = :ws AND id = :id "
    "RETURNING annotation_count"
)
INSERT_ANNOTATION = Statement(
    "INSERT INTO annotations (workspace_id, id, project_id, task_id, user_id, result, lead_time_ms, review_status, "
    "gold_score, created_at, guideline_version, paste_count, pasted_chars) "
    "VALUES (:ws, :id, :project, :task, :user, :result, :lead, :review, :gold_score, :now, :guidelines, :pastes, :pasted)"
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


def set_assignment(
    tx: Tx,
    ws: str,
    project_id: str,
    task_id: str,
    user_id: str,
    state: str,
    expires_at: int,
    *,
    defer: bool = False,
) -> None:
    """Insert the (task, person) assignment, or move an expired/skipped one to ``state``.

    PostgreSQL: one upsert; ``defer``: sent with the transaction's next statement (``Statement.defer``:
    only where no error of it is caught to carry on)."""
    params = {"ws": ws, "task": task_id, "user": user_id, "state": state, "expires": expires_at, "now": tx.now}
    params["leased_at"] = tx.now if state == "leased" else None
    if not tx.db.is_sqlite:
        params["id"], params["project"] = ids.new_id("asg"), project_id
        (UPSERT_ASSIGNMENT.defer if defer else UPSERT_ASSIGNMENT.run)(tx, **params)
        return
    if not MOVE_ASSIGNMENT.run(tx, **params):
        INSERT_ASSIGNMENT.run(tx, id=ids.new_id("asg"), project=project_id, **params)


_LEASED_TO = "SELECT id, task_id FROM assignments WHERE workspace_id = :ws AND user_id = :user AND state = 'leased'"
LEASED_TO = Statement(_LEASED_TO)
LEASED_TO_IN_PROJECT = Statement(_LEASED_TO + " AND project_id = :project")


def release_leases(tx: Tx, workspace_id: str, user_id: str, *, project_id: str | None = None) -> int:
    """End a person's open leases in a workspace (or one of its projects) now: each expires and its slot
    returns to the pool. Returns how many there were."""
    if project_id is None:
        rows = LEASED_TO.rows(tx, ws=workspace_id, user=user_id)
    else:
        rows = LEASED_TO_IN_PROJECT.rows(tx, ws=workspace_id, user=user_id, project=project_id)
    for assignment_id, task_id in rows:
        if EXPIRE.run(tx, ws=workspace_id, id=assignment_id, now=tx.now):
            RELEASE_SLOT.run(tx, ws=workspace_id, id=task_id)
    return len(rows)


# -- the queue's epoch ----------------------------------------------------------------
# A person's next-task scan starts where their previous one ended (services/queue.py),
# which is right only while no task before that point can have become a candidate
# for them again. Everything that can do so bumps the project's epoch in its own
# transaction: these triggers for row changes (whatever code path makes them), and
# ``BUMP_EPOCH`` for imports (a trigger per inserted row would cost a write per task).
# The bump is an UPDATE, never an insert: a cascade deleting a project must not
# recreate its row. Deleted assignments (qualification retakes, which never use a
# starting point) do not bump.
_REOPENED = (
    "NEW.annotation_count + NEW.lease_count < OLD.annotation_count + OLD.lease_count "
    "OR (OLD.done AND NOT NEW.done) OR NEW.priority > OLD.priority"
)
_EXPIRED = "OLD.state <> 'expired' AND NEW.state = 'expired'"
_RAISED = "NEW.overlap > OLD.overlap"
_TRIGGERS = (  # name, table, columns, condition, project id column
    ("queue_epoch_tasks", "tasks", "annotation_count, lease_count, done, priority", _REOPENED, "project_id"),
    ("queue_epoch_assignments", "assignments", "state", _EXPIRED, "project_id"),
    ("queue_epoch_projects", "projects", "overlap", _RAISED, "id"),
)
_BUMP = "UPDATE queue_epochs SET epoch = epoch + 1 WHERE workspace_id = {ws} AND project_id = {project}"


def epoch_trigger_sql(dialect: str) -> list[str]:
    """Statements creating the epoch triggers (run by migration 0006)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {name} AFTER UPDATE OF {columns} ON {table} FOR EACH ROW WHEN {condition} "
            f"BEGIN {_BUMP.format(ws='NEW.workspace_id', project=f'NEW.{project}')}; END"
            for name, table, columns, condition, project in _TRIGGERS
        ]
    statements = []
    for name, table, columns, condition, project in _TRIGGERS:
        function = f"bastion_{name}"
        statements += [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{_BUMP.format(ws='NEW.workspace_id', project=f'NEW.{project}')}; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER UPDATE OF {columns} ON {table} FOR EACH ROW WHEN ({condition}) "
            f"EXECUTE FUNCTION {function}()",
        ]
    return statements


def drop_epoch_trigger_sql(dialect: str) -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS {name}" + ("" if dialect == "sqlite" else f" ON {table}")
        for name, table, *_ in _TRIGGERS
    ]
    if dialect != "sqlite":
        statements += [f"DROP FUNCTION IF EXISTS bastion_{name}()" for name, *_ in _TRIGGERS]
    return statements


EPOCH = Statement("SELECT epoch FROM queue_epochs WHERE workspace_id = :ws AND project_id = :project")
BUMP_EPOCH = Statement(_BUMP.format(ws=":ws", project=":project"))

# The next-task scan in pieces, so that it can start at a (priority, id) point: the
# tasks of the same priority from that id on, then those of lower priority. Each is
# one range of ix_tasks_queue (an OR of both would not be on SQLite).
# "OFFSET 0" keeps PostgreSQL from turning the NOT EXISTS into an anti-join, which with
# stale statistics (right after an import) reads every assignment of the person once per
# call; as a subplan it is one index probe per task looked at, as on SQLite.
_OPEN = (
    "SELECT t.priority, t.id FROM tasks t WHERE t.workspace_id = :ws AND t.project_id = :project "
    "AND {done} AND t.annotation_count + t.lease_count < :overlap AND {touched} {start} ORDER BY {order} "
    "LIMIT 1"
)
_STARTS = {
    "first": ("", "t.priority DESC, t.id"),
    "same": ("AND t.priority = :priority AND t.id >= :id", "t.id"),
    "below": ("AND t.priority < :priority", "t.priority DESC, t.id"),
}


def _open_sql(start: str, dialect: str) -> str:
    where, order = _STARTS[start]
    if dialect == "sqlite":
        return _OPEN.format(done="t.done = 0", touched=_TOUCHED, start=where, order=order)
    return _OPEN.format(done="NOT t.done", touched=_TOUCHED[:-1] + " OFFSET 0)", start=where, order=order)


# PostgreSQL: claim the first candidate and take its slot in one statement. The CTE locks the row
# ``FOR UPDATE SKIP LOCKED`` (a task another transaction is claiming or counting is passed over) and,
# READ COMMITTED, re-checks its conditions on the row's newest version once locked; the UPDATE takes the
# slot guarded by the same ``annotation_count + lease_count < :overlap``, evaluated on that newest
# version too (a row changed since the statement's snapshot is re-read and re-checked), and nobody can
# change it in between: the lock is this transaction's. So the slot is still only ever taken by a
# guarded UPDATE under the row's lock: of two annotators racing for a task's last slot, one locks it
# first and takes it; the other passes over the locked row, or — once the first has committed — finds
# the slot gone and the guard refuses it. No row: no unlocked candidate with a slot from ``start`` on.
_CLAIM_SLOT = (
    "WITH c AS ({claim} FOR UPDATE OF t SKIP LOCKED) "
    "UPDATE tasks SET lease_count = tasks.lease_count + 1 FROM c "
    "WHERE tasks.workspace_id = :ws AND tasks.id = c.id AND tasks.annotation_count + tasks.lease_count < :overlap "
    "RETURNING c.priority, c.id"
)

PEEK = {start: Statement(_open_sql(start, "sqlite"), postgresql=_open_sql(start, "postgresql")) for start in _STARTS}
CLAIM_SLOT = {  # never run on SQLite: one writer at a time, what was read is what is taken
    start: Statement("SELECT 1", postgresql=_CLAIM_SLOT.format(claim=_open_sql(start, "postgresql")))
    for start in _STARTS
}


def first_open(
    tx: Tx, ws: str, project: str, user: str, overlap: int, start: tuple[int, str] | None, *, take: bool = False
) -> tuple[int, str] | None:
    """The first candidate (priority, id) for ``user`` at or after ``start`` (None: from the head).

    Without ``take``, a plain read that sees rows other transactions are claiming. ``take``
    (PostgreSQL only): claim it ``FOR UPDATE SKIP LOCKED`` and take its slot (``CLAIM_SLOT``).
    """
    statements = CLAIM_SLOT if take else PEEK
    params = {"ws": ws, "project": project, "user": user, "overlap": overlap}
    if start is None:
        return statements["first"].one(tx, **params)
    priority, task_id = start
    return statements["same"].one(tx, priority=priority, id=task_id, **params) or statements["below"].one(
        tx, priority=priority, **params
    )


# -- assignments off the hot path ----------------------------------------------------------

A = schema.assignments


def is_assigned(tx: Tx, workspace_id: str, task_id: str, user_id: str) -> bool:
    """Whether the task was ever handed to the person (any lease state): who may still open it and its files."""
    return (
        tx.execute(
            select(A.c.id)
            .where(A.c.workspace_id == workspace_id, A.c.task_id == task_id, A.c.user_id == user_id)
            .limit(1)
        ).first()
        is not None
    )


class Assignment(NamedTuple):
    """A person's assignment of one task."""

    id: str
    state: str  # leased | submitted | skipped | expired
    leased_at: int  # when it was last leased (ms)


class Lease(NamedTuple):
    """A person's lease on a task (live or past its expiry, its slot still counted)."""

    id: str  # the assignment's
    task_id: str


def find_lease(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> Lease | None:
    """The person's first lease in the project, expired or not (the queue renews it)."""
    row = HELD.one(tx, ws=workspace_id, project=project_id, user=user_id)
    return None if row is None else Lease(*row)


class HeldLease(NamedTuple):
    """A live lease: the task a person holds and until when."""

    task_id: str
    expires_at: int


def find_assignment(tx: Tx, task_id: str, *, workspace_id: str, user_id: str) -> Assignment | None:
    """The person's assignment of the task, if it was ever handed to them."""
    row = MINE.one(tx, ws=workspace_id, task=task_id, user=user_id)
    return None if row is None else Assignment(*row)


def find_live_lease(tx: Tx, project_id: str, *, workspace_id: str, user_id: str, now: int) -> HeldLease | None:
    """The person's first lease in the project that has not expired by ``now``."""
    row = tx.execute(
        select(A.c.task_id, A.c.expires_at)
        .where(
            A.c.workspace_id == workspace_id,
            A.c.project_id == project_id,
            A.c.user_id == user_id,
            A.c.state == "leased",
            A.c.expires_at > now,
        )
        .order_by(A.c.id)
        .limit(1)
    ).first()
    return None if row is None else HeldLease._make(row)


def first_leased_project(tx: Tx, *, workspace_ids: list[str], user_id: str) -> str | None:
    """The project of the person's first lease (any state of expiry) in these workspaces."""
    return tx.execute(
        select(A.c.project_id)
        .where(
            A.c.workspace_id.in_(workspace_ids),
            A.c.user_id == user_id,
            A.c.state == "leased",
        )
        .order_by(A.c.id)
        .limit(1)
    ).scalar()


def count_assignments(tx: Tx, project_id: str, *, workspace_id: str, user_id: str, since: int | None = None) -> int:
    """How many of the project's tasks were handed to the person (``since``: after that time)."""
    query = (
        select(func.count())
        .select_from(A)
        .where(A.c.workspace_id == workspace_id, A.c.project_id == project_id, A.c.user_id == user_id)
    )
    if since is not None:
        query = query.where(A.c.created_at > since)
    return tx.execute(query).scalar_one()


def skip_assignment(tx: Tx, assignment_id: str, task_id: str, *, workspace_id: str, now: int) -> bool:
    """Move a leased assignment to skipped and give its slot back; False when it was not leased."""
    if not SKIP.run(tx, ws=workspace_id, id=assignment_id, now=now):
        return False
    RELEASE_SLOT.run(tx, ws=workspace_id, id=task_id)
    return True


def delete_assignments(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> None:
    """Every assignment of the person in the project (a qualification retake starts afresh)."""
    tx.execute(delete(A).where(A.c.workspace_id == workspace_id, A.c.project_id == project_id, A.c.user_id == user_id))


_LEASED_ON = "SELECT id, user_id FROM assignments WHERE workspace_id = :ws AND task_id = :task AND state = 'leased'"
LEASED_ON = Statement(_LEASED_ON)


def release_task_leases(tx: Tx, workspace_id: str, task_id: str) -> list[str]:
    """End every open lease on a task now (each expires, its slot returns to the pool); returns whose they were."""
    released = []
    for assignment_id, user_id in LEASED_ON.rows(tx, ws=workspace_id, task=task_id):
        if EXPIRE.run(tx, ws=workspace_id, id=assignment_id, now=tx.now):
            RELEASE_SLOT.run(tx, ws=workspace_id, id=task_id)
            released.append(user_id)
    return released


# -- what /metrics reports (services/telemetry.py): one grouped query each, across workspaces ------


class ProjectCount(NamedTuple):
    workspace_id: str
    project_id: str
    number: int


# Reads ix_tasks_queue (partial: open tasks only) and nothing else: its size is the work left.
_OPEN_TASKS_BY_PROJECT = Statement(
    "SELECT workspace_id, project_id, count(*) FROM tasks WHERE done = 0 GROUP BY workspace_id, project_id",
    postgresql="SELECT workspace_id, project_id, count(*) FROM tasks WHERE NOT done GROUP BY workspace_id, project_id",
)
# Reads ix_assignments_expiry (partial: leased rows only).
_LIVE_LEASES_BY_PROJECT = Statement(
    "SELECT workspace_id, project_id, count(*) FROM assignments WHERE state = 'leased' AND expires_at > :now "
    "GROUP BY workspace_id, project_id"
)


def count_open_tasks_by_project(tx: Tx) -> list[ProjectCount]:
    """Tasks still to do (not done: below their overlap, not held, not gold) per project, every workspace."""
    return [ProjectCount(*row) for row in _OPEN_TASKS_BY_PROJECT.rows(tx)]


def count_live_leases_by_project(tx: Tx, *, now: int) -> list[ProjectCount]:
    """Leases not yet expired per project, every workspace (expired ones are reclaimed lazily)."""
    return [ProjectCount(*row) for row in _LIVE_LEASES_BY_PROJECT.rows(tx, now=now)]
