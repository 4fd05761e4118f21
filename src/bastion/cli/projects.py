"""``bastion project …``: projects, from a labelling config file or a task type's template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
import yaml

from . import _json
from ._choices import option_of
from ._choices import template_names as templates_installed
from ._help import template_names
from ._options import AsJson
from ._output import err, listing, out, print_json, print_table
from ._runtime import context, runtime
from ..domain.errors import InvalidConfig
from ..domain.text import MESSAGE, find_nul
from ..services import migration, projects
from ..tasktypes.templates import template_config

project_app = typer.Typer(help="Projects.", no_args_is_help=True)


def _load_config(path: Path):
    """A config file's content (YAML by its suffix, else JSON), with errors naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfig(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            loaded = yaml.safe_load(text)
        else:
            loaded = orjson.loads(text)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise InvalidConfig(
            f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {exc}"
        ) from exc
    where = find_nul(loaded)
    if where is not None:
        raise InvalidConfig(f"{path}: {where or 'the file'}: {MESSAGE}")
    return loaded


@project_app.command("create")
def project_create(
    workspace_id: str,
    config: Annotated[Path | None, typer.Option(help="Labelling config file (JSON or YAML).")] = None,
    template: Annotated[
        str | None,
        option_of(
            templates_installed,
            help=f"Start from a ready config instead of a file: {template_names()}.",
            check=False,  # the service's refusal names the templates (exit 1, as scripts know it)
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Project name (default: the file's name).")] = None,
    overlap: Annotated[int | None, typer.Option(help="Distinct annotators per task.")] = None,
    lease_seconds: Annotated[int | None, typer.Option(help="How long a lease lasts.")] = None,
    as_json: AsJson = False,
    from_label_studio: Annotated[
        Path | None,
        typer.Option("--from-label-studio", help="A Label Studio labelling config (XML) to convert."),
    ] = None,
):
    """Create a project from a config file, a template or a Label Studio config; prints its id."""
    if from_label_studio is not None:
        if config is not None or template is not None:
            raise InvalidConfig("give one of --config FILE, --template TYPE or --from-label-studio FILE")
        _create_from_label_studio(workspace_id, from_label_studio, name, overlap, lease_seconds, as_json)
        return
    if (config is None) == (template is None):
        raise InvalidConfig("give either --config FILE or --template TYPE")
    if template is not None:
        raw = template_config(template)
        name = name or template.capitalize()
        source = template
    else:
        assert config is not None  # one of the two, checked above
        raw = _load_config(config)
        source = config.stem
    settings_in = {k: v for k, v in {"overlap": overlap, "lease_seconds": lease_seconds}.items() if v is not None}
    if isinstance(raw, dict) and "config" in raw and "type" not in raw:  # {"name", "config", "settings"} form
        name = name or raw.get("name")
        settings_in = {**(raw.get("settings") or {}), **settings_in}
        raw = raw["config"]
    rt = runtime()
    project = projects.create_project(
        context(rt), workspace_id, name=name or source, config=raw, settings=settings_in or None
    )
    if as_json:
        print_json(_json.project(project))
    else:
        out.print(project.id)


def _create_from_label_studio(
    workspace_id: str, path: Path, name: str | None, overlap: int | None, lease_seconds: int | None, as_json: bool
) -> None:
    """``--from-label-studio``: the converted project's id on stdout, what did not convert on stderr."""
    try:
        xml = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfig(f"{path}: cannot read ({exc.strerror})") from exc
    settings_in = {k: v for k, v in {"overlap": overlap, "lease_seconds": lease_seconds}.items() if v is not None}
    project, unconverted = migration.create_project_from_label_studio(
        context(runtime()), workspace_id, name=name or path.stem, label_config=xml, settings=settings_in or None
    )
    for what in unconverted:
        err.print(f"not converted: {what}", markup=False, highlight=False)
    if as_json:
        print_json(_json.project(project))
    else:
        out.print(project.id)


@project_app.command("list")
def project_list(workspace_id: str, as_json: AsJson = False):
    """List a workspace's projects with their counts."""
    found = projects.list_projects(context(runtime()), workspace_id)
    if as_json:
        print_json([_json.project(p) for p in found])
        return
    table = listing("id", "name", "type", "tasks", "done", "annotations")
    for p in found:
        table.add_row(p.id, p.name, p.task_type, str(p.counts.tasks), str(p.counts.done), str(p.counts.annotations))
    print_table(table)
