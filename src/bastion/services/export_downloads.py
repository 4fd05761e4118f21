"""Exports from the browser: what a project offers, a signed download ticket, and progress.

The export itself is ``services/exports.py``'s, recorded and audited as every export
is (``project.exported``, then ``export.manifest_created`` or ``export.incomplete``).
This module is what the export page adds around it:

1. ``export_choices`` — the formats of the registry (plugins' included) that apply to
   the project's task type, each with the options it takes, and the project's
   recent exports;
2. ``prepare_download`` (the page's form, a CSRF-checked POST) — checks everything the
   export would refuse before its first byte (``exports.check_export``: nothing is
   recorded yet), mints the export's id and seals the options with it into a ticket:
   for this person, this project, ten minutes, one use;
3. ``start_download`` (the download link, a GET carrying the ticket) — verifies it and
   starts the export under the minted id: the browser downloads the stream as it is
   made (the file is never stored on the server, in clear or sealed);
4. ``export_progress`` — the export's record: streaming with the bytes handed out so far
   (``Export.stream`` writes them about once a second), complete with its manifest's
   counts, or incomplete. The page polls it every second.

Why a ticket: the page must know the export's id before the download starts (to
poll its progress), and the download is a plain link the browser follows as a
download, in any server process. The ticket carries the id and the options, so no
server keeps anything between the two requests. The options are sealed with the
project's key, bound to the export's id (AES-GCM, as every sealed record): nobody can
choose an id or options the checks did not see, and a break-glass reason or an
approval id never shows in a URL, a log or the browser's history.

What a restart does, said plainly: the stream is the only copy of the file. If the
server stops mid-export, the browser's download breaks off; no process is left to
mark the record, so it stays ``streaming`` with the bytes it had reached, and no
manifest is ever signed for it. ``export_progress`` reports how long its bytes have
stood still (``quiet_ms``); past ``STALLED_MS`` the page says the export has
stopped and must be started again.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import exports
from .context import Context
from .projects import Project, counts_of, load_project
from .. import ids
from ..access import Action
from ..domain.errors import BastionError, Conflict, InvalidInput, PermissionDenied
from ..exporting import LOSSLESS
from ..storage import export_store as store
from ..tasktypes._export import STRENGTHS

TICKET_TTL_MS = 10 * 60 * 1000
STALLED_MS = 30_000  # no new bytes for this long while streaming: the export has stopped (see the docstring)
RECENT = 10
_TICKET_VERSION = 1
_EXPORT_ID = re.compile(r"exp_[0-9a-f]{32}")


@dataclass(frozen=True)
class FormatChoice:
    """One format the project can export as, and what its form offers."""

    name: str
    description: str
    extension: str
    rows: tuple[str, ...]  # the kinds of rows it encodes for this project, by the ``rows`` option's names
    options: tuple[str, ...]  # the row options it takes (chat, sft_form, dpo_min_strength, include_ties, with_ids)
    lossless: bool  # it encodes the lossless rows: ``per`` and ``aggregate`` apply
    one_part_at_a_time: bool  # no split column: a split is exported one part at a time


@dataclass(frozen=True)
class ExportProgress:
    """Where one export stands (its record; the manifest's counts once it is complete)."""

    id: str
    format: str
    status: str  # streaming | complete | incomplete
    bytes_sent: int
    created_at: int
    finished_at: int | None
    mine: bool
    since: int = 0  # streaming: since when (ms) its bytes have stood at ``bytes_sent``, as far as the caller watched
    quiet_ms: int = 0  # … and for how long
    counts: dict[str, Any] | None = None  # complete: rows, tasks, annotations
    sha256: str | None = None

    @property
    def stalled(self) -> bool:
        return self.status == "streaming" and self.quiet_ms >= STALLED_MS


@dataclass(frozen=True)
class ExportChoices:
    project: Project
    formats: list[FormatChoice]
    aggregation_methods: tuple[str, ...]
    may_reidentify: bool
    recent: list[ExportProgress] = field(default_factory=list)
    chat: tuple[str, ...] = exports.CHAT
    sft_forms: tuple[str, ...] = exports.SFT_FORMS
    strengths: tuple[str, ...] = STRENGTHS


@dataclass(frozen=True)
class PreparedDownload:
    export_id: str
    ticket: str
    format: str


def export_choices(ctx: Context, project_id: str) -> ExportChoices:
    """The export page: the formats that apply to the project's task type with their options, and
    its recent exports (those who may export it; the wall decides, as for the export itself)."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.EXPORT)
        r.see_content(project.workspace_id)  # the recent exports' counts are the client's
        counts = counts_of(r, project.workspace_id, [project.id]).get(project.id)
        if counts is not None:
            project = dataclasses.replace(project, counts=counts)
        task_type = ctx.rt.task_types.get(project.task_type)
        formats = []
        for fmt in ctx.rt.export_formats.for_task_type(task_type):
            kinds = fmt.kinds_for(task_type)
            formats.append(
                FormatChoice(
                    name=fmt.name,
                    description=fmt.description,
                    extension=fmt.extension,
                    rows=tuple(exports.ROWS_LOSSLESS if k == LOSSLESS else k for k in kinds),
                    options=fmt.options,
                    lossless=LOSSLESS in kinds,
                    one_part_at_a_time=not fmt.split_column,
                )
            )
        may_reidentify = r.access.allows(Action.REDACTION_REIDENTIFY, project.workspace_id) and bool(
            project.config.get("redaction")
        )
        recent = [
            _progress(r, project, row, export_id)
            for export_id, row in store.list_recent_exports(r.tx, project.workspace_id, project.id, limit=RECENT)
        ]
    return ExportChoices(
        project=project,
        formats=formats,
        aggregation_methods=tuple(task_type.aggregation_methods),
        may_reidentify=may_reidentify,
        recent=recent,
    )


def prepare_download(ctx: Context, project_id: str, request: exports.ExportRequest) -> PreparedDownload:
    """Check an export as its first byte would, then hand out a ticket to download it (nothing recorded yet)."""
    project, writer = exports.check_export(ctx, project_id, request)
    export_id = ids.new_id("exp")
    body = {
        "v": _TICKET_VERSION,
        "project": project.id,
        "user": ctx.actor.user_id,
        "until": _now_ms() + TICKET_TTL_MS,
        "request": dataclasses.asdict(request),
    }
    with ctx.read() as r:
        sealed = r.sealer(project.workspace_id, project.key_id).seal_json("exports", export_id, "ticket", body)
    return PreparedDownload(export_id, f"{export_id}.{_b64(sealed)}", writer.name)


def start_download(ctx: Context, project_id: str, ticket: str) -> exports.Export:
    """The export a ticket describes, started under its id (recorded and audited like every export)."""
    bad = InvalidInput("ticket: not a download ticket for this project; start the export again from its page")
    export_id, _, sealed_text = ticket.partition(".")
    with ctx.read() as r:  # who may not export the project, or not see its data, learns nothing of tickets
        project = load_project(r, project_id, Action.EXPORT)
        r.see_content(project.workspace_id)
        if not _EXPORT_ID.fullmatch(export_id):
            raise bad
        try:
            body = r.sealer(project.workspace_id, project.key_id).open_json(
                "exports", export_id, "ticket", _unb64(sealed_text)
            )
        except (BastionError, ValueError, binascii.Error, orjson.JSONDecodeError):
            raise bad from None
    if not isinstance(body, dict) or body.get("v") != _TICKET_VERSION or body.get("project") != project.id:
        raise bad
    if body.get("user") != ctx.actor.user_id:
        raise PermissionDenied("this download was prepared for someone else: start the export from its page")
    if not isinstance(body.get("until"), int) or body["until"] < _now_ms():
        raise Conflict("this download link has expired (it lasts ten minutes): start the export again")
    try:
        request = exports.ExportRequest(**body["request"])
    except TypeError:
        raise bad from None
    return exports.start_export(ctx, project_id, request=request, export_id=export_id)


def export_progress(
    ctx: Context, project_id: str, export_id: str, *, seen: int = -1, seen_since: int = 0
) -> ExportProgress | None:
    """Where an export of this project stands; None while it has not started (its ticket not used yet)
    — and for an id that is not one of this project's exports.

    ``seen``/``seen_since``: the bytes the caller saw at its last look, and since when they had
    stood there — the answer's ``quiet_ms`` grows while they do not (see the module docstring).
    NotFound for a caller who may not export the project."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.EXPORT)
        r.see_content(project.workspace_id)  # the manifest's counts are the client's
        row = store.find_export(r.tx, export_id)
        if row is None or row.project_id != project.id or row.workspace_id != project.workspace_id:
            # Another project's or workspace's export reads as one not started: nothing of it shows,
            # and its existence cannot be told from an id never used (row-level security hides it too).
            return None
        progress = _progress(r, project, row, export_id)
    now = _now_ms()
    if progress.status != "streaming":
        return progress
    if progress.bytes_sent == seen and 0 < seen_since <= now:
        return dataclasses.replace(progress, since=seen_since, quiet_ms=now - seen_since)
    return dataclasses.replace(progress, since=now)


def _progress(r, project: Project, row: store.ExportRecord, export_id: str) -> ExportProgress:
    counts = sha256 = None
    if row.status == "complete" and row.manifest is not None:
        manifest = r.sealer(row.workspace_id, row.key_id).open_json("exports", export_id, "manifest", row.manifest)
        counts = {k: manifest["counts"][k] for k in ("rows", "tasks", "annotations")}
        sha256 = manifest["file"]["sha256"]
    return ExportProgress(
        id=export_id,
        format=row.format,
        status=row.status,
        bytes_sent=row.bytes_sent or 0,
        created_at=row.created_at,
        finished_at=row.finished_at,
        mine=row.created_by == r.actor.user_id,
        counts=counts,
        sha256=sha256,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or len(text) > 8000:
        raise ValueError("empty or too long")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = [
    "STALLED_MS",
    "ExportChoices",
    "ExportProgress",
    "FormatChoice",
    "PreparedDownload",
    "export_choices",
    "export_progress",
    "prepare_download",
    "start_download",
]
