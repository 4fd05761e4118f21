"""The ``bastion`` command line: local administration in-process, and the server.

Commands translate: parse arguments, call one service with the local operator's
actor (``Actor.system()``), print. Errors print one line and exit non-zero —
no traceback (``BASTION_DEBUG=1`` shows it).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import orjson
from pydantic import ValidationError
import typer
import yaml
from typer.core import TyperGroup
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .access import Actor
from .domain.errors import BastionError
from .settings import Settings

app = typer.Typer(help="Bastion: a self-hosted human-data platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
user_app = typer.Typer(help="People.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
member_app = typer.Typer(help="Workspace members.", no_args_is_help=True)
project_app = typer.Typer(help="Projects.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
walls_app = typer.Typer(help="Conflict-of-interest walls.", no_args_is_help=True)
person_app = typer.Typer(help="People's affiliations and history.", no_args_is_help=True)
skills_app = typer.Typer(help="Skills.", no_args_is_help=True)
held_app = typer.Typer(help="Items redaction held for an owner's review.", no_args_is_help=True)
approval_app = typer.Typer(help="Two-person approval, as a person (their API token).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(workspace_app, name="workspace")
app.add_typer(member_app, name="member")
app.add_typer(project_app, name="project")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(walls_app, name="walls")
app.add_typer(person_app, name="person")
app.add_typer(skills_app, name="skills")
app.add_typer(held_app, name="held")
app.add_typer(approval_app, name="approval")

out = Console()
err = Console(stderr=True)

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Data directory (env BASTION_DATA_DIR).")]
DatabaseUrl = Annotated[Optional[str], typer.Option("--database-url", help="Database URL (env BASTION_DATABASE_URL).")]
ApprovalOpt = Annotated[Optional[str], typer.Option(
    "--approval", help="A two-person approval (apr_…) to use and link in the log (the local operator needs none).")]


class _State:
    data_dir: Path | None = None
    database_url: str | None = None


_state = _State()


@app.callback()
def main_options(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
):
    if version:
        out.print(__version__)
        raise typer.Exit()
    _state.data_dir = data_dir
    _state.database_url = database_url


def settings(data_dir: Path | None = None, database_url: str | None = None) -> Settings:
    overrides = {}
    if data_dir or _state.data_dir:
        overrides["data_dir"] = data_dir or _state.data_dir
    if database_url or _state.database_url:
        overrides["database_url"] = database_url or _state.database_url
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # a BASTION_* variable out of range: name it, no traceback
        first = exc.errors()[0]
        name = "_".join(str(part) for part in first["loc"]).upper()
        raise BastionError(f"BASTION_{name}: {first['msg']}") from None


_open_runtimes: list = []


def runtime(data_dir=None, database_url=None, migrate_schema: str = "never"):
    """Open the runtime for this command; ``main`` closes it when the command ends."""
    from .services.runtime import Runtime

    rt = Runtime.open(settings(data_dir, database_url), migrate_schema=migrate_schema)
    _open_runtimes.append(rt)
    return rt


def context(rt):
    from .services.context import Context

    return Context(rt, Actor.system())


def _user_id(ctx, email: str) -> str:
    from .domain.errors import NotFound
    from .services import users

    user = users.find_user_by_email(ctx, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user.id


# -- setup and server ----------------------------------------------------------


@app.command()
def init(
    app_role: Annotated[Optional[str], typer.Option("--app-role", help="PostgreSQL: grant data access to this role, which the server then connects as (row-level security applies to it).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Create or upgrade the database schema, the keyring and the master key."""
    rt = runtime(data_dir, database_url, migrate_schema="always")
    if app_role:
        from .domain.errors import InvalidInput
        from .storage import rls

        if rt.db.is_sqlite:
            raise InvalidInput("--app-role is for PostgreSQL (SQLite has no roles)")
        with rt.db.engine.begin() as conn:
            for statement in rls.grant_sql(app_role):
                conn.exec_driver_sql(statement)
        out.print(f"granted data access to role {app_role}")
    out.print(f"database ready: {_redact(rt.db.url)}")
    out.print(f"keyring: {_redact(rt.keyring.url)} (provider: {rt.keyring.provider.name})")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _export_env(s: Settings) -> None:
    os.environ["BASTION_DATA_DIR"] = str(s.data_dir)
    if s.database_url:
        os.environ["BASTION_DATABASE_URL"] = s.database_url


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Run the web server (the schema is created on an empty database)."""
    import uvicorn

    s = settings(data_dir, database_url)
    rt = runtime(data_dir, database_url, migrate_schema="if-empty")
    for warning in rt.db.server_warnings():
        err.print(f"[yellow]warning:[/yellow] {warning}")
    rt.close()
    _export_env(s)
    out.print(f"Bastion {__version__} on http://{host}:{port}/")
    uvicorn.run("bastion.web.asgi:app_factory", factory=True, host=host, port=port, workers=workers,
                log_level=s.log_level, access_log=False, proxy_headers=False)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up the demo data only.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Set up (idempotently) a demo workspace with people and projects, then serve it."""
    from .demo import setup_demo

    rt = runtime(data_dir, database_url, migrate_schema="always")
    logins = setup_demo(rt)
    url = f"http://{host}:{port}/"
    table = Table(title="Demo logins", show_lines=False)
    for col in ("role", "e-mail", "password"):
        table.add_column(col)
    for login in logins:
        table.add_row(login.role, login.email, login.password)
    out.print(table)
    out.print(f"Open {url} and sign in.")
    if not no_serve:
        serve(host=host, port=port, workers=1, data_dir=data_dir, database_url=database_url)


# -- people and tokens -----------------------------------------------------------


@user_app.command("create")
def user_create(
    email: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make a platform admin.")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Create a person (without --password-stdin they sign in only with API tokens)."""
    from .services import users

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    rt = runtime(data_dir, database_url)
    user = users.create_user(context(rt), email, name=name, password=password, is_admin=admin)
    out.print(user.id)


@user_app.command("set-password")
def user_set_password(email: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Set a person's password from stdin; ends all their browser sessions."""
    from .services import users

    rt = runtime(data_dir, database_url)
    ctx = context(rt)
    users.set_password(ctx, _user_id(ctx, email), sys.stdin.readline().rstrip("\n"))
    out.print(f"password of {email} changed; their sessions ended")


@user_app.command("list")
def user_list(data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """List people."""
    from .services import users

    rt = runtime(data_dir, database_url)
    table = Table("id", "e-mail", "name", "admin")
    for user in users.list_users(context(rt)):
        table.add_row(user.id, user.email, user.name, "yes" if user.is_admin else "")
    out.print(table)


@token_app.command("create")
def token_create(
    email: str,
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "",
    scope: Annotated[str, typer.Option(help="full or read.")] = "full",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Create an API token for a person; prints the token alone (it is shown only once)."""
    from .services import users

    rt = runtime(data_dir, database_url)
    ctx = context(rt)
    secret, _token = users.create_token(ctx, _user_id(ctx, email), name=name, scope=scope)
    print(secret)


@token_app.command("list")
def token_list(email: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """List a person's tokens."""
    from .services import users

    rt = runtime(data_dir, database_url)
    ctx = context(rt)
    table = Table("id", "name", "scope", "created", "last used", "revoked")
    for t in users.list_tokens(ctx, _user_id(ctx, email)):
        table.add_row(t.id, t.name, t.scope, _when(t.created_at), _when(t.last_used_at), _when(t.revoked_at))
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Revoke a token by its id."""
    from .services import users

    rt = runtime(data_dir, database_url)
    users.revoke_token(context(rt), token_id)
    out.print(f"revoked {token_id}")


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- workspaces, members, projects -------------------------------------------------


@workspace_app.command("create")
def workspace_create(
    name: str,
    owner: Annotated[Optional[str], typer.Option(help="Owner's e-mail.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Create a workspace; prints its id."""
    from .services import workspaces

    rt = runtime(data_dir, database_url)
    out.print(workspaces.create_workspace(context(rt), name, owner=owner).id)


@workspace_app.command("list")
def workspace_list(data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """List workspaces."""
    from .services import workspaces

    rt = runtime(data_dir, database_url)
    table = Table("id", "name", "created")
    for ws in workspaces.list_workspaces(context(rt)):
        table.add_row(ws.id, ws.name, _when(ws.created_at))
    out.print(table)


@workspace_app.command("delete")
def workspace_delete(
    workspace_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this destroys the data for good.")] = False,
    approval: ApprovalOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Delete a workspace and crypto-shred its data."""
    from .services import workspaces

    if not yes:
        raise BastionError("deleting a workspace destroys its data for good; add --yes to confirm")
    rt = runtime(data_dir, database_url)
    keys = workspaces.delete_workspace(context(rt), workspace_id, approval=approval)
    out.print(f"deleted {workspace_id}; {keys} data key(s) destroyed")


@member_app.command("add")
def member_add(
    workspace_id: str,
    email: str,
    role: Annotated[str, typer.Option(help="owner, manager, reviewer, annotator or auditor.")],
    approval: ApprovalOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Add a person to a workspace with a role (or change their role)."""
    from .services import workspaces

    rt = runtime(data_dir, database_url)
    member = workspaces.add_member(context(rt), workspace_id, email, role, approval=approval)
    out.print(f"{member.email} is {member.role.value} of {workspace_id}")


def _load_config(path: Path):
    from .domain.errors import InvalidConfig

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
        raise InvalidConfig(f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {exc}") from exc
    from .domain.text import MESSAGE, find_nul

    where = find_nul(loaded)
    if where is not None:
        raise InvalidConfig(f"{path}: {where or 'the file'}: {MESSAGE}")
    return loaded


def _template_names() -> str:
    """The installed task types that have a ready config (built-ins and plugins), for the help text."""
    from .tasktypes.templates import templates

    return ", ".join(templates())


@project_app.command("create")
def project_create(
    workspace_id: str,
    config: Annotated[Optional[Path], typer.Option(help="Labelling config file (JSON or YAML).")] = None,
    template: Annotated[Optional[str], typer.Option(
        help=f"Start from a ready config instead of a file: {_template_names()}.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Project name (default: the file's name).")] = None,
    overlap: Annotated[Optional[int], typer.Option(help="Distinct annotators per task.")] = None,
    lease_seconds: Annotated[Optional[int], typer.Option(help="How long a lease lasts.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Create a project from a config file or a template; prints its id."""
    from .domain.errors import InvalidConfig
    from .services import projects
    from .tasktypes.templates import template_config

    if (config is None) == (template is None):
        raise InvalidConfig("give either --config FILE or --template TYPE")
    if template is not None:
        raw = template_config(template)
        name = name or template.capitalize()
        config = Path(template)
    else:
        raw = _load_config(config)
    settings_in = {k: v for k, v in {"overlap": overlap, "lease_seconds": lease_seconds}.items() if v is not None}
    if isinstance(raw, dict) and "config" in raw and "type" not in raw:  # {"name", "config", "settings"} form
        name = name or raw.get("name")
        settings_in = {**(raw.get("settings") or {}), **settings_in}
        raw = raw["config"]
    rt = runtime(data_dir, database_url)
    project = projects.create_project(context(rt), workspace_id, name=name or config.stem, config=raw,
                                      settings=settings_in or None)
    out.print(project.id)


@project_app.command("list")
def project_list(workspace_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """List a workspace's projects with their counts."""
    from .services import projects

    rt = runtime(data_dir, database_url)
    table = Table("id", "name", "type", "tasks", "done", "annotations")
    for p in projects.list_projects(context(rt), workspace_id):
        table.add_row(p.id, p.name, p.task_type, str(p.counts.tasks), str(p.counts.done), str(p.counts.annotations))
    out.print(table)


# -- import and export -----------------------------------------------------------


def _count_lines(path: Path) -> int | None:
    if path.stat().st_size > 2 * 1024**3:
        return None
    count = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


@app.command("import")
def import_(
    project_id: str,
    file: Path,
    format: Annotated[Optional[str], typer.Option("--format", help="jsonl, json, csv or parquet (default: by extension).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Write nothing if any line is bad.")] = False,
    batch_size: Annotated[int, typer.Option(help="Tasks per transaction (each batch is atomic).")] = 50_000,
    files: Annotated[Optional[Path], typer.Option(
        "--files", help="Directory of the images the tasks name (paths relative to it); they are sealed into the file store.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Import tasks from a file, with a progress bar and a per-line error report."""
    from .domain.errors import InvalidInput
    from .services import imports
    from .sources import detect_format, iter_file

    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    fmt = detect_format(file.name, format)
    if fmt not in ("jsonl", "json", "csv", "parquet"):
        raise InvalidInput(f"--format: {fmt!r} is not one of jsonl, json, csv, parquet")
    base = settings(data_dir, database_url)
    from .services.runtime import Runtime

    # A bulk import is this process's only job: give SQLite a bigger page cache.
    rt = Runtime.open(base.model_copy(update={"sqlite_cache_mb": max(base.sqlite_cache_mb, 256)}),
                      migrate_schema="never")
    _open_runtimes.append(rt)
    total = _count_lines(file) if fmt in ("jsonl", "csv") else None
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as progress:
        bar = progress.add_task("import", total=total)
        source = lambda: iter_file(file, fmt)  # noqa: E731
        if files is not None:
            from .services.files import FileReferences

            source = FileReferences(context(rt), project_id, files, source, strict=strict)
        report = imports.import_tasks(
            context(rt), project_id, source, strict=strict,
            batch_size=batch_size, progress=lambda n: progress.advance(bar, n),
        )
    for r in report.rejected:
        err.print(f"{file}:{r['line']}: {r['error']}", markup=False, highlight=False)
    if report.rejected_count > len(report.rejected):
        err.print(f"… and {report.rejected_count - len(report.rejected)} more rejected lines")
    if strict and report.rejected_count:
        err.print(f"[red]nothing imported[/red]: {report.rejected_count} bad line(s) (--strict)")
        raise typer.Exit(1)
    out.print(f"imported {report.imported}, skipped {report.duplicates} duplicate(s), "
              f"rejected {report.rejected_count}")
    if report.rejected_count:
        raise typer.Exit(1)


class _ExportGroup(TyperGroup):
    """``bastion export PROJECT …`` exports; ``verify`` and ``manifest`` are subcommands beside it."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["project", *args]  # a project id: the export itself
        return super().parse_args(ctx, args)


def _aggregation_methods() -> str:
    """``classification, image, preference: ds, mv, …; ranking: bt`` — the installed types' methods, for help."""
    from .tasktypes import installed

    grouped: dict[tuple[str, ...], list[str]] = {}
    for tt in installed():
        if tt.aggregation_methods:
            grouped.setdefault(tt.aggregation_methods, []).append(tt.name)
    return "; ".join(f"{', '.join(names)}: {', '.join(methods)}" for methods, names in grouped.items())


export_app = typer.Typer(cls=_ExportGroup, no_args_is_help=True,
                         help="Export a project: bastion export PROJECT [OPTIONS] (its options: bastion export"
                              " project --help). Check a file against its signed manifest: bastion export verify.")
app.add_typer(export_app, name="export")


class _ExportCommand(typer.core.TyperCommand):
    """The export itself: ``--format`` and ``--rows`` list what is installed here, plugins' formats included."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        helps = _export_format_helps()
        for param in params:
            if param.name in helps:
                param.help = helps[param.name]
        return params


def _export_format_helps() -> dict[str, str]:
    # Imported here: the plugins load when the export command runs (or shows its help), not for every command.
    from .exporting import LOSSLESS
    from .exporting import installed as export_formats
    from .tasktypes import installed as task_types

    types = list(task_types())
    listed, several = [], []
    for fmt in export_formats():
        names = [t.name for t in types if fmt.kinds_for(t)]
        listed.append(fmt.name + ("" if len(names) == len(types) else f" ({', '.join(names) or 'no type'})"))
        if len(fmt.rows) > 1:
            kinds = ", ".join("jsonl" if k == LOSSLESS else k for k in fmt.rows)
            several.append(f"{fmt.name}: {kinds}")
    return {"format": f"One of: {', '.join(listed)} — the task types a format is for in brackets, the others are"
                      " for every type (see docs/task-types.md#exports).",
            "rows": f"With a format that encodes several kinds of rows ({'; '.join(several)}): which rows."}


def _write_manifest(path: Path, manifest: dict) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    tmp.replace(path)


@export_app.command("project", hidden=True, cls=_ExportCommand)
def export_(
    project_id: str,
    format: Annotated[str, typer.Option(
        "--format", help="An export format installed here (listed by --help).")] = "jsonl",
    out_file: Annotated[Optional[Path], typer.Option(
        "--out", help="Write here instead of stdout; a name with {split} writes one file per part of --split.")] = None,
    annotated_only: Annotated[bool, typer.Option("--annotated-only", help="Only tasks with annotations.")] = False,
    per: Annotated[Optional[str], typer.Option(
        "--per", help="annotation or task: one row per annotation, or per task with all its annotations.")] = None,
    rows: Annotated[str, typer.Option(
        "--rows", help="With a format of several kinds of rows: which (listed by --help).")] = "jsonl",
    split: Annotated[Optional[str], typer.Option(
        "--split", help="Parts besides train, e.g. validation=0.1 or validation=0.1,test=0.1 (decided per task).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split.")] = 0,
    part: Annotated[Optional[str], typer.Option("--part", help="Export only this part of the split.")] = None,
    chat: Annotated[str, typer.Option(
        "--chat", help="auto, conversational or standard: prompts as chat turns or as strings.")] = "auto",
    sft_form: Annotated[str, typer.Option("--sft-form", help="messages or prompt-completion.")] = "messages",
    dpo_min_strength: Annotated[Optional[str], typer.Option(
        "--dpo-min-strength", help="Leave out preference pairs weaker than slight, clear or strong.")] = None,
    include_ties: Annotated[bool, typer.Option("--include-ties", help="Keep ties as DPO rows marked tie.")] = False,
    with_ids: Annotated[bool, typer.Option("--with-ids", help="Add task_id, annotation_id and external_id columns.")] = False,
    accepted_only: Annotated[bool, typer.Option(
        "--accepted-only", help="Only accepted or corrected annotations (a correction replaces the result).")] = False,
    aggregate: Annotated[Optional[str], typer.Option(
        "--aggregate", help=f"Add each task's aggregated answer, by a method that fits the project's type "
                            f"({_aggregation_methods()}).")] = None,
    reidentify: Annotated[bool, typer.Option(
        "--reidentify", help="Restore redacted values (the original text; spans mapped onto it). Audited.")] = False,
    manifest_file: Annotated[Optional[Path], typer.Option(
        "--manifest", help="Write the signed manifest here (default with --out: FILE.manifest.json beside it).")] = None,
    approval: ApprovalOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Stream a project's tasks and annotations, or training rows, to a file or stdout, with a signed manifest."""
    from .domain.errors import InvalidInput
    from .services import exports

    rt = runtime(data_dir, database_url)
    request = exports.ExportRequest(
        fmt=format, annotated_only=annotated_only, per=per, rows=rows, split=split, seed=seed, part=part,
        chat=chat, sft_form=sft_form, min_strength=dpo_min_strength, include_ties=include_ties,
        with_ids=with_ids, accepted_only=accepted_only, aggregate=aggregate, reidentify=reidentify,
    )
    if out_file is not None and "{split}" in out_file.name:
        parsed = exports.parse_split(split, seed)
        if parsed is None:
            raise InvalidInput("--out: {split} in the name needs --split")
        targets = [(out_file.with_name(out_file.name.replace("{split}", name)), exports.with_part(request, name), name)
                   for name in parsed.names() if part is None or name == part]
        if manifest_file is not None and "{split}" not in manifest_file.name:
            raise InvalidInput("--manifest: with one file per part, name the manifests with {split} too")
    else:
        targets = [(out_file, request, None)]
    # An approval is used once: by the first part's export (the operator needs none for the others).
    started = [(target, exports.start_export(context(rt), project_id, request=dataclasses.replace(
        req, approval=approval if i == 0 else None)), name) for i, (target, req, name) in enumerate(targets)]
    for position, (target, export, name) in enumerate(started):
        try:
            _export_one(target, export, name, manifest_file)
        except BaseException:
            for _, later, _ in started[position + 1:]:
                later.abandon()  # recorded as incomplete, not left "streaming"
            raise


def _export_one(target: Path | None, export, name: str | None, manifest_file: Path | None) -> None:
    """One file (or stdout) and its manifest beside it (or where --manifest says)."""
    manifest = (manifest_file.with_name(manifest_file.name.replace("{split}", name or "")) if manifest_file
                else target.with_name(target.name + ".manifest.json") if target is not None else None)
    if target is None:
        sink = sys.stdout.buffer
        for chunk in export.stream():
            sink.write(chunk)
        sink.flush()
    else:
        tmp = target.with_name(target.name + ".partial")
        try:
            with tmp.open("wb") as fh:
                for chunk in export.stream():
                    fh.write(chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(target)
        err.print(f"wrote {target}")
    if manifest is not None and export.manifest is not None:
        _write_manifest(manifest, export.manifest)
        err.print(f"wrote {manifest} (export {export.id})")
    else:
        err.print(f"export {export.id}: its signed manifest is stored (bastion export manifest {export.id})")


@export_app.command("verify")
def export_verify(
    file: Annotated[Path, typer.Argument(help="The exported file.")],
    manifest: Annotated[Path, typer.Option("--manifest", help="Its signed manifest (FILE.manifest.json).")],
    public_key: Annotated[Path, typer.Option(
        "--public-key", help="File holding the deployment's published key (bastion audit public-key).")],
):
    """Check an exported file offline: the manifest's signature, the file's length and SHA-256, its counts."""
    from .domain.errors import InvalidInput
    from .domain.manifests import verify_export

    document = _read_json(manifest, "manifest")
    try:
        key = public_key.read_text().strip()
        handle = file.open("rb")
    except OSError as exc:
        raise InvalidInput(f"{exc.filename}: cannot read ({exc.strerror})") from exc
    with handle:
        report = verify_export(document, iter(lambda: handle.read(1 << 20), b""), key)
    for what in report.checked:
        out.print(f"ok {what}", markup=False, highlight=False)
    for problem in report.problems:
        err.print(f"[red]error[/red] {problem}", markup=True, highlight=False)
    if not report.ok:
        err.print(f"[red]{file} does not match its manifest[/red]")
        raise typer.Exit(1)
    out.print(f"verified: {file} is export {document.get('export_id')}, as signed", highlight=False)


@export_app.command("manifest")
def export_manifest(
    export_id: str,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Write it here instead of stdout.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Print an export's signed manifest (stored after its last byte)."""
    from .services import exports

    document = exports.get_manifest(context(runtime(data_dir, database_url)), export_id)
    if out_file is None:
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        return
    _write_manifest(out_file, document)
    err.print(f"wrote {out_file}")


# -- need-to-know: held items, leak tracing ------------------------------------------


@held_app.command("list")
def held_list(project_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Items redaction held for review: ids and reasons (never their text)."""
    from .services import redaction

    ctx = context(runtime(data_dir, database_url))
    table = Table("task", "reasons", "findings")
    cursor = ""
    while True:
        page = redaction.list_held(ctx, project_id, after=cursor, limit=1000)
        for item in page["items"]:
            table.add_row(item["task_id"], "; ".join(item["reasons"]), str(item["findings"]))
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    out.print(table)


@held_app.command("release")
def held_release(task_ids: list[str], data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Let held items into the queue (audited)."""
    from .services import redaction

    ctx = context(runtime(data_dir, database_url))
    for task_id in task_ids:
        redaction.release_held(ctx, task_id)
        out.print(f"{task_id}: released")


@app.command("trace")
def trace_(
    project_id: str,
    files: Annotated[list[Path], typer.Argument(help="Leaked text files; several pool their evidence.")],
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Name someone only if an innocent would match this well with a lower probability.")] = 1e-4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Trace leaked text back to the people who were shown it: a verdict and a ranking."""
    from .domain.errors import InvalidInput
    from .services import tracing

    texts = []
    for path in files:
        try:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc
    report = tracing.trace(context(runtime(data_dir, database_url)), project_id, texts, alpha=alpha)
    if as_json:
        out.print_json(orjson.dumps(report).decode())
        return
    out.print(f"verdict: {report['verdict']}", highlight=False)
    out.print(report["message"], highlight=False)
    for source in report["sources"]:
        out.print(f"source: {files[source['excerpt']]} -> task {source['task_id']} ({source['field']}), "
                  f"{source['coverage']:.0%} of the excerpt aligned, {source['recipients']} recipient(s)",
                  highlight=False)
    if report["ranking"]:
        table = Table("person", "e-mail", "slots matched", "p (this person)", "p (an innocent does as well)")
        for row in report["ranking"]:
            table.add_row(row["user_id"], row["email"] or "", f"{row['matched']}/{row['observed']}",
                          f"{row['p_value']:.2e}", f"{row['p_innocent_as_good']:.2e}")
        out.print(table)
    for match in report["canaries"]:
        out.print(f"canary {match['canary_id']}: {match['email'] or match['user_id']} — facts {', '.join(match['facts'])}, "
                  f"p={match['p_value']:.2e}{' (identified)' if match['identified'] else ''}", highlight=False)
    if report["suspects"]:
        out.print("suspects: " + ", ".join(report["suspects"]), highlight=False)


# -- audit ------------------------------------------------------------------------


@audit_app.command("public-key")
def audit_public_key(data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Print the key that signs audit checkpoints (publish it; clients verify with it)."""
    from .services import audit

    print(audit.public_key(runtime(data_dir, database_url)))


@audit_app.command("export")
def audit_export(
    workspace_id: str,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the log (JSON Lines).")],
    checkpoint_out: Annotated[Optional[Path], typer.Option("--checkpoint-out", help="Also save the latest signed checkpoint here.")] = None,
    checkpoints_out: Annotated[Optional[Path], typer.Option("--checkpoints-out", help="Also save every signed checkpoint (a JSON list).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Export a workspace's audit log, with its signed checkpoints, for offline verification."""
    from .services import audit

    ctx = context(runtime(data_dir, database_url))
    latest = audit.latest_checkpoint(ctx, workspace_id)
    tmp = out_file.with_name(out_file.name + ".partial")
    with tmp.open("wb") as fh:
        for chunk in audit.iter_export(ctx, workspace_id):
            fh.write(chunk)
    tmp.replace(out_file)
    if checkpoint_out:
        checkpoint_out.write_bytes(orjson.dumps(latest, option=orjson.OPT_INDENT_2))
    if checkpoints_out:
        checkpoints_out.write_bytes(orjson.dumps(audit.list_checkpoints(ctx, workspace_id), option=orjson.OPT_INDENT_2))
    err.print(f"wrote {out_file} (checkpoint at size {latest['size']})")


def _read_json(path: Path, what: str):
    from .domain.errors import InvalidInput

    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot read ({exc.strerror})") from exc
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what} {path}: not valid JSON ({exc})") from exc


@audit_app.command("verify")
def audit_verify(
    workspace_id: Annotated[Optional[str], typer.Argument(help="Verify this workspace's log on the server.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="An exported log (JSON Lines) to verify offline.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="The signed checkpoint to verify the log against.")] = None,
    public_key: Annotated[Optional[Path], typer.Option("--public-key", help="File holding the deployment's published key.")] = None,
    previous: Annotated[Optional[Path], typer.Option("--previous", help="A checkpoint you saved earlier: the log must extend it.")] = None,
    checkpoints: Annotated[Optional[Path], typer.Option("--checkpoints", help="More signed checkpoints (JSON list) to locate an edit.")] = None,
    workspace: Annotated[Optional[str], typer.Option("--workspace", help="The workspace the log must belong to.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Verify an audit log: on the server (WORKSPACE) or offline (--file, public material only)."""
    from .audit import verify_log
    from .domain.errors import InvalidInput

    if file is None:
        if not workspace_id:
            raise InvalidInput("give a WORKSPACE to verify on the server, or --file/--checkpoint/--public-key")
        from .services import audit

        report, head = audit.verify_stored(context(runtime(data_dir, database_url)), workspace_id)
    else:
        if checkpoint is None or public_key is None:
            raise InvalidInput("--file needs --checkpoint and --public-key")
        key = public_key.read_text().strip()
        extra = _read_json(checkpoints, "checkpoints") if checkpoints else []
        # The key's name is the deployment; the origin pins the workspace too.
        origin = f"{key.split('+', 1)[0]}/{workspace}" if workspace else None
        report = verify_log(
            str(file), _read_json(checkpoint, "checkpoint"), key,
            previous_checkpoint=_read_json(previous, "previous checkpoint") if previous else None,
            checkpoints=extra, origin=origin,
        )
    for problem in report.problems:
        where = f" (line {problem.line})" if problem.line else (f" (seq {problem.seq})" if problem.seq is not None else "")
        colour = "red" if problem.severity == "error" else "yellow"
        err.print(f"[{colour}]{problem.severity}[/{colour}] {problem.kind}{where}: {problem.message}",
                  markup=True, highlight=False)
    if report.ok:
        out.print(f"OK: {report.verified_size} entries verified against signed checkpoints")
    else:
        err.print("[red]FAILED[/red]: the log does not verify")
        raise typer.Exit(1)


# -- backups -----------------------------------------------------------------------


@app.command("backup")
def backup_(out_file: Path, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Write a backup of the data (database and sealed files) — never the keys."""
    from .services import backups

    manifest = backups.backup(runtime(data_dir, database_url), out_file)
    out.print(f"wrote {out_file} (schema {manifest['schema']}); back up the keyring and master key separately")


@app.command("restore")
def restore_(
    backup_file: Path,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing database.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Restore a backup into the data directory / database (the keyring must be there already)."""
    from .services import backups

    manifest = backups.restore(settings(data_dir, database_url), backup_file, force=force)
    out.print(f"restored {backup_file} (taken {_when(manifest['created_at'])})")


# -- quality --------------------------------------------------------------------------


@app.command("quality")
def quality_(
    project_id: str,
    method: Annotated[Optional[str], typer.Option("--method", help=(
        f"Aggregation, a method that fits the project's type ({_aggregation_methods()}; default: the first)."
    ))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """A project's agreement, accuracy on gold, aggregation and throughput."""
    from .services import quality

    report = quality.quality_report(context(runtime(data_dir, database_url)), project_id, method=method)
    if as_json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    agreement = report["agreement"]
    out.print(f"[bold]{project_id}[/bold] ({report['task_type']}): {report['annotations']} annotations, "
              f"{report['gold_answers']} gold answers", highlight=False)
    out.print(f"agreement: {agreement.get('summary') or agreement.get('note') or agreement['kind']}", highlight=False)
    if "aggregation" in report:
        agg = report["aggregation"]
        figures = (f", mean confidence {agg['mean_confidence']}, {agg['low_confidence_tasks']} below 0.7, "
                   f"{agg['ties']} ties drawn at random") if "mean_confidence" in agg else ""
        out.print(f"aggregation ({agg['method']}): {agg['tasks']} tasks{figures}", highlight=False)
    if report["gold_accuracy"]:
        table = Table("annotator", "gold answers", "accuracy", "95% interval")
        for row in report["gold_accuracy"]:
            table.add_row(row["email"] or row["user_id"], str(row["gold_answers"]), f"{row['accuracy']:.2f}",
                          f"{row['low']:.2f}–{row['high']:.2f}")
        out.print(table)
    review = report["review"]
    out.print(f"review: {review['pending']} pending, {review['accepted']} accepted, {review['rejected']} rejected, "
              f"{review['corrected']} corrected", highlight=False)
    for pause in report["pauses"]:
        out.print(f"paused: {pause['email'] or pause['user_id']} — {pause['reason']}", highlight=False)


# -- keys -------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(
    new_passphrase_stdin: Annotated[bool, typer.Option("--new-passphrase-stdin", help="Passphrase provider: read the new passphrase from stdin.")] = False,
    new_master_key_stdin: Annotated[bool, typer.Option("--new-master-key-stdin", help="Injected master key: read the new key (64 hex digits) from stdin.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Re-wrap every data key under a new master key; client data is not rewritten."""
    from .services import keys

    secret = sys.stdin.readline().strip() if (new_passphrase_stdin or new_master_key_stdin) else None
    rt = runtime(data_dir, database_url)
    count = keys.rotate_master_key(context(rt), new_passphrase=secret if new_passphrase_stdin else None,
                                   new_master_key=secret if new_master_key_stdin else None)
    out.print(f"re-wrapped {count} data key(s) under master key {rt.keyring.provider.kek_id}")


@keys_app.command("new-data-keys")
def keys_new_data_keys(
    workspace_id: str,
    reencrypt: Annotated[bool, typer.Option("--reencrypt", help="Also re-seal existing data under the new keys and destroy the old ones.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Start new data keys for a workspace's projects (old keys stay for reading, unless --reencrypt)."""
    from .services import keys

    rt = runtime(data_dir, database_url)
    ctx = context(rt)
    project_ids = keys.start_new_data_keys(ctx, workspace_id)
    out.print(f"new data keys for {len(project_ids)} project(s)")
    if reencrypt:
        with Progress(TextColumn("re-encrypting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as progress:
            bar = progress.add_task("re-encrypt", total=None)
            for project_id in project_ids:
                done = keys.reencrypt_project(ctx, project_id, progress=lambda n: progress.advance(bar, n))
                out.print(f"{project_id}: re-sealed {done['tasks']} task(s), {done['annotations']} annotation(s); "
                          f"destroyed {len(done['retired_keys'])} old key(s)")


# -- the workforce: walls, people, skills ------------------------------------------


def _date_ms(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    import datetime as dt

    from .domain.errors import InvalidInput

    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {value!r} is not a date like 2025-06-30") from exc
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


@walls_app.command("add-conflict")
def walls_add_conflict(
    workspace_id: str,
    competitor_id: str,
    cooling_off_days: Annotated[Optional[float], typer.Option("--cooling-off-days", help="Days after the last access before the wall lifts (default: never).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Declare that two workspaces compete: nobody who saw one's data may see the other's."""
    from .services import workforce

    result = workforce.add_conflict(context(runtime(data_dir, database_url)), workspace_id, competitor_id,
                                    cooling_off_days=cooling_off_days)
    out.print(f"conflict {workspace_id} ⟷ {competitor_id} " + ("added" if result["added"] else "already declared"))


def _withdrawal(result: dict) -> str:
    held = f"; still held by {', '.join(result['other_holders'])}" if result["other_holders"] else ""
    return f"{result['holder']} withdraws its wall with {result['competitor']}, effective {_when(result['effective_at'])}{held}"


@walls_app.command("remove-conflict")
def walls_remove_conflict(workspace_id: str, competitor_id: str, approval: ApprovalOpt = None,
                          data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Withdraw WORKSPACE_ID's declared wall: it falls after the waiting period, unless another holder keeps it."""
    from .services import workforce

    result = workforce.remove_conflict(context(runtime(data_dir, database_url)), workspace_id, competitor_id,
                                       approval=approval)
    out.print(_withdrawal(result))


@walls_app.command("consent")
def walls_consent(workspace_id: str, competitor_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """WORKSPACE_ID agrees to COMPETITOR_ID's scheduled withdrawal: it takes effect now."""
    from .services import workforce

    result = workforce.consent_removal(context(runtime(data_dir, database_url)), workspace_id, competitor_id)
    out.print(_withdrawal({**result, "competitor": workspace_id}))


@walls_app.command("ungroup")
def walls_ungroup(group: str, workspace_id: str, approval: ApprovalOpt = None, data_dir: DataDir = None,
                  database_url: DatabaseUrl = None):
    """Take a workspace out of a sector group: its walls with the group fall after the waiting period."""
    from .services import workforce

    result = workforce.remove_from_group(context(runtime(data_dir, database_url)), group, workspace_id,
                                         approval=approval)
    out.print(f"{workspace_id} left group {result['group']}")
    for item in result["withdrawn"]:
        out.print(_withdrawal(item))


@walls_app.command("delete-group")
def walls_delete_group(group: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Delete an empty sector group."""
    from .services import workforce

    workforce.delete_group(context(runtime(data_dir, database_url)), group)
    out.print(f"group {group!r} deleted")


@walls_app.command("group")
def walls_group(
    name: str,
    workspace_ids: Annotated[list[str], typer.Argument(help="Workspaces of the sector group.")],
    cooling_off_days: Annotated[Optional[float], typer.Option("--cooling-off-days", help="Days before a wall of this group lifts.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Create (or extend) a sector group: every pair of its workspaces conflicts."""
    from .domain.errors import Conflict
    from .services import workforce

    ctx = context(runtime(data_dir, database_url))
    try:
        workforce.create_group(ctx, name, cooling_off_days=cooling_off_days)
    except Conflict:
        pass  # extending an existing group
    added = sum(workforce.add_to_group(ctx, name, ws) for ws in workspace_ids)
    out.print(f"group {name!r}: {added} new conflict(s)")


@walls_app.command("exclude")
def walls_exclude(
    workspace_id: str,
    org: str,
    kind: Annotated[Optional[str], typer.Option(help="Only this kind of tie (employer, investor, …); default: any.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Exclude everyone affiliated with an organisation from a workspace."""
    from .services import workforce

    released = workforce.add_exclusion(context(runtime(data_dir, database_url)), workspace_id, org, kind)
    out.print(f"{workspace_id} excludes {org}" + (f" ({kind})" if kind else "") + f"; {released} open lease(s) ended")


@walls_app.command("declare")
def walls_declare(
    email: str,
    workspace_id: str,
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who at the client approved binding this person.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Bind a person to one side of a conflict up front (the client's approval is recorded)."""
    from .services import workforce

    workforce.declare_side(context(runtime(data_dir, database_url)), email, workspace_id, approved_by=approved_by)
    out.print(f"{email} is bound to {workspace_id}")


@walls_app.command("prior")
def walls_prior(
    email: str,
    workspace_id: str,
    since: Annotated[Optional[str], typer.Option(help="Start date (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="End date (YYYY-MM-DD); cooling-off counts from here.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Record that a person worked for a client before (it walls them like an access)."""
    from .services import workforce

    workforce.record_prior_employment(context(runtime(data_dir, database_url)), email, workspace_id,
                                      since=_date_ms(since, "--since"), until=_date_ms(until, "--until"))
    out.print(f"prior work of {email} for {workspace_id} recorded")


@walls_app.command("explain")
def walls_explain(email: str, workspace_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Why a person may or may not see a workspace's data: which edge, which history, since when."""
    from .services import workforce

    result = workforce.explain(context(runtime(data_dir, database_url)), email, workspace_id)
    verdict = "[green]ALLOWED[/green]" if result["allowed"] else "[red]DENIED[/red]"
    out.print(f"{verdict} {result['email']} → {workspace_id} (member: {result['member_role'] or 'no'})")
    for reason in result["reasons"]:
        line = f"  {reason['kind']}: {reason['message']}"
        if "edge" in reason:
            cooling = reason["edge"]["cooling_off_ms"]
            line += f" — edge with {reason['edge']['other_workspace']} ({reason['edge']['source']}, " + \
                (f"cooling-off {cooling / 86400000:g} days" if cooling is not None else "never lifts") + ")"
        if "history" in reason:
            line += f" — history since {_when(reason['history']['first_at'])}, last {_when(reason['history']['last_at'])}"
        if "lifts_at" in reason:
            line += f" — lifts at {_when(reason['lifts_at'])}"
        out.print(line, highlight=False)
    for other in result["lifted"]:
        out.print(f"  lifted: the wall with {other} has cooled off", highlight=False)


@person_app.command("affiliate")
def person_affiliate(
    email: str,
    org: str,
    kind: Annotated[str, typer.Option(help="employer, investor, contractor, advisor, board, family or other.")],
    since: Annotated[Optional[str], typer.Option(help="Start date (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="End date (YYYY-MM-DD).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Record a person's tie to an organisation; workspaces that exclude it lose them at once."""
    from .services import workforce

    result = workforce.add_affiliation(context(runtime(data_dir, database_url)), email, org, kind,
                                       since=_date_ms(since, "--since"), until=_date_ms(until, "--until"))
    out.print(f"{email}: {kind} of {org}; {result['released_leases']} open lease(s) ended")


@person_app.command("show")
def person_show(email: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """A person's history, affiliations and skills."""
    from .services import workforce

    ctx = context(runtime(data_dir, database_url))
    table = Table("history: workspace", "source", "since", "last access")
    for h in workforce.history(ctx, email):
        table.add_row(h["workspace_id"], h["source"], _when(h["first_at"]), _when(h["last_at"]))
    out.print(table)
    table = Table("affiliation", "kind", "since", "until")
    for a in workforce.list_affiliations(ctx, email):
        table.add_row(a["org"], a["kind"], _when(a["since"]), _when(a["until"]))
    out.print(table)
    table = Table("skill", "level", "source")
    for sk in workforce.list_skills(ctx, email):
        table.add_row(sk["skill"], str(sk["level"]), sk["source"])
    out.print(table)


@skills_app.command("grant")
def skills_grant(email: str, skill: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Grant a skill, like history:3."""
    from .services import workforce

    granted = workforce.grant_skill(context(runtime(data_dir, database_url)), email, skill)
    out.print(f"{email}: {granted['skill']} level {granted['level']}")


@skills_app.command("revoke")
def skills_revoke(email: str, skill: str, data_dir: DataDir = None, database_url: DatabaseUrl = None):
    """Take a skill away."""
    from .services import workforce

    workforce.revoke_skill(context(runtime(data_dir, database_url)), email, skill)
    out.print(f"{email}: {skill} revoked")


def _nul_argument(argv: list[str]) -> str | None:
    """The name of the first argument or option whose value holds NUL (domain/text.py), else None.

    Arguments from a shell cannot hold NUL; arguments given in-process can, and would
    reach PostgreSQL, which cannot store it. Named from the command tree, like click would.
    """
    from typer.core import TyperArgument

    from .domain.text import NUL

    if not any(NUL in arg for arg in argv):
        return None
    command = typer.main.get_command(app)
    positional, i = 0, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and len(arg) > 1:
            name, eq, inline = arg.partition("=")
            option = next((p for p in command.params if name in getattr(p, "opts", ())), None)
            takes_value = option is not None and not (option.is_flag or option.count)
            value = inline if eq else (argv[i + 1] if takes_value and i + 1 < len(argv) else "")
            if NUL in name or NUL in value:
                return name.replace(NUL, "\\0")
            i += 1 if eq or not takes_value else 2
            continue
        sub = getattr(command, "commands", {}).get(arg)
        if sub is not None:
            command, positional = sub, 0
        else:
            if NUL in arg:
                arguments = [p for p in command.params if isinstance(p, TyperArgument)]
                if not arguments:
                    return f"argument {i + 1}"
                return arguments[min(positional, len(arguments) - 1)].name.upper()
            positional += 1
        i += 1
    return "an argument"


# -- two-person approval -----------------------------------------------------------

TokenStdin = Annotated[bool, typer.Option(
    "--token-stdin", help="Read your API token from stdin (default: the BASTION_TOKEN environment variable).")]


def _person(rt, token_stdin: bool, *, required: bool = True):
    """The person whose API token is given: requests and decisions are a person's, never the operator's."""
    from .services import users
    from .services.context import Context

    token = sys.stdin.readline().strip() if token_stdin else os.environ.get("BASTION_TOKEN", "").strip()
    if not token:
        if not required:
            return context(rt)
        raise BastionError("this is a person's act: give your API token (BASTION_TOKEN or --token-stdin)")
    return Context(rt, users.resolve_token(rt, token))


def _approval_line(a: dict) -> str:
    params = " ".join(f"{k}={v}" for k, v in a["params"].items())
    return f"{a['id']}  {a['state']}  {a['kind']} {params}".rstrip()


@approval_app.command("request")
def approval_request(
    workspace_id: str,
    kind: Annotated[str, typer.Argument(help="wall.remove, redaction.reidentify, canary.list, member.add_competitor, "
                                             "workspace.delete, keys.rotate, keys.reencrypt or approval.disable.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (written into the audit log).")],
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", help="What it is for, as name=id (repeat): task=tsk_…, project=prj_…, competitor=ws_…")] = None,
    token_stdin: TokenStdin = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """Ask a second owner to approve one operation; prints the request's id."""
    from .domain.errors import InvalidInput
    from .services import approvals

    params = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--param: {item!r} is not name=id")
        params[name] = value
    rt = runtime(data_dir, database_url)
    out.print(approvals.request(_person(rt, token_stdin), workspace_id, kind, params, reason)["id"])


@approval_app.command("list")
def approval_list(
    workspace_id: str,
    state: Annotated[Optional[str], typer.Option("--state", help="pending, approved, refused, used or expired.")] = None,
    token_stdin: TokenStdin = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
):
    """A workspace's requests, newest first (as the operator, or as a person with a token)."""
    from .services import approvals

    rt = runtime(data_dir, database_url)
    for item in approvals.list_approvals(_person(rt, token_stdin, required=False), workspace_id, state=state):
        out.print(_approval_line(item), highlight=False)


def _decide(approval_id: str, approve: bool, note: str | None, token_stdin: bool, data_dir, database_url) -> None:
    from .services import approvals

    rt = runtime(data_dir, database_url)
    out.print(_approval_line(approvals.decide(_person(rt, token_stdin), approval_id, approve=approve, note=note)),
              highlight=False)


Note = Annotated[Optional[str], typer.Option("--note", help="A note on the decision (written into the audit log).")]


@approval_app.command("approve")
def approval_approve(approval_id: str, note: Note = None, token_stdin: TokenStdin = False, data_dir: DataDir = None,
                     database_url: DatabaseUrl = None):
    """Approve another person's request (you hold the same authority and did not make it)."""
    _decide(approval_id, True, note, token_stdin, data_dir, database_url)


@approval_app.command("refuse")
def approval_refuse(approval_id: str, note: Note = None, token_stdin: TokenStdin = False, data_dir: DataDir = None,
                    database_url: DatabaseUrl = None):
    """Refuse another person's request."""
    _decide(approval_id, False, note, token_stdin, data_dir, database_url)


def main() -> None:
    debug = os.environ.get("BASTION_DEBUG") == "1"
    bad = _nul_argument(sys.argv[1:])
    if bad is not None:
        from rich.markup import escape

        from .domain.text import MESSAGE

        err.print(f"[red]error:[/red] {escape(bad)}: {MESSAGE}", highlight=False)
        sys.exit(2)
    try:
        app()
    except BastionError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # a database that is down, a disk that is full…
        if debug:
            raise
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, (SQLAlchemyError, OSError)):
            err.print(f"[red]error:[/red] {type(exc).__name__}: {str(exc).splitlines()[0]}", highlight=False)
            sys.exit(1)
        raise
    finally:
        while _open_runtimes:
            _open_runtimes.pop().close()


if __name__ == "__main__":
    main()
