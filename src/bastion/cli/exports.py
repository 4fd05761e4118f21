"""``bastion export …``: a project's dataset with its signed manifest, and checking a file against one.

``bastion export PROJECT [OPTIONS]`` is the export itself (the hidden ``project``
subcommand); ``verify`` and ``manifest`` are subcommands beside it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from . import _choices
from ._choices import option_of
from ._help import aggregation_methods, export_format_helps
from ._input import read_json
from ._options import Approval
from ._output import err, out
from ._runtime import context, runtime
from ..audit.manifests import verify_export
from ..domain.errors import InvalidInput
from ..services import exports


class _ExportGroup(TyperGroup):
    """``bastion export PROJECT …`` exports; ``verify`` and ``manifest`` are subcommands beside it."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["project", *args]  # a project id: the export itself
        return super().parse_args(ctx, args)


class _ExportCommand(TyperCommand):
    """The export itself: ``--format`` and ``--rows`` list what is installed here, plugins' formats included."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        # Read when the command runs or shows its help: the formats installed then, not at import.
        helps = export_format_helps()
        for param in params:
            if isinstance(param, TyperOption) and param.name in helps:
                param.help = helps[param.name]
        return params


export_app = typer.Typer(
    cls=_ExportGroup,
    no_args_is_help=True,
    help="Export a project: bastion export PROJECT [OPTIONS] (its options: bastion export"
    " project --help). Check a file against its signed manifest: bastion export verify.",
)


def _write_manifest(path: Path, manifest: dict) -> None:
    """Write a manifest whole or not at all (through a ``.partial`` file)."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    tmp.replace(path)


@export_app.command("project", hidden=True, cls=_ExportCommand)
def export_(
    project_id: str,
    format: Annotated[
        str, option_of(_choices.format_names, "--format", help="An export format installed here (listed by --help).")
    ] = "jsonl",
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write here instead of stdout; a name with {split} writes one file per part of --split."
        ),
    ] = None,
    annotated_only: Annotated[bool, typer.Option("--annotated-only", help="Only tasks with annotations.")] = False,
    per: Annotated[
        str | None,
        option_of(
            _choices.per_values,
            "--per",
            help="annotation or task: one row per annotation, or per task with all its annotations.",
        ),
    ] = None,
    rows: Annotated[
        str,
        option_of(
            _choices.row_kinds, "--rows", help="With a format of several kinds of rows: which (listed by --help)."
        ),
    ] = "jsonl",
    split: Annotated[
        str | None,
        typer.Option(
            "--split", help="Parts besides train, e.g. validation=0.1 or validation=0.1,test=0.1 (decided per task)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split.")] = 0,
    part: Annotated[str | None, typer.Option("--part", help="Export only this part of the split.")] = None,
    chat: Annotated[
        str,
        option_of(
            _choices.chat_forms, "--chat", help="auto, conversational or standard: prompts as chat turns or as strings."
        ),
    ] = "auto",
    sft_form: Annotated[
        str, option_of(_choices.sft_forms, "--sft-form", help="messages or prompt-completion.")
    ] = "messages",
    dpo_min_strength: Annotated[
        str | None,
        option_of(
            _choices.strengths,
            "--dpo-min-strength",
            help="Leave out preference pairs weaker than slight, clear or strong.",
        ),
    ] = None,
    include_ties: Annotated[bool, typer.Option("--include-ties", help="Keep ties as DPO rows marked tie.")] = False,
    with_ids: Annotated[
        bool, typer.Option("--with-ids", help="Add task_id, annotation_id and external_id columns.")
    ] = False,
    accepted_only: Annotated[
        bool,
        typer.Option(
            "--accepted-only", help="Only accepted or corrected annotations (a correction replaces the result)."
        ),
    ] = False,
    aggregate: Annotated[
        str | None,
        option_of(
            _choices.aggregation_methods,
            "--aggregate",
            help=f"Add each task's aggregated answer, by a method that fits the project's type "
            f"({aggregation_methods()}).",
        ),
    ] = None,
    reidentify: Annotated[
        bool,
        typer.Option(
            "--reidentify", help="Restore redacted values (the original text; spans mapped onto it). Audited."
        ),
    ] = False,
    manifest_file: Annotated[
        Path | None,
        typer.Option(
            "--manifest", help="Write the signed manifest here (default with --out: FILE.manifest.json beside it)."
        ),
    ] = None,
    approval: Approval = None,
):
    """Stream a project's tasks and annotations, or training rows, to a file or stdout, with a signed manifest."""
    rt = runtime()
    request = exports.ExportRequest(
        fmt=format,
        annotated_only=annotated_only,
        per=per,
        rows=rows,
        split=split,
        seed=seed,
        part=part,
        chat=chat,
        sft_form=sft_form,
        min_strength=dpo_min_strength,
        include_ties=include_ties,
        with_ids=with_ids,
        accepted_only=accepted_only,
        aggregate=aggregate,
        reidentify=reidentify,
    )
    targets: list[tuple[Path | None, exports.ExportRequest, str | None]]
    if out_file is not None and "{split}" in out_file.name:
        parsed = exports.parse_split(split, seed)
        if parsed is None:
            raise InvalidInput("--out: {split} in the name needs --split")
        targets = [
            (out_file.with_name(out_file.name.replace("{split}", name)), exports.with_part(request, name), name)
            for name in parsed.names()
            if part is None or name == part
        ]
        if manifest_file is not None and "{split}" not in manifest_file.name:
            raise InvalidInput("--manifest: with one file per part, name the manifests with {split} too")
    else:
        targets = [(out_file, request, None)]
    # An approval is used once: by the first part's export (the operator needs none for the others).
    started = [
        (
            target,
            exports.start_export(
                context(rt), project_id, request=dataclasses.replace(req, approval=approval if i == 0 else None)
            ),
            name,
        )
        for i, (target, req, name) in enumerate(targets)
    ]
    for position, (target, export, name) in enumerate(started):
        try:
            _export_one(target, export, name, manifest_file)
        except BaseException:
            for _, later, _ in started[position + 1 :]:
                later.abandon()  # recorded as incomplete, not left "streaming"
            raise


def _export_one(target: Path | None, export, name: str | None, manifest_file: Path | None) -> None:
    """One file (or stdout) and its manifest beside it (or where --manifest says)."""
    manifest = (
        manifest_file.with_name(manifest_file.name.replace("{split}", name or ""))
        if manifest_file
        else target.with_name(target.name + ".manifest.json")
        if target is not None
        else None
    )
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
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="File holding the deployment's published key (bastion audit public-key)."),
    ],
):
    """Check an exported file offline: the manifest's signature, the file's length and SHA-256, its counts."""
    document = read_json(manifest, "manifest")
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
    out_file: Annotated[Path | None, typer.Option("--out", help="Write it here instead of stdout.")] = None,
):
    """Print an export's signed manifest (stored after its last byte)."""
    document = exports.get_manifest(context(runtime()), export_id)
    if out_file is None:
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        return
    _write_manifest(out_file, document)
    err.print(f"wrote {out_file}")
