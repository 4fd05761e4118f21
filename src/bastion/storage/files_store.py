"""Storage of the ``files`` rows: what each stored file is (type, size, pixels) and its keyed digest.

The bytes themselves are in the blob store (``storage/blobs.py``), sealed; a
row says what they are. ``digest`` is a keyed hash of the cleaned content
(``Sealer.index_hash``), unique per project, so the same picture stored twice
is found again instead of stored again.

Every statement names ``workspace_id`` first (row-level security keys on it).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from . import schema
from .database import Tx
from ..domain.errors import Conflict, NotFound

F = schema.files


class FileRow(NamedTuple):
    workspace_id: str
    id: str
    project_id: str
    digest: bytes
    media_type: str
    size_bytes: int
    width: int | None
    height: int | None
    created_at: int
    created_by: str | None


class DuplicateFile(Conflict):
    """The project holds this content already (stored by a request that committed first)."""


_COLUMNS = [getattr(F.c, name) for name in FileRow._fields]


def find_file_by_digest(tx: Tx, workspace_id: str, project_id: str, digest: bytes) -> FileRow | None:
    raw = tx.execute(
        select(*_COLUMNS).where(F.c.workspace_id == workspace_id, F.c.project_id == project_id, F.c.digest == digest)
    ).first()
    return None if raw is None else FileRow._make(raw)


def find_file(tx: Tx, workspace_id: str, project_id: str, file_id: str) -> FileRow | None:
    raw = tx.execute(
        select(*_COLUMNS).where(F.c.workspace_id == workspace_id, F.c.id == file_id, F.c.project_id == project_id)
    ).first()
    return None if raw is None else FileRow._make(raw)


def list_files(tx: Tx, workspace_id: str, project_id: str, file_ids: list[str]) -> list[FileRow]:
    """The project's files among ``file_ids`` (ids of other projects or workspaces are left out)."""
    return [
        FileRow._make(raw)
        for raw in tx.execute(
            select(*_COLUMNS).where(
                F.c.workspace_id == workspace_id, F.c.project_id == project_id, F.c.id.in_(file_ids)
            )
        ).all()
    ]


def insert_file(tx: Tx, workspace_id: str, row: FileRow) -> None:
    """DuplicateFile when the project got the same content meanwhile (its digest is unique)."""
    if row.workspace_id != workspace_id:
        raise ValueError("the row belongs to another workspace")
    try:
        tx.execute(insert(F).values(**row._asdict()))
    except IntegrityError as exc:
        if "digest" in str(exc.orig):  # uq_files_digest; anything else is the project gone meanwhile
            raise DuplicateFile("the same file is being stored at this moment; send it again") from exc
        raise NotFound("project not found") from exc


def delete_files(tx: Tx, workspace_id: str, project_id: str, file_ids: list[str]) -> int:
    """Delete the project's file rows among ``file_ids`` (their blobs are the service's to delete after commit)."""
    if not file_ids:
        return 0
    result = tx.execute(
        delete(F).where(F.c.workspace_id == workspace_id, F.c.project_id == project_id, F.c.id.in_(file_ids))
    )
    return int(result.rowcount)
