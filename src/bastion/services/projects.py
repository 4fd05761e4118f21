"""Projects: create, read, change, delete; their counters.

A project's labelling config is sealed with the project's own data key (labels
and instructions can name unreleased products). Each project has its own data
key so that deleting a project crypto-shreds it without touching the rest of the
workspace.

A project's config is client content: every read of it passes the wall
(``Unit.see_content``) and the explicit ones (``get_project``, ``list_projects``:
the API, the project page, the CLI) are audited. Its id, name, task type and
counts are metadata (``list_project_summaries``: the home page lists them across a
person's workspaces without binding them to any). Pages that work on a project
(labelling, review, browsing, quality) load it with ``project_for_work``: walled,
in a read transaction, unaudited — what they show is audited by the lease, review
or listing they serve.

Counters (tasks, done, annotations, skips) are kept in ``project_counters``:
``COUNTERS_SHARDS`` rows per project, one picked at random per update and summed
on read, so concurrent submits on PostgreSQL do not all wait on one row lock.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
from sqlalchemy import case, delete, func, insert, or_, select, update

from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.projects import Counts, Project, ProjectSettings, ProjectSummary, check_name, parse_settings
from ..storage import schema
from ..storage.crypto import key_id_of
from ..storage.queue_store import BUMP_COUNTS, project_record
from ..tasktypes.base import CONFIG_SECTIONS
from .context import Context, Unit

P = schema.projects
C = schema.project_counters
T = schema.tasks
COUNTER_SHARDS = 8


def _settings(row) -> ProjectSettings:
    return ProjectSettings(
        overlap=row.overlap, lease_seconds=row.lease_seconds, priority=row.priority,
        required_skills=orjson.loads(row.required_skills or "{}"),
        max_tasks_per_person=row.max_tasks_per_person, max_tasks_per_day=row.max_tasks_per_day,
        qualification=orjson.loads(row.qualification) if row.qualification else None,
        quality=orjson.loads(row.quality or "{}"),
    )


def settings_columns(settings: ProjectSettings) -> dict[str, Any]:
    """The settings as the projects table stores them."""
    return {
        "overlap": settings.overlap, "lease_seconds": settings.lease_seconds, "priority": settings.priority,
        "required_skills": orjson.dumps(settings.required_skills.model_dump()).decode(),
        "max_tasks_per_person": settings.max_tasks_per_person, "max_tasks_per_day": settings.max_tasks_per_day,
        "qualification": orjson.dumps(settings.qualification.model_dump()).decode() if settings.qualification else None,
        "quality": orjson.dumps(settings.quality.model_dump()).decode(),
    }


def _project(u: Unit, row, counts: Counts | None = None) -> Project:
    config = u.sealer(row.workspace_id, row.key_id).open_json("projects", row.id, "config", row.config)
    return Project(
        id=row.id, workspace_id=row.workspace_id, name=row.name, task_type=row.task_type,
        config=config, settings=_settings(row), key_id=row.key_id, created_at=row.created_at,
        updated_at=row.updated_at, counts=counts or Counts(),
    )


# Decrypted, validated projects by (id, key, config version, last change): the hot path
# reads the row every time (access and existence are always checked against the
# database) but opens and validates the config once per version.
_CACHE: dict[tuple, Project] = {}
_CACHE_LIMIT = 2048


def load_project(u: Unit, project_id: str, action: Action) -> Project:
    """The project, if the actor may take ``action`` on it; NotFound across workspaces."""
    row = project_record(u.tx, project_id, None if u.actor.is_system else u.actor.user_id)
    if row is None:
        raise NotFound("project not found")
    u.access.require(action, row.workspace_id, what="project")
    key = (row.id, row.key_id, row.config_version, row.updated_at)
    project = _CACHE.get(key)
    if project is not None:
        u.sealer(row.workspace_id, row.key_id)  # the key must still exist: no plaintext outlives a shred
    else:
        project = _project(u, row)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = project
    return project


_PARSED: dict[tuple, Any] = {}


def config_of(u: Unit, record) -> Any:
    """A task's project config, opened and validated once per config version (``record``: a TaskRecord)."""
    key = (record.project_id, key_id_of(record.config), record.config_version)
    parsed = _PARSED.get(key)
    if parsed is not None:
        u.sealer(record.workspace_id, record.key_id)  # the key must still exist
    else:
        raw = u.sealer(record.workspace_id, record.key_id).open_json("projects", record.project_id, "config", record.config)
        parsed = u.rt.task_types.get(record.task_type).parse_config(raw)
        if len(_PARSED) >= _CACHE_LIMIT:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


def counts_of(u: Unit, workspace_id: str, project_ids: list[str]) -> dict[str, Counts]:
    if not project_ids:
        return {}
    rows = u.execute(
        select(C.c.project_id, func.sum(C.c.tasks), func.sum(C.c.done), func.sum(C.c.annotations), func.sum(C.c.skips))
        .where(C.c.workspace_id == workspace_id, C.c.project_id.in_(project_ids))
        .group_by(C.c.project_id)
    ).all()
    return {r[0]: Counts(int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows}


def bump_counts(u: Unit, workspace_id: str, project_id: str, *, tasks: int = 0, done: int = 0,
                annotations: int = 0, skips: int = 0) -> None:
    if tasks or done or annotations or skips:
        BUMP_COUNTS.run(u.tx, ws=workspace_id, project=project_id, shard=random.randrange(COUNTER_SHARDS),
                        tasks=tasks, done=done, annotations=annotations, skips=skips)


def create_project(
    ctx: Context, workspace_id: str, *, name: str, config: Any, settings: Any = None
) -> Project:
    """Create a project with a validated labelling config; makes its data key."""
    name = check_name(name)
    task_type, parsed = ctx.rt.task_types.parse_config(config)
    proj_settings = parse_settings(settings)
    with ctx.read() as r:  # check before making a key, so a refusal leaves nothing behind
        r.access.require(Action.PROJECT_MANAGE, workspace_id)
        if isinstance(config, dict) and any(config.get(k) is not None for k in CONFIG_SECTIONS):
            r.access.require(Action.REDACTION_REVIEW, workspace_id)  # need-to-know sections: owners
    project_id = ids.new_id("prj")
    key_id = ctx.rt.keyring.create_key(workspace_id, project_id)
    try:
        with ctx.write() as w:
            w.access.require(Action.PROJECT_MANAGE, workspace_id)
            sealer = w.sealer(workspace_id, key_id)
            config_json = parsed.model_dump(mode="json")
            w.execute(
                insert(P).values(
                    workspace_id=workspace_id, id=project_id, name=name, task_type=task_type.name,
                    key_id=key_id, config=sealer.seal_json("projects", project_id, "config", config_json),
                    **settings_columns(proj_settings), created_at=w.now, updated_at=w.now,
                    created_by=None if ctx.actor.is_system else ctx.actor.user_id,
                )
            )
            w.execute(
                insert(C),
                [{"workspace_id": workspace_id, "project_id": project_id, "shard": i} for i in range(COUNTER_SHARDS)],
            )
            w.execute(insert(schema.queue_epochs).values(workspace_id=workspace_id, project_id=project_id))
            w.audit(workspace_id, "project.created", project_id, task_type=task_type.name,
                    settings=proj_settings.model_dump(mode="json"))
            return Project(project_id, workspace_id, name, task_type.name, config_json, proj_settings,
                           key_id, w.now, w.now)
    except BaseException:
        ctx.rt.keyring.destroy(workspace_id, project_id)
        raise


def list_projects(ctx: Context, workspace_id: str) -> list[Project]:
    """The workspace's projects with their configs (content: walled, audited as ``projects.listed``)."""
    with ctx.write() as w:
        w.access.require(Action.PROJECT_READ, workspace_id)
        w.see_content(workspace_id)
        rows = w.execute(select(P).where(P.c.workspace_id == workspace_id).order_by(P.c.id)).all()
        counts = counts_of(w, workspace_id, [row.id for row in rows])
        w.audit(workspace_id, "projects.listed", workspace_id, count=len(rows))
        return [as_seen(w, _project(w, row, counts.get(row.id))) for row in rows]


def get_project(ctx: Context, project_id: str) -> Project:
    """A project with its config and counts (content: walled, audited as ``project.read``)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.PROJECT_READ)
        w.see_content(project.workspace_id)
        counts = counts_of(w, project.workspace_id, [project.id]).get(project.id, Counts())
        w.audit(project.workspace_id, "project.read", project.id)
        return as_seen(w, _with_counts(project, counts))


def project_for_work(ctx: Context, project_id: str, action: Action) -> Project:
    """The project a page works on (labelling, review, browsing, quality), if the actor may take ``action``.

    Walled like every read of the config, but in a read transaction and not audited:
    the labelling and review pages load it on every submit, and what they show is
    audited by the lease, review or listing itself.
    """
    with ctx.read() as r:
        return work_project(r, project_id, action)


def work_project(u: Unit, project_id: str, action: Action) -> Project:
    """``project_for_work`` inside an open transaction (the labelling page's one call: services/labelling.py)."""
    project = load_project(u, project_id, action)
    u.see_content(project.workspace_id)
    counts = counts_of(u, project.workspace_id, [project.id]).get(project.id, Counts())
    return as_seen(u, _with_counts(project, counts))


def list_project_summaries(ctx: Context, workspace_id: str) -> list[ProjectSummary]:
    """The workspace's projects as metadata (name, task type, counts): decided by role, never walled or binding."""
    with ctx.read() as r:
        r.access.require(Action.PROJECT_READ, workspace_id)
        rows = r.execute(select(P.c.id, P.c.name, P.c.task_type).where(P.c.workspace_id == workspace_id)
                         .order_by(P.c.id)).all()
        counts = counts_of(r, workspace_id, [row.id for row in rows])
    return [ProjectSummary(row.id, workspace_id, row.name, row.task_type, counts.get(row.id, Counts()))
            for row in rows]


def get_project_summary(ctx: Context, project_id: str) -> ProjectSummary:
    """One project as metadata (for a page that cannot show its config yet: a first access, a wall)."""
    with ctx.read() as r:
        row = project_record(r.tx, project_id, None if r.actor.is_system else r.actor.user_id)
        if row is None:
            raise NotFound("project not found")
        r.access.require(Action.PROJECT_READ, row.workspace_id, what="project")
        counts = counts_of(r, row.workspace_id, [row.id]).get(row.id, Counts())
    return ProjectSummary(row.id, row.workspace_id, row.name, row.task_type, counts)


def as_seen(u: Unit, project: Project) -> Project:
    """The project as its reader may see it: the need-to-know sections of its config are for owners.

    ``redaction`` lists the client's codenames and people; ``leak_tracing`` says how
    people are fingerprinted. Annotators, reviewers, managers and auditors read the
    config without them (and a manager's change to the config keeps them as they are).
    """
    if not any(k in project.config for k in CONFIG_SECTIONS) or u.actor.is_system:
        return project
    if u.access.allows(Action.REDACTION_REVIEW, project.workspace_id):
        return project
    from dataclasses import replace

    return replace(project, config={k: v for k, v in project.config.items() if k not in CONFIG_SECTIONS})


def _with_counts(project: Project, counts: Counts) -> Project:
    from dataclasses import replace

    return replace(project, counts=counts)


def update_project(
    ctx: Context, project_id: str, *, name: str | None = None, config: Any = None, settings: Any = None
) -> Project:
    """Change a project's name, config or settings. Changing overlap re-derives 'done'."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.PROJECT_MANAGE)
        w.see_content(project.workspace_id)  # the answer is the config
        values: dict[str, Any] = {}
        changed: list[str] = []
        if name is not None:
            values["name"] = check_name(name)
            changed.append("name")
        if config is not None:
            if isinstance(config, dict) and not w.access.allows(Action.REDACTION_REVIEW, project.workspace_id):
                if any(config.get(k) is not None for k in CONFIG_SECTIONS):
                    w.access.require(Action.REDACTION_REVIEW, project.workspace_id, what="project")
                config = {**config, **{k: project.config[k] for k in CONFIG_SECTIONS if k in project.config}}
            task_type, parsed = ctx.rt.task_types.parse_config(config)
            if task_type.name != project.task_type:
                has_tasks = w.execute(
                    select(T.c.id).where(T.c.workspace_id == project.workspace_id, T.c.project_id == project.id).limit(1)
                ).first()
                if has_tasks:
                    raise Conflict("config.type: the task type cannot change once the project has tasks")
                values["task_type"] = task_type.name
            sealer = w.sealer(project.workspace_id, project.key_id)
            values["config"] = sealer.seal_json("projects", project.id, "config", parsed.model_dump(mode="json"))
            values["config_version"] = P.c.config_version + 1
            changed.append("config")
        new_settings = parse_settings(settings, project.settings) if settings is not None else project.settings
        if settings is not None:
            values.update(settings_columns(new_settings))
            changed.append("settings")
        if not values:
            raise InvalidInput("nothing to change: give name, config or settings")
        values["updated_at"] = w.now
        w.execute(update(P).where(P.c.workspace_id == project.workspace_id, P.c.id == project.id).values(**values))
        if new_settings.overlap != project.settings.overlap:
            _rederive_done(w, project.workspace_id, project.id, new_settings.overlap)
        w.audit(project.workspace_id, "project.updated", project.id, changed=changed,
                settings=new_settings.model_dump(mode="json"))
    return get_project(ctx, project_id)


def _rederive_done(w: Unit, workspace_id: str, project_id: str, overlap: int) -> None:
    scope = (T.c.workspace_id == workspace_id, T.c.project_id == project_id)
    # Held items, canaries and gold tasks are stored done (out of the queue index) and stay so.
    apart = or_(T.c.held.is_(True), T.c.is_canary.is_(True), T.c.is_gold.is_(True))
    w.execute(update(T).where(*scope).values(
        done=case((or_(T.c.annotation_count >= overlap, apart), True), else_=False)))
    done = w.execute(select(func.count()).select_from(T).where(*scope, T.c.done.is_(True), ~apart)).scalar_one()
    w.execute(update(C).where(C.c.workspace_id == workspace_id, C.c.project_id == project_id).values(done=0))
    w.execute(
        update(C).where(C.c.workspace_id == workspace_id, C.c.project_id == project_id, C.c.shard == 0).values(done=done)
    )


def delete_project(ctx: Context, project_id: str) -> None:
    """Crypto-shred a project: destroy its data key, then delete its rows."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.PROJECT_MANAGE)
    ctx.rt.keyring.destroy(project.workspace_id, project.id)
    with ctx.write() as w:
        w.access.require(Action.PROJECT_MANAGE, project.workspace_id, what="project")
        w.execute(delete(P).where(P.c.workspace_id == project.workspace_id, P.c.id == project.id))
        w.audit(project.workspace_id, "project.deleted", project.id)
