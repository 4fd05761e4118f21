"""Labelling configs as people edit them in the browser: checked as typed, previewed, saved.

The config editor (a new project's page, a project's settings) sends the text
typed so far; :func:`check_config` answers every problem with its field path
(``labels[2].hotkey: duplicate key 'x'``, or the line and column where the JSON
stops parsing) and, when the config is valid, a preview: the task type's widget
on the type's own made-up item (``TaskType.sample_data``).

Checking reads and writes nothing stored — no project, no task, no lease; only whether the
model endpoints a config names are the workspace's (names and ids, no content) — so it
passes no wall and is not audited; it is still decided by the access module
(``project.manage`` in the workspace, as saving would be), so the editor and its
preview are for those who may save what they type. Saving goes through
``services/projects.py`` like the API's (one transaction, audited there): a
config that does not parse leaves nothing written.

The trap: the preview is a widget made for a labelling form. Pages show it
outside any form, with its submit disabled, so nothing typed there posts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from . import projects
from .context import Context, Unit
from ..access import Action
from ..domain.errors import InvalidConfig, InvalidInput, NotFound
from ..domain.projects import Project
from ..domain.validation import problems_of
from ..storage import workspaces_store
from ..tasktypes.base import CONFIG_SECTIONS

MAX_CONFIG_CHARS = 200_000  # the instructions alone may hold 100,000


@dataclass(frozen=True)
class Template:
    """A task type's ready config, as the editor starts from it."""

    name: str
    title: str
    description: str
    text: str


@dataclass(frozen=True)
class Preview:
    """The widget on the sample item: what the page renders (inert) beside the editor."""

    widget: str  # the task type's Jinja partial
    task_type: str
    config: Any  # the parsed config
    task: dict[str, Any]  # {"id": "preview", "data", "predictions": []}
    view: dict[str, Any]  # the type's widget context for the sample
    instructions: str


@dataclass(frozen=True)
class ConfigCheck:
    """Problems (``{"path", "message"}``; none: the config is valid) and, when valid, the preview."""

    problems: list[dict[str, str]] = field(default_factory=list)
    preview: Preview | None = None

    @property
    def is_valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Editor:
    """A new project's page: the workspace, the templates to start from, the text and its check."""

    workspace_id: str
    workspace_name: str
    templates: list[Template]
    template: str | None
    text: str
    check: ConfigCheck


def config_text(config: Any) -> str:
    """A config as the editor shows it: indented JSON."""
    return orjson.dumps(config, option=orjson.OPT_INDENT_2).decode()


def parse_text(text: str) -> Any:
    """The JSON of the editor's text, or InvalidConfig naming the line and column where it stops parsing."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidConfig("config: required (a JSON object with a type)", details=[_problem("config", "required")])
    if len(text) > MAX_CONFIG_CHARS:
        message = f"longer than {MAX_CONFIG_CHARS} characters"
        raise InvalidConfig(f"config: {message}", details=[_problem("config", message)])
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        message = f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise InvalidConfig(f"config: {message}", details=[_problem("config", message)]) from exc


def _problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def _check(u: Unit, workspace_id: str, text: str) -> ConfigCheck:
    try:
        raw = parse_text(text)
        task_type, parsed = u.rt.task_types.parse_config(raw)
    except InvalidInput as exc:
        return ConfigCheck(problems=problems_of(exc))
    problems = [
        _problem(key, "only the workspace's owners set this section (saving keeps the project's own)")
        for key in CONFIG_SECTIONS
        if raw.get(key) is not None and not u.access.allows(Action.REDACTION_REVIEW, workspace_id)
    ]
    problems.extend(projects.model_endpoint_problems(u, workspace_id, task_type, parsed))
    data = task_type.sample_data(parsed)
    preview = Preview(
        widget=f"tasktypes/{task_type.name}/widget.html",
        task_type=task_type.name,
        config=parsed,
        task={"id": "preview", "data": data, "predictions": []},
        view=task_type.preview_context(parsed, data),
        instructions=str(getattr(parsed, "instructions", "") or ""),
    )
    return ConfigCheck(problems=problems, preview=preview)


def editor_text(project: Project) -> str:
    """A project's config as its editor shows it: without the need-to-know sections (their own forms)."""
    return config_text({k: v for k, v in project.config.items() if k not in CONFIG_SECTIONS})


def check_config(ctx: Context, workspace_id: str, text: str) -> ConfigCheck:
    """The editor's check as you type: every problem with its path, and the widget's preview when valid.

    Changes nothing and reads no content (see the module docstring); refused like
    creating a project would be (``project.manage``; another workspace: NotFound).
    """
    with ctx.read() as r:
        r.access.require(Action.PROJECT_MANAGE, workspace_id)
        return _check(r, workspace_id, text)


def _templates(u: Unit) -> list[Template]:
    types = sorted(u.rt.task_types, key=lambda tt: tt.name)
    return [Template(tt.name, tt.title, tt.description, config_text(tt.template)) for tt in types if tt.template]


def new_project_editor(ctx: Context, workspace_id: str, template: str | None = None) -> Editor:
    """The new-project page: the templates, and the text to start from (a template's, or nothing) checked."""
    with ctx.read() as r:
        r.access.require(Action.PROJECT_MANAGE, workspace_id)
        row = workspaces_store.find_workspace(r.tx, workspace_id)
        if row is None:
            raise NotFound("workspace not found")
        ready = _templates(r)
        chosen = next((t for t in ready if t.name == template), None) if template else None
        if template and chosen is None:
            raise InvalidInput(f"template: no template {template!r} (one of: {', '.join(t.name for t in ready)})")
        text = chosen.text if chosen else ""
        check = _check(r, workspace_id, text) if text else ConfigCheck()
        return Editor(row.id, row.name, ready, chosen.name if chosen else None, text, check)


def create_project(ctx: Context, workspace_id: str, *, name: str, text: str) -> Project:
    """Create a project from the editor's text (the config parses, or nothing is made)."""
    return projects.create_project(ctx, workspace_id, name=name, config=parse_text(text))


def save_config(ctx: Context, project_id: str, text: str) -> Project:
    """Replace a project's config with the editor's text; the need-to-know sections it leaves out are
    kept (they have forms of their own: ``save_section``)."""
    return projects.update_project(ctx, project_id, config=parse_text(text), keep_sections=True)


def save_section(ctx: Context, project_id: str, section: str, text: str) -> Project:
    """Set (or, with empty text, remove) one need-to-know section of a project's config (owners)."""
    if section not in CONFIG_SECTIONS:
        raise InvalidInput(f"section: one of {', '.join(CONFIG_SECTIONS)}")
    value = None
    if text.strip():
        try:
            value = parse_text(text)
        except InvalidConfig as exc:
            message = str(exc.details[0]["message"]) if exc.details else exc.message
            raise InvalidConfig(f"{section}: {message}", details=[_problem(section, message)]) from exc
        if not isinstance(value, dict):
            raise InvalidConfig(f"{section}: must be a JSON object", details=[_problem(section, "must be an object")])
    return projects.update_project(ctx, project_id, sections={section: value})


__all__ = [
    "MAX_CONFIG_CHARS",
    "ConfigCheck",
    "Editor",
    "Preview",
    "Template",
    "check_config",
    "config_text",
    "create_project",
    "editor_text",
    "new_project_editor",
    "parse_text",
    "save_config",
    "save_section",
]
