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
from dataclasses import replace
from typing import Any

from .context import Context, Unit
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidConfig, InvalidInput, NotFound
from ..domain.projects import Counts, Project, ProjectSettings, ProjectSummary, check_name, parse_settings
from ..storage import model_endpoints_store, projects_store, tasks_store, workspaces_store
from ..storage.crypto import key_id_of
from ..storage.fast import Statement
from ..storage.projects_store import ProjectRecord, settings_of
from ..tasktypes.base import CONFIG_SECTIONS

COUNTER_SHARDS = 8


def _project(u: Unit, row: ProjectRecord, counts: Counts | None = None) -> Project:
    config = u.sealer(row.workspace_id, row.key_id).open_json("projects", row.id, "config", row.config)
    return Project(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        task_type=row.task_type,
        config=config,
        settings=settings_of(row),
        key_id=row.key_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        counts=counts or Counts(),
    )


# Decrypted, validated projects by (id, key, config version, last change): the hot path
# reads the row every time (access and existence are always checked against the
# database) but opens and validates the config once per version.
_CACHE: dict[tuple, Project] = {}
_CACHE_LIMIT = 2048


# Each project's workspace, as last read (a project never changes workspace, and its id is never
# reused): a hint to ask a project's reads ahead with the project's own (``queue.lease_next``), never a
# decision — a read asked with a wrong one is simply not used, and the project is always read.
_WORKSPACE_OF: dict[str, str] = {}


def workspace_hint(project_id: str) -> str | None:
    """The project's workspace as this process last read it (None: not read yet)."""
    return _WORKSPACE_OF.get(project_id)


def project_read(u: Unit, project_id: str) -> tuple[Statement, dict[str, str]]:
    """What ``load_project`` reads (to ask ahead: ``fast.prefetch``)."""
    return projects_store.project_read(project_id, user_id=None if u.actor.is_system else u.actor.user_id)


def load_project(u: Unit, project_id: str, action: Action) -> Project:
    """The project, if the actor may take ``action`` on it; NotFound across workspaces."""
    row = projects_store.find_project(u.tx, project_id, user_id=None if u.actor.is_system else u.actor.user_id)
    if row is None:
        raise NotFound("project not found")
    if _WORKSPACE_OF.get(row.id) != row.workspace_id:
        if len(_WORKSPACE_OF) >= _CACHE_LIMIT:
            _WORKSPACE_OF.clear()
        _WORKSPACE_OF[row.id] = row.workspace_id
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
        raw = u.sealer(record.workspace_id, record.key_id).open_json(
            "projects", record.project_id, "config", record.config
        )
        parsed = u.rt.task_types.get(record.task_type).parse_config(raw)
        if len(_PARSED) >= _CACHE_LIMIT:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


def model_endpoint_problems(u: Unit, workspace_id: str, task_type, parsed) -> list[dict[str, str]]:
    """The config's model endpoints (``TaskType.model_endpoints``) that are not this workspace's, by path."""
    problems = []
    for path, endpoint_id in task_type.model_endpoints(parsed):
        if model_endpoints_store.find_endpoint(u.tx, endpoint_id, workspace_ids=[workspace_id]) is None:
            problems.append({"path": path, "message": f"{endpoint_id!r} is not a model endpoint of this workspace"})
    return problems


def check_model_endpoints(u: Unit, workspace_id: str, task_type, parsed) -> None:
    """Refuse a config naming a model endpoint of another workspace, or none at all (InvalidConfig, by path)."""
    problems = model_endpoint_problems(u, workspace_id, task_type, parsed)
    if problems:
        first = problems[0]
        raise InvalidConfig(f"{first['path']}: {first['message']}", details=problems)


def counts_of(u: Unit, workspace_id: str, project_ids: list[str]) -> dict[str, Counts]:
    """The projects' counters (a project without any is left out)."""
    if not project_ids:
        return {}
    return projects_store.sum_counts(u.tx, project_ids, workspace_id=workspace_id)


def bump_counts(
    u: Unit, workspace_id: str, project_id: str, *, tasks: int = 0, done: int = 0, annotations: int = 0, skips: int = 0
) -> None:
    if tasks or done or annotations or skips:
        projects_store.bump_counts(
            u.tx,
            project_id,
            workspace_id=workspace_id,
            shard=random.randrange(COUNTER_SHARDS),
            tasks=tasks,
            done=done,
            annotations=annotations,
            skips=skips,
        )


def create_project(ctx: Context, workspace_id: str, *, name: str, config: Any, settings: Any = None) -> Project:
    """Create a project with a validated labelling config; makes its data key."""
    name = check_name(name)
    task_type, parsed = ctx.rt.task_types.parse_config(config)
    proj_settings = parse_settings(settings)
    with ctx.read() as r:  # check before making a key, so a refusal leaves nothing behind
        r.access.require(Action.PROJECT_MANAGE, workspace_id)
        _check_prelabel(r, workspace_id, task_type, parsed, proj_settings)
        if isinstance(config, dict) and any(config.get(k) is not None for k in CONFIG_SECTIONS):
            r.access.require(Action.REDACTION_REVIEW, workspace_id)  # need-to-know sections: owners
        # Only the system (the CLI) passes the access check for a workspace that does not exist.
        if workspaces_store.find_workspace(r.tx, workspace_id) is None:
            raise NotFound(f"workspace {workspace_id} not found")
        check_model_endpoints(r, workspace_id, task_type, parsed)
    project_id = ids.new_id("prj")
    key_id = ctx.rt.keyring.create_key(workspace_id, project_id)
    try:
        with ctx.write() as w:
            w.access.require(Action.PROJECT_MANAGE, workspace_id)
            sealer = w.sealer(workspace_id, key_id)
            config_json = parsed.model_dump(mode="json")
            projects_store.insert_project(
                w.tx,
                project_id,
                workspace_id=workspace_id,
                name=name,
                task_type=task_type.name,
                key_id=key_id,
                config=sealer.seal_json("projects", project_id, "config", config_json),
                settings=proj_settings,
                created_by=None if ctx.actor.is_system else ctx.actor.user_id,
                now=w.now,
                shards=COUNTER_SHARDS,
            )
            w.audit(
                workspace_id,
                "project.created",
                project_id,
                task_type=task_type.name,
                settings=proj_settings.model_dump(mode="json"),
            )
            return Project(
                project_id, workspace_id, name, task_type.name, config_json, proj_settings, key_id, w.now, w.now
            )
    except BaseException:
        ctx.rt.keyring.destroy(workspace_id, project_id)
        raise


def list_projects(ctx: Context, workspace_id: str) -> list[Project]:
    """The workspace's projects with their configs (content: walled, audited as ``projects.listed``)."""
    with ctx.write() as w:
        w.access.require(Action.PROJECT_READ, workspace_id)
        w.see_content(workspace_id)
        rows = projects_store.list_projects(w.tx, workspace_id=workspace_id)
        counts = counts_of(w, workspace_id, [row.id for row in rows])
        w.audit(workspace_id, "projects.listed", workspace_id, count=len(rows))
        return [as_seen(w, _project(w, row, counts.get(row.id))) for row in rows]


def get_project(ctx: Context, project_id: str, action: Action = Action.PROJECT_READ) -> Project:
    """A project with its config and counts (content: walled, audited as ``project.read``).

    ``action``: what the reader means to do with it (the settings page reads it to change it:
    ``PROJECT_MANAGE``, so a role that may only read it is refused there).
    """
    with ctx.write() as w:
        project = load_project(w, project_id, action)
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
        rows = projects_store.list_project_names(r.tx, workspace_id=workspace_id)
        counts = counts_of(r, workspace_id, [row.id for row in rows])
    return [ProjectSummary(row.id, workspace_id, row.name, row.task_type, counts.get(row.id, Counts())) for row in rows]


def get_project_summary(ctx: Context, project_id: str) -> ProjectSummary:
    """One project as metadata (for a page that cannot show its config yet: a first access, a wall)."""
    with ctx.read() as r:
        row = projects_store.find_project(r.tx, project_id, user_id=None if r.actor.is_system else r.actor.user_id)
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
    return replace(project, config={k: v for k, v in project.config.items() if k not in CONFIG_SECTIONS})


def _with_counts(project: Project, counts: Counts) -> Project:
    return replace(project, counts=counts)


def update_project(
    ctx: Context,
    project_id: str,
    *,
    name: str | None = None,
    config: Any = None,
    settings: Any = None,
    sections: dict[str, Any] | None = None,
    keep_sections: bool = False,
) -> Project:
    """Change a project's name, config or settings. Changing overlap re-derives 'done'.

    The need-to-know sections of the config (``redaction``, ``leak_tracing``) are the owners':
    a manager's new config keeps the stored ones. ``keep_sections``: so does an owner's, for each
    section it leaves out (the settings page edits the sections in forms of their own).
    ``sections`` (owners): replace the sections named (None removes one) and keep the rest of
    the config — of ``config`` when it is given, else the stored one — in the same transaction.
    """
    with ctx.write() as w:
        project = load_project(w, project_id, Action.PROJECT_MANAGE)
        w.see_content(project.workspace_id)  # the answer is the config
        changes: dict[str, Any] = {}
        changed: list[str] = []
        if name is not None:
            changes["name"] = check_name(name)
            changed.append("name")
        if sections is not None:
            unknown = sorted(set(sections) - set(CONFIG_SECTIONS))
            if unknown:
                raise InvalidInput(f"sections.{unknown[0]}: not a section (one of: {', '.join(CONFIG_SECTIONS)})")
            w.access.require(Action.REDACTION_REVIEW, project.workspace_id, what="project")
            base = config if config is not None else project.config
            if not isinstance(base, dict):
                raise InvalidConfig("config: must be a JSON object")
            config = {k: v for k, v in base.items() if k not in sections}
            config.update({k: v for k, v in sections.items() if v is not None})
        if config is not None:
            may_sections = w.access.allows(Action.REDACTION_REVIEW, project.workspace_id)
            if isinstance(config, dict) and (keep_sections or not may_sections):
                if not may_sections and any(config.get(k) is not None for k in CONFIG_SECTIONS):
                    w.access.require(Action.REDACTION_REVIEW, project.workspace_id, what="project")
                kept = {k: project.config[k] for k in CONFIG_SECTIONS if k in project.config and config.get(k) is None}
                config = {**config, **kept}
            task_type, parsed = ctx.rt.task_types.parse_config(config)
            check_model_endpoints(w, project.workspace_id, task_type, parsed)
            if task_type.name != project.task_type:
                if tasks_store.has_tasks(w.tx, project.id, workspace_id=project.workspace_id):
                    raise Conflict("config.type: the task type cannot change once the project has tasks")
                changes["task_type"] = task_type.name
            sealer = w.sealer(project.workspace_id, project.key_id)
            changes["config"] = sealer.seal_json("projects", project.id, "config", parsed.model_dump(mode="json"))
            changed.append("config")
        new_settings = parse_settings(settings, project.settings) if settings is not None else project.settings
        if settings is not None:
            changes["settings"] = new_settings
            changed.append("settings")
        if not changes:
            raise InvalidInput("nothing to change: give name, config or settings")
        if "settings" in changes or "config" in changes:
            new_type = ctx.rt.task_types.get(changes.get("task_type", project.task_type))
            new_config = new_type.parse_config(config if config is not None else project.config)
            _check_prelabel(w, project.workspace_id, new_type, new_config, new_settings)
        projects_store.update_project(w.tx, project.id, workspace_id=project.workspace_id, now=w.now, **changes)
        if new_settings.overlap != project.settings.overlap:
            _rederive_done(w, project.workspace_id, project.id, new_settings.overlap)
        w.audit(
            project.workspace_id,
            "project.updated",
            project.id,
            changed=changed,
            settings=new_settings.model_dump(mode="json"),
        )
    return get_project(ctx, project_id)


def _check_prelabel(u: Unit, workspace_id: str, task_type: Any, config: Any, settings: ProjectSettings) -> None:
    from .prelabel import check_setting

    check_setting(u, workspace_id, task_type, config, settings.prelabel)


def _rederive_done(w: Unit, workspace_id: str, project_id: str, overlap: int) -> None:
    """Re-mark the project's tasks done or open for a new overlap, and its done count with them."""
    done = tasks_store.rederive_done(w.tx, project_id, workspace_id=workspace_id, overlap=overlap)
    projects_store.set_done_count(w.tx, project_id, workspace_id=workspace_id, done=done)


def delete_project(ctx: Context, project_id: str) -> None:
    """Crypto-shred a project: destroy its data key, then delete its rows."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.PROJECT_MANAGE)
    ctx.rt.keyring.destroy(project.workspace_id, project.id)
    with ctx.write() as w:
        w.access.require(Action.PROJECT_MANAGE, project.workspace_id, what="project")
        projects_store.delete_project(w.tx, project.id, workspace_id=project.workspace_id)
        w.audit(project.workspace_id, "project.deleted", project.id)
