"""What an export reads and records: a project's tasks by keyset pages, their annotations and
reviews, and the export's own row (its status and sealed manifest).

An export of a million tasks reads 500 pages; building SQLAlchemy row objects
for them costs more than decrypting them, so the pages are ``fast.Statement``
SQL on the driver's cursor. The rest (the export's row, the config version) is
plain SQLAlchemy Core.

The traps: canaries are task rows too (``is_canary``), but not the project's
items (services/canaries.py): the task pages leave them out. And the typed rows of
a page are made as the page is read, never kept as a list: the garbage
collector stops tracking the driver's plain tuples of strings, bytes and
numbers, but a NamedTuple stays tracked, and 4,000 of them alive per page made
every collection of an export walk them — a fifth of an export's time on SQLite.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import insert, select, update

from . import schema
from .database import Tx
from .fast import Statement
from .integrity import refused_as
from .review_store import REVIEWS_IN_RANGE, ReviewRow
from ..domain.errors import Conflict

X = schema.exports
P = schema.projects

_TASK_COLUMNS = "id, payload, predictions, priority, annotation_count, done, created_at, is_gold, gold"
TASKS_PAGE = Statement(
    f"SELECT {_TASK_COLUMNS} FROM tasks WHERE workspace_id = :ws AND project_id = :project AND id > :after "
    "AND is_canary = 0 ORDER BY id LIMIT :limit",
    postgresql=f"SELECT {_TASK_COLUMNS} FROM tasks WHERE workspace_id = :ws AND project_id = :project "
    "AND id > :after AND NOT is_canary ORDER BY id LIMIT :limit",
)
ANNOTATED_TASKS_PAGE = Statement(
    f"SELECT {_TASK_COLUMNS} FROM tasks WHERE workspace_id = :ws AND project_id = :project AND id > :after "
    "AND annotation_count > 0 ORDER BY id LIMIT :limit"
)
ANNOTATIONS_IN_RANGE = Statement(
    "SELECT id, task_id, user_id, result, lead_time_ms, created_at, review_status, gold_score FROM annotations "
    "WHERE workspace_id = :ws AND project_id = :project AND task_id >= :first AND task_id <= :last "
    "ORDER BY task_id, id"
)


class TaskRow(NamedTuple):
    """A task as an export reads it (``payload``, ``predictions``, ``gold``: sealed)."""

    id: str
    payload: bytes
    predictions: bytes | None
    priority: int
    annotation_count: int
    done: bool  # 0/1 on SQLite
    created_at: int
    is_gold: bool  # 0/1 on SQLite
    gold: bytes | None


class AnnotationRow(NamedTuple):
    id: str
    task_id: str
    user_id: str
    result: bytes  # sealed
    lead_time_ms: int | None
    created_at: int
    review_status: str
    gold_score: float | None


class ExportRecord(NamedTuple):
    workspace_id: str
    status: str  # streaming | complete | incomplete
    bytes_sent: int | None  # while streaming: the bytes handed out so far (written about once a second)
    manifest: bytes | None  # sealed with the project's key
    key_id: str  # the project's
    project_id: str
    format: str
    created_by: str
    created_at: int
    finished_at: int | None


# NamedTuple._make without its length check (each SELECT above fixes its columns): no Python call a row.
_task_row = functools.partial(tuple.__new__, TaskRow)
_annotation_row = functools.partial(tuple.__new__, AnnotationRow)


class TaskPage:
    """One keyset page of tasks: its first and last ids, and its rows (each made as it is read)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[TaskRow]:
        return map(_task_row, self._rows)

    @property
    def first_id(self) -> str:
        task_id: str = self._rows[0][0]
        return task_id

    @property
    def last_id(self) -> str:
        task_id: str = self._rows[-1][0]
        return task_id


def list_task_page(
    tx: Tx, workspace_id: str, project_id: str, *, after: str, limit: int, annotated_only: bool
) -> TaskPage:
    """Up to ``limit`` tasks after ``after`` in id order (only annotated ones when asked); canaries never."""
    page = ANNOTATED_TASKS_PAGE if annotated_only else TASKS_PAGE
    return TaskPage(page.rows(tx, ws=workspace_id, project=project_id, after=after, limit=limit))


def iter_annotations_in_range(
    tx: Tx, workspace_id: str, project_id: str, first: str, last: str
) -> Iterator[AnnotationRow]:
    """The annotations of the tasks from ``first`` to ``last`` (ids), by task then id (read at once, typed as
    they are iterated)."""
    rows = ANNOTATIONS_IN_RANGE.rows(tx, ws=workspace_id, project=project_id, first=first, last=last)
    return map(_annotation_row, rows)


def list_reviews_in_range(tx: Tx, workspace_id: str, project_id: str, first: str, last: str) -> list[ReviewRow]:
    """The review decisions on the tasks from ``first`` to ``last`` (ids), oldest first."""
    rows = REVIEWS_IN_RANGE.rows(tx, ws=workspace_id, project=project_id, first=first, last=last)
    return list(map(ReviewRow._make, rows))


def get_config_version(tx: Tx, workspace_id: str, project_id: str) -> int:
    """The version of the project's config now (the manifest records the one an export was cut from)."""
    version: int = tx.execute(
        select(P.c.config_version).where(P.c.workspace_id == workspace_id, P.c.id == project_id)
    ).scalar_one()
    return version


def insert_export(tx: Tx, workspace_id: str, export_id: str, *, project_id: str, format: str, created_by: str) -> None:
    """Record an export as it starts (status ``streaming``); Conflict if the id is taken (a download
    ticket used twice)."""
    taken = Conflict(f"export {export_id} was started already: start the export again for another file")
    with refused_as(tx, taken):
        tx.execute(
            insert(X).values(
                workspace_id=workspace_id,
                id=export_id,
                project_id=project_id,
                format=format,
                created_by=created_by,
                created_at=tx.now,
                status="streaming",
            )
        )


def update_export_progress(tx: Tx, workspace_id: str, export_id: str, *, bytes_sent: int) -> None:
    """The bytes a streaming export has handed out so far (what its progress shows)."""
    tx.execute(
        update(X)
        .where(X.c.workspace_id == workspace_id, X.c.id == export_id, X.c.status == "streaming")
        .values(bytes_sent=bytes_sent)
    )


def update_export_complete(tx: Tx, workspace_id: str, export_id: str, *, bytes_sent: int, manifest: bytes) -> None:
    """The last byte left: the export is complete, with its sealed manifest."""
    tx.execute(
        update(X)
        .where(X.c.workspace_id == workspace_id, X.c.id == export_id)
        .values(status="complete", bytes_sent=bytes_sent, finished_at=tx.now, manifest=manifest)
    )


def update_export_incomplete(tx: Tx, workspace_id: str, export_id: str, *, bytes_sent: int) -> None:
    """The stream stopped early: a streaming export becomes incomplete (no manifest)."""
    tx.execute(
        update(X)
        .where(X.c.workspace_id == workspace_id, X.c.id == export_id, X.c.status == "streaming")
        .values(status="incomplete", bytes_sent=bytes_sent, finished_at=tx.now)
    )


def _record_columns() -> tuple[Any, ...]:
    return (
        X.c.workspace_id,
        X.c.status,
        X.c.bytes_sent,
        X.c.manifest,
        P.c.key_id,
        X.c.project_id,
        X.c.format,
        X.c.created_by,
        X.c.created_at,
        X.c.finished_at,
    )


def list_recent_exports(tx: Tx, workspace_id: str, project_id: str, *, limit: int) -> list[tuple[str, ExportRecord]]:
    """The project's latest exports, newest first: (id, record) pairs."""
    rows = tx.execute(
        select(X.c.id, *_record_columns())
        .join(P, (P.c.workspace_id == X.c.workspace_id) & (P.c.id == X.c.project_id))
        .where(X.c.workspace_id == workspace_id, X.c.project_id == project_id)
        .order_by(X.c.id.desc())
        .limit(limit)
    ).all()
    return [(row[0], ExportRecord._make(row[1:])) for row in rows]


def find_export(tx: Tx, export_id: str) -> ExportRecord | None:
    """An export by its id, with its project's key id; None when there is none.

    Looked up by id alone: the caller decides from the row's ``workspace_id``
    whether the actor may see it (and answers NotFound across workspaces).
    """
    row = tx.execute(
        select(*_record_columns())
        .join(P, (P.c.workspace_id == X.c.workspace_id) & (P.c.id == X.c.project_id))
        .where(X.c.id == export_id)
    ).first()
    return None if row is None else ExportRecord._make(row)
