"""Exporting a project: a stream of tasks with their annotations.

``start_export`` checks access and records the export in the audit log before
the first byte; the returned object then streams pages read by keyset (task id
order), each page in its own short read transaction, so an export of a million
tasks neither holds one long transaction nor builds the file in memory.

Formats are writers from task records to bytes; ``jsonl`` (one task per line,
lossless) and ``json`` (one array) are built in, task types add their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from ..access import Action
from ..domain.errors import InvalidInput
from ..storage import schema
from .annotations import annotation_dict
from .context import Context
from .projects import Project, load_project
from .tasks import task_dict

T = schema.tasks
N = schema.annotations
PAGE = 2000


def _jsonl(records: Iterator[dict]) -> Iterator[bytes]:
    dumps = orjson.dumps
    buf: list[bytes] = []
    for record in records:
        buf.append(dumps(record))
        if len(buf) >= 500:
            yield b"\n".join(buf) + b"\n"
            buf = []
    if buf:
        yield b"\n".join(buf) + b"\n"


def _json_array(records: Iterator[dict]) -> Iterator[bytes]:
    first = True
    yield b"["
    for chunk in _jsonl(records):
        lines = chunk.rstrip(b"\n").split(b"\n")
        yield (b"" if first else b",\n") + b",\n".join(lines)
        first = False
    yield b"]\n"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    write: Callable[[Iterator[dict]], Iterator[bytes]]


FORMATS: dict[str, ExportFormat] = {
    "jsonl": ExportFormat("jsonl", "application/x-ndjson", "jsonl", _jsonl),
    "json": ExportFormat("json", "application/json", "json", _json_array),
}


@dataclass
class Export:
    ctx: Context
    project: Project
    format: ExportFormat
    annotated_only: bool

    @property
    def filename(self) -> str:
        return f"{self.project.id}.{self.format.extension}"

    def records(self) -> Iterator[dict[str, Any]]:
        ws, pid = self.project.workspace_id, self.project.id
        after: str | None = None
        while True:
            with self.ctx.read() as r:
                r.access.require(Action.EXPORT, ws, what="project")
                query = select(T).where(T.c.workspace_id == ws, T.c.project_id == pid)
                if after is not None:
                    query = query.where(T.c.id > after)
                if self.annotated_only:
                    query = query.where(T.c.annotation_count > 0)
                rows = r.execute(query.order_by(T.c.id).limit(PAGE)).all()
                if not rows:
                    return
                by_task: dict[str, list] = defaultdict(list)
                for ann in r.execute(
                    select(N).where(N.c.workspace_id == ws, N.c.project_id == pid,
                                    N.c.task_id >= rows[0].id, N.c.task_id <= rows[-1].id)
                    .order_by(N.c.task_id, N.c.id)
                ).all():
                    by_task[ann.task_id].append(annotation_dict(r, ann, self.project.key_id))
                page = []
                for row in rows:
                    record = task_dict(r, row, self.project.key_id, full=True)
                    record["annotations"] = by_task.get(row.id, [])
                    page.append(record)
            yield from page
            after = rows[-1].id

    def chunks(self) -> Iterator[bytes]:
        return self.format.write(self.records())


def start_export(ctx: Context, project_id: str, *, fmt: str = "jsonl", annotated_only: bool = False) -> Export:
    """Authorise and audit an export; iterate ``.chunks()`` for the bytes."""
    writer = FORMATS.get(fmt)
    if writer is None:
        raise InvalidInput(f"format: unknown export format {fmt!r} (one of: {', '.join(sorted(FORMATS))})")
    with ctx.write() as w:
        project = load_project(w, project_id, Action.EXPORT)
        w.audit(project.workspace_id, "project.exported", project.id, format=fmt, annotated_only=annotated_only)
    return Export(ctx, project, writer, annotated_only)
