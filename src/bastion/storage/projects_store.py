"""Projects' storage: the project rows, their settings as columns, their sharded counters.

A project's config is stored sealed (the service seals and opens it); its settings
are clear metadata, kept as columns (JSON text for the structured ones). Reading a
project by id runs on every queue and submit request, so it is a driver-level
statement (``fast.py``), as is the counters' bump. Counters are ``shards`` rows per
project, one picked by the caller per bump and summed on read.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
from sqlalchemy import delete, func, insert, select, update

from . import schema
from .database import Tx
from .fast import Statement
from ..domain.projects import Counts, ProjectSettings

P = schema.projects
C = schema.project_counters

_PROJECT_COLUMNS = (
    "workspace_id, id, name, task_type, key_id, config, config_version, overlap, lease_seconds, "
    "idle_after_s, priority, required_skills, max_tasks_per_person, max_tasks_per_day, qualification, quality, "
    "prelabel, required_credentials, created_at, updated_at"
)
PROJECT_ROW = Statement(
    f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = :id "
    "AND workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = :user)"
)
PROJECT_ROW_ANY = Statement(f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = :id")
BUMP_COUNTS = Statement(
    "UPDATE project_counters SET tasks = tasks + :tasks, done = done + :done, "
    "annotations = annotations + :annotations, skips = skips + :skips "
    "WHERE workspace_id = :ws AND project_id = :project AND shard = :shard"
)


class ProjectRecord(NamedTuple):
    """A project row (``config`` sealed; the settings as stored: ``settings_of`` reads them)."""

    workspace_id: str
    id: str
    name: str
    task_type: str
    key_id: str
    config: bytes
    config_version: int
    overlap: int
    lease_seconds: int
    idle_after_s: int
    priority: int
    required_skills: str
    max_tasks_per_person: int | None
    max_tasks_per_day: int | None
    qualification: str | None
    quality: str
    prelabel: str | None
    required_credentials: str | None
    created_at: int
    updated_at: int


_RECORD_COLUMNS = [getattr(P.c, name) for name in ProjectRecord._fields]


class ProjectName(NamedTuple):
    """A project as metadata: what lists of projects show without opening configs."""

    id: str
    name: str
    task_type: str


class RankedProject(NamedTuple):
    """A project in the order work is offered across workspaces (priority, then age)."""

    id: str
    workspace_id: str


def settings_of(record: ProjectRecord) -> ProjectSettings:
    """The settings of a project row."""
    return ProjectSettings(
        overlap=record.overlap,
        lease_seconds=record.lease_seconds,
        idle_after_s=record.idle_after_s,
        priority=record.priority,
        required_skills=orjson.loads(record.required_skills or "{}"),
        max_tasks_per_person=record.max_tasks_per_person,
        max_tasks_per_day=record.max_tasks_per_day,
        qualification=orjson.loads(record.qualification) if record.qualification else None,
        quality=orjson.loads(record.quality or "{}"),
        prelabel=orjson.loads(record.prelabel) if record.prelabel else None,
        required_credentials=orjson.loads(record.required_credentials) if record.required_credentials else [],
    )


def _settings_columns(settings: ProjectSettings) -> dict[str, Any]:
    """The settings as the projects table stores them."""
    return {
        "overlap": settings.overlap,
        "lease_seconds": settings.lease_seconds,
        "idle_after_s": settings.idle_after_s,
        "priority": settings.priority,
        "required_skills": orjson.dumps(settings.required_skills.model_dump()).decode(),
        "max_tasks_per_person": settings.max_tasks_per_person,
        "max_tasks_per_day": settings.max_tasks_per_day,
        "qualification": orjson.dumps(settings.qualification.model_dump()).decode() if settings.qualification else None,
        "quality": orjson.dumps(settings.quality.model_dump()).decode(),
        "prelabel": orjson.dumps(settings.prelabel.model_dump()).decode() if settings.prelabel else None,
        "required_credentials": orjson.dumps([r.model_dump() for r in settings.required_credentials]).decode()
        if settings.required_credentials
        else None,
    }


def project_read(project_id: str, *, user_id: str | None) -> tuple[Statement, dict[str, str]]:
    """The statement and parameters ``find_project`` reads with (to ask ahead: ``fast.prefetch``)."""
    if user_id is None:
        return PROJECT_ROW_ANY, {"id": project_id}
    return PROJECT_ROW, {"id": project_id, "user": user_id}


def find_project(tx: Tx, project_id: str, *, user_id: str | None) -> ProjectRecord | None:
    """The project, within the person's workspaces (``user_id=None``: the local operator, any workspace)."""
    statement, params = project_read(project_id, user_id=user_id)
    row = statement.one(tx, **params)
    return None if row is None else ProjectRecord(*row)


def insert_project(
    tx: Tx,
    project_id: str,
    *,
    workspace_id: str,
    name: str,
    task_type: str,
    key_id: str,
    config: bytes,
    settings: ProjectSettings,
    created_by: str | None,
    now: int,
    shards: int,
) -> None:
    """A new project with its ``shards`` counter rows and its queue epoch."""
    tx.execute(
        insert(P).values(
            workspace_id=workspace_id,
            id=project_id,
            name=name,
            task_type=task_type,
            key_id=key_id,
            config=config,
            **_settings_columns(settings),
            created_at=now,
            updated_at=now,
            created_by=created_by,
        )
    )
    tx.execute(insert(C), [{"workspace_id": workspace_id, "project_id": project_id, "shard": i} for i in range(shards)])
    tx.execute(insert(schema.queue_epochs).values(workspace_id=workspace_id, project_id=project_id))


def list_projects(tx: Tx, *, workspace_id: str) -> list[ProjectRecord]:
    """The workspace's projects, oldest first."""
    rows = tx.execute(select(*_RECORD_COLUMNS).where(P.c.workspace_id == workspace_id).order_by(P.c.id)).all()
    return [ProjectRecord._make(row) for row in rows]


def list_project_names(tx: Tx, *, workspace_id: str) -> list[ProjectName]:
    """The workspace's projects as metadata, oldest first."""
    rows = tx.execute(
        select(P.c.id, P.c.name, P.c.task_type).where(P.c.workspace_id == workspace_id).order_by(P.c.id)
    ).all()
    return [ProjectName._make(row) for row in rows]


def list_projects_by_priority(tx: Tx, *, workspace_ids: list[str]) -> list[RankedProject]:
    """The projects of these workspaces, highest priority first, then oldest."""
    rows = tx.execute(
        select(P.c.id, P.c.workspace_id)
        .where(P.c.workspace_id.in_(workspace_ids))
        .order_by(P.c.priority.desc(), P.c.id)
    ).all()
    return [RankedProject._make(row) for row in rows]


def update_project(
    tx: Tx,
    project_id: str,
    *,
    workspace_id: str,
    now: int,
    name: str | None = None,
    task_type: str | None = None,
    config: bytes | None = None,
    settings: ProjectSettings | None = None,
) -> None:
    """Change what is given; a new ``config`` (sealed) raises the config version."""
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if task_type is not None:
        values["task_type"] = task_type
    if config is not None:
        values["config"] = config
        values["config_version"] = P.c.config_version + 1
    if settings is not None:
        values.update(_settings_columns(settings))
    tx.execute(update(P).where(P.c.workspace_id == workspace_id, P.c.id == project_id).values(**values))


def delete_project(tx: Tx, project_id: str, *, workspace_id: str) -> None:
    """The project's row; its tasks, annotations and counters go with it (cascades)."""
    tx.execute(delete(P).where(P.c.workspace_id == workspace_id, P.c.id == project_id))


# -- counters ---------------------------------------------------------------------------


# One project's counters (every submit that completes a task asks: services/annotations.py).
# SUM over no rows is one row of NULLs; the columns are NOT NULL, so NULL means "no rows".
SUM_COUNTS_ONE = Statement(
    "SELECT SUM(tasks), SUM(done), SUM(annotations), SUM(skips) FROM project_counters "
    "WHERE workspace_id = :ws AND project_id = :project"
)


def sum_counts(tx: Tx, project_ids: list[str], *, workspace_id: str) -> dict[str, Counts]:
    """project id -> its counters summed over their shards (a project without rows is left out)."""
    if len(project_ids) == 1:  # the hot path: one plain statement on the driver
        one = SUM_COUNTS_ONE.one_row(tx, ws=workspace_id, project=project_ids[0])
        if one[0] is None:
            return {}
        return {project_ids[0]: Counts(*(int(v or 0) for v in one))}
    rows = tx.execute(
        select(
            C.c.project_id,
            func.sum(C.c.tasks).label("tasks"),
            func.sum(C.c.done).label("done"),
            func.sum(C.c.annotations).label("annotations"),
            func.sum(C.c.skips).label("skips"),
        )
        .where(C.c.workspace_id == workspace_id, C.c.project_id.in_(project_ids))
        .group_by(C.c.project_id)
    ).all()
    return {
        row.project_id: Counts(int(row.tasks or 0), int(row.done or 0), int(row.annotations or 0), int(row.skips or 0))
        for row in rows
    }


# Serialises the transactions that may complete a project (PostgreSQL; SQLite has one writer already):
# held until commit, so the second of two near-final completions reads the first one's counters.
_LOCK_COMPLETION = Statement("SELECT 1", postgresql="SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def lock_completion(tx: Tx, project_id: str, *, workspace_id: str) -> None:
    """Take the project's completion lock for the rest of the transaction (a no-op on SQLite)."""
    if not tx.db.is_sqlite:
        _LOCK_COMPLETION.run(tx, key=f"project-completion:{workspace_id}:{project_id}")


def bump_counts(
    tx: Tx, project_id: str, *, workspace_id: str, shard: int, tasks: int, done: int, annotations: int, skips: int
) -> None:
    """Add to one shard of the project's counters (sent with the transaction's next statement: ``defer``)."""
    BUMP_COUNTS.defer(
        tx,
        ws=workspace_id,
        project=project_id,
        shard=shard,
        tasks=tasks,
        done=done,
        annotations=annotations,
        skips=skips,
    )


def set_done_count(tx: Tx, project_id: str, *, workspace_id: str, done: int) -> None:
    """The project's count of done tasks is ``done`` (kept on shard 0, the other shards' zeroed)."""
    scope = (C.c.workspace_id == workspace_id, C.c.project_id == project_id)
    tx.execute(update(C).where(*scope).values(done=0))
    tx.execute(update(C).where(*scope, C.c.shard == 0).values(done=done))
