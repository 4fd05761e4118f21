"""``bastion import``: tasks from a file, with a progress bar and a per-line error report."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from ._options import AsJson
from ._output import err, out, print_json, progress_bar
from ._runtime import context, open_runtime, settings
from ..domain.errors import InvalidInput
from ..services import imports, migration
from ..services.files import FileReferences
from ..sources import detect_format, iter_file


def _survey(path: Path, count: bool, lines: Callable[[int], None]) -> str:
    """The file's digest (provenance of the annotations it brings, audited: services/attributed.py) and,
    with ``count``, its number of lines, given to ``lines`` (the progress bar's total). One read, in a
    thread beside the import: hashing lets go of the GIL, so it costs the import next to nothing."""
    digest = hashlib.sha256()
    newlines = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            if count:
                newlines += block.count(b"\n")
    if count:
        lines(newlines)
    return digest.hexdigest()


def _report(file: Path, report: imports.ImportReport) -> None:
    for r in report.rejected:
        err.print(f"{file}:{r['line']}: {r['error']}", markup=False, highlight=False)
    if report.rejected_count > len(report.rejected):
        err.print(f"… and {report.rejected_count - len(report.rejected)} more rejected lines")


def _import_label_studio(
    project_id: str, file: Path, label_config: Path | None, batch_size: int, as_json: bool
) -> None:
    """``--from label-studio``: tasks, predictions and annotations with their authors (line: the task's place)."""
    xml = label_config.read_text(encoding="utf-8") if label_config is not None else None
    rt = open_runtime(settings())
    with progress_bar("importing") as progress:
        bar = progress.add_task("import", total=None)
        result = migration.import_label_studio(
            context(rt),
            project_id,
            file.read_bytes(),
            label_config=xml,
            batch_size=batch_size,
            progress=lambda n: progress.advance(bar, n),
        )
    _report(file, result.report)
    for what in result.skipped:
        err.print(f"skipped: {what}", markup=False, highlight=False)
    report = result.report
    if as_json:
        print_json(report.as_dict())
    else:
        out.print(
            f"imported {report.imported}, skipped {report.duplicates} duplicate(s), rejected {report.rejected_count}"
        )
    if report.rejected_count:
        raise typer.Exit(1)


def import_(
    project_id: str,
    file: Path,
    format: Annotated[
        str | None, typer.Option("--format", help="jsonl, json, csv or parquet (default: by extension).")
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="label-studio: the file is a Label Studio JSON export (with its labels)."),
    ] = None,
    label_config: Annotated[
        Path | None,
        typer.Option(help="With --from label-studio: the export's labelling config (XML), for Pairwise projects."),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Write nothing if any line is bad.")] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=imports.MAX_BATCH, help="Tasks per transaction (each batch is atomic).")
    ] = 50_000,
    files: Annotated[
        Path | None,
        typer.Option(
            "--files",
            help="Directory of the images the tasks name (paths relative to it); they are sealed into the file store.",
        ),
    ] = None,
    as_json: AsJson = False,
):
    """Import tasks from a file, with a progress bar and a per-line error report."""
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    if from_ is not None:
        if from_ != "label-studio":
            raise InvalidInput(f"--from: {from_!r} is not one of label-studio")
        _import_label_studio(project_id, file, label_config, batch_size, as_json)
        return
    fmt = detect_format(file.name, format)
    if fmt not in ("jsonl", "json", "csv", "parquet"):
        raise InvalidInput(f"--format: {fmt!r} is not one of jsonl, json, csv, parquet")
    base = settings()
    # A bulk import is this process's only job: give SQLite a bigger page cache.
    rt = open_runtime(base.model_copy(update={"sqlite_cache_mb": max(base.sqlite_cache_mb, 256)}))
    # Lines in the file, for the progress bar's total (not above 2 GiB: not worth the count).
    count = fmt in ("jsonl", "csv") and file.stat().st_size <= 2 * 1024**3
    with progress_bar("importing") as progress, ThreadPoolExecutor(1, thread_name_prefix="bastion-survey") as pool:
        bar = progress.add_task("import", total=None)
        survey = pool.submit(_survey, file, count, lambda n: progress.update(bar, total=n))
        source = lambda: iter_file(file, fmt)  # noqa: E731
        if files is not None:
            source = FileReferences(context(rt), project_id, files, source, strict=strict)
        report = imports.import_tasks(
            context(rt),
            project_id,
            source,
            strict=strict,
            batch_size=batch_size,
            progress=lambda n: progress.advance(bar, n),
            file_sha256=survey.result,
            bulk_process=True,  # this process's only job: its search index is made beside it, the collector rarely runs
        )
        survey.result()  # a file that could not be read through says so
    _report(file, report)
    if as_json:
        print_json(report.as_dict())
    if strict and report.rejected_count:
        err.print(f"[red]nothing imported[/red]: {report.rejected_count} bad line(s) (--strict)")
        raise typer.Exit(1)
    if not as_json:
        out.print(
            f"imported {report.imported}, skipped {report.duplicates} duplicate(s), rejected {report.rejected_count}"
        )
    if report.rejected_count:
        raise typer.Exit(1)
