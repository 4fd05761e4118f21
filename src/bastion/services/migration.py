"""Migrating from Label Studio: a project from its labelling config, tasks with their labels from its export.

``create_project_from_label_studio`` converts the XML (``interop/labelstudio.py``)
and creates the project; what could not be converted is returned, named, never
dropped silently. ``import_label_studio`` reads a JSON export through the project's
task type (``TaskType.from_label_studio`` and friends) into import lines —
``data``, ``predictions`` with their model version and score, ``annotations``
with their authors (services/attributed.py) — and imports them like any other
lines: deduplicated by the Label Studio task id, in atomic batches. A task that
cannot cross is one rejected line whose errors name its Label Studio id and field.

The trap: an export made with Label Studio's Export button names annotators by
user id only; those annotations are refused (there is no one to attribute them
to), and predictions given as bare ids are reported as skipped.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .imports import DEFAULT_BATCH, ImportReport, import_tasks
from .projects import create_project, load_project
from ..access import Action
from ..domain.projects import Project
from ..interop.labelstudio import convert_config, read_label_studio_export
from ..sources import BadLine, Item

MAX_SKIPPED_REPORTED = 1000


@dataclass
class LabelStudioReport:
    """An import's report, and what the export held that was left out (predictions given as ids)."""

    report: ImportReport
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.report.as_dict(), "skipped": self.skipped}


def create_project_from_label_studio(
    ctx: Context, workspace_id: str, *, name: str, label_config: str, settings: dict | None = None
) -> tuple[Project, list[str]]:
    """A project made from a Label Studio labelling config, and what of it could not be converted."""
    config, unconverted = convert_config(label_config)
    return create_project(ctx, workspace_id, name=name, config=config, settings=settings), unconverted


def import_label_studio(
    ctx: Context,
    project_id: str,
    export: bytes,
    *,
    label_config: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> LabelStudioReport:
    """Import a Label Studio JSON export (``exportType=JSON``) into a project.

    ``label_config``: the XML the export was made with, needed only where Label
    Studio fields are gathered into one (Pairwise's two texts). Line numbers in the
    report count the export's tasks from 1.
    """
    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_IMPORT)
    tasks = read_label_studio_export(io.BytesIO(export), project.config, label_config=label_config)
    out = LabelStudioReport(ImportReport())

    def items() -> Iterator[Item]:
        for number, task in enumerate(tasks, 1):
            if len(out.skipped) < MAX_SKIPPED_REPORTED:
                out.skipped.extend(task.skipped[: MAX_SKIPPED_REPORTED - len(out.skipped)])
            yield number, (BadLine("; ".join(task.errors)) if task.errors else task.line)

    out.report = import_tasks(
        ctx,
        project_id,
        items(),
        batch_size=batch_size,
        progress=progress,
        file_sha256=hashlib.sha256(export).hexdigest(),
    )
    return out
