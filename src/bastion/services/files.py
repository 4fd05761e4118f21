"""Files (images) that tasks refer to: sealed at rest, checked on the way in, served to who may see the task.

A task never holds an image, only a reference (``data.image = "fil_…"``). The
bytes are sealed with the project's data key (AES-GCM, bound to the workspace,
the table ``files``, the file id and the column ``content``) *before* they
reach the blob store (``storage/blobs.py``: the data directory, or an
S3-compatible bucket), so the store only ever holds ciphertext. The ``files``
row (``storage/files_store.py``) says what the bytes are (type, size, pixels)
and holds a keyed hash of them, so storing the same image twice in a project
gives back the first id (re-imports stay idempotent).

Two ways in, and only two: ``store_file`` (the upload endpoint; the CLI's
``import --files DIR``, through ``FileReferences``). The server never fetches a
URL — a reference that is not a stored file is refused at import (no SSRF).
Content is checked by its magic bytes (PNG, JPEG, WebP, GIF), never by a name
or a declared type, and bounded by ``MAX_FILE_BYTES``; then it is cleaned
(``domain/images/``): its structure checked, its pixel count capped from the
header (``max_image_side_px``, ``max_image_pixels``), its metadata (EXIF, XMP,
IPTC, comments, text chunks, thumbnails, trailers) dropped without re-encoding.
Only the cleaned image is kept — the digest, the size and the sealed blob are
all of it; the bytes as uploaded are not kept anywhere, so there is no original
to re-identify anybody from. Upload routes hand the bytes over from memory
(``web/uploads.py``): nothing of an upload is written to disk in clear.

Reading goes through a task: ``read_task_file(ctx, task_id, file_id)`` answers
only if the caller may read the task (the rule of ``tasks.get_task``) and the
task's data names that file — an annotator cannot walk a project's files by id.

The traps: files stored before cleaning existed still hold their metadata
under the seal, so ``read_task_file`` cleans on the way out too (cleaning is
idempotent: a clean file comes out byte for byte); deleting a project destroys
its key, which makes its files unreadable (crypto-shredding) even while the
sealed bytes linger in the store; and a blob is written *before* the
transaction that records its row (outside it: a bucket call never holds the
database's write lock), so a failed transaction removes the blob it wrote,
never one that an earlier import stored — and a store that fails mid-write
(``Unavailable``, 503) fails before any row is written, so no row names a blob
that is not there. Reading records the access, then fetches the blob.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .context import Context
from .projects import load_project
from .tasks import find_task_row
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, Unavailable
from ..domain.images import CleanImage, ImageLimits, clean_image
from ..sources import BadLine, Item
from ..storage import files_store, queue_store
from ..storage.blobs import BlobStore
from ..storage.files_store import FileRow

log = logging.getLogger("bastion.files")
MAX_FILE_BYTES = 20 * 1024 * 1024
MEDIA_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


@dataclass(frozen=True)
class StoredFile:
    id: str
    project_id: str
    media_type: str
    size_bytes: int
    width: int | None
    height: int | None
    reused: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "media_type": self.media_type,
            "size_bytes": self.size_bytes,
            "width": self.width,
            "height": self.height,
            "reused": self.reused,
        }


# -- content checks -------------------------------------------------------------


def image_limits(ctx: Context) -> ImageLimits:
    settings = ctx.rt.settings
    return ImageLimits(max_side_px=settings.max_image_side_px, max_pixels=settings.max_image_pixels)


def check_content(content: bytes, limits: ImageLimits) -> CleanImage:
    """The upload's size, then its format, structure and pixel count; the image without its metadata."""
    if len(content) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is larger than {MAX_FILE_BYTES} bytes")
    if not content:
        raise InvalidInput("the file is empty")
    return clean_image(content, limits)


# -- the blob store ---------------------------------------------------------------


def blobs(ctx: Context) -> BlobStore:
    """The deployment's blob store (``BASTION_BLOB_STORE``: storage/blobs.py)."""
    return ctx.rt.blobs


# -- storing and reading ----------------------------------------------------------


def _stored(row: FileRow, reused: bool) -> StoredFile:
    return StoredFile(row.id, row.project_id, row.media_type, row.size_bytes, row.width, row.height, reused)


def store_file(ctx: Context, project_id: str, content: bytes) -> StoredFile:
    """Check, clean (no metadata) and seal a file for a project; the same picture again gives the same id.

    What is stored, hashed for deduplication and later served is the cleaned
    image; the bytes as uploaded are not kept. Unavailable when the blob store
    is down: nothing is stored then, neither the blob nor the row.

    The sealed blob goes to the store between a read (the project, the
    caller's right, the digest) and the write that records it, so an upload —
    seconds to a bucket, retries included — never holds the database's write
    lock (on SQLite every writer of the process would wait for it). The write
    checks the caller's right again; if it fails, the blob is removed.
    """
    store = blobs(ctx)
    # Cleaning is CPU work on up to MAX_FILE_BYTES: done before the transaction, its verdict given inside it,
    # after the project is found (a project the caller cannot see answers 404 whatever the file).
    image: CleanImage | InvalidInput | PayloadTooLarge
    try:
        image = check_content(content, image_limits(ctx))
    except (InvalidInput, PayloadTooLarge) as exc:
        image = exc
    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_IMPORT)  # first: 404 before any other answer
        if not isinstance(image, CleanImage):
            raise image
        ws = project.workspace_id
        sealer = r.sealer(ws, project.key_id)
        digest = sealer.index_hash("file", project.id, image.content)
        row = files_store.find_file_by_digest(r.tx, ws, project.id, digest)
    kept = image.content
    if row is not None:
        if not store.exists(ws, row.id):  # the row outlived its blob: put it back
            store.put(ws, row.id, sealer.seal("files", row.id, "content", kept))
        return _stored(row, reused=True)
    file_id = ids.new_id("fil")
    store.put(ws, file_id, sealer.seal("files", file_id, "content", kept))  # sealed before it leaves the process
    try:
        with ctx.write() as w:
            load_project(w, project_id, Action.TASK_IMPORT)  # again: a role revoked meanwhile stops it here
            files_store.insert_file(
                w.tx,
                ws,
                FileRow(
                    ws,
                    file_id,
                    project.id,
                    digest,
                    image.media_type,
                    len(kept),
                    image.width,
                    image.height,
                    w.now,
                    None if ctx.actor.is_system else ctx.actor.user_id,
                ),
            )
            w.audit(
                ws,
                "file.stored",
                file_id,
                project=project.id,
                media_type=image.media_type,
                size_bytes=len(kept),
                metadata_bytes_dropped=len(content) - len(kept),
            )
    except BaseException as exc:
        _forget(store, ws, file_id)  # no row names it: it goes, and never a blob an earlier upload stored
        if isinstance(exc, files_store.DuplicateFile):  # the same picture, stored by another request meanwhile
            with ctx.read() as r:
                row = files_store.find_file_by_digest(r.tx, ws, project.id, digest)
            if row is not None:
                return _stored(row, reused=True)
        raise
    return StoredFile(file_id, project.id, image.media_type, len(kept), image.width, image.height)


def _forget(store: BlobStore, workspace_id: str, file_id: str) -> None:
    """Remove a blob whose row did not commit; if the store is down too, it stays (sealed, named by no row)."""
    try:
        store.delete(workspace_id, file_id)
    except Unavailable as exc:
        log.warning("could not remove the blob %s/%s after a failed transaction: %s", workspace_id, file_id, exc)


def require_upload_target(ctx: Context, project_id: str) -> None:
    """NotFound or PermissionDenied unless the caller may store files for the project (answered before a bad body)."""
    with ctx.read() as r:
        load_project(r, project_id, Action.TASK_IMPORT)


def read_task_file(ctx: Context, task_id: str, file_id: str) -> tuple[bytes, str]:
    """The plaintext of a file a task refers to, for people who may read that task."""
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        task, ws = found, found.workspace_id
        if not w.access.can_browse(ws):
            w.access.require_task_visible(ws, queue_store.is_assigned(w.tx, ws, task_id, ctx.actor.user_id))
        w.see_content(ws)  # walls decide before an image is shown, as for the task itself
        sealer = w.sealer(ws, found.key_id)
        data = sealer.open_json("tasks", task.id, "payload", task.payload)["data"]
        task_type = ctx.rt.task_types.get(found.task_type)
        config = task_type.parse_config(sealer.open_json("projects", task.project_id, "config", found.config))
        if file_id not in {data.get(f) for f in task_type.file_fields(config)}:
            raise NotFound("file not found")
        row = files_store.find_file(w.tx, ws, task.project_id, file_id)
        if row is None:
            raise NotFound("file not found")
        w.audit(ws, "file.read", file_id, task=task_id)  # the access, granted and recorded
    # Fetched once that is committed: a read from a bucket never holds the database's write lock.
    content = sealer.open("files", file_id, "content", blobs(ctx).get(ws, file_id))
    try:  # a file stored before uploads were cleaned loses its metadata here; a clean one comes out as is
        content = clean_image(content, image_limits(ctx)).content
    except (InvalidInput, PayloadTooLarge) as exc:
        raise Conflict(f"the stored file cannot be shown: {exc.message}") from None
    return content, row.media_type


def file_facts(ctx: Context, project_id: str, file_ids: list[str]) -> dict[str, StoredFile]:
    """What exports need about a project's files (type, pixels), by id."""
    if not file_ids:
        return {}
    with ctx.read() as r:
        project = load_project(r, project_id, Action.EXPORT)
        rows = files_store.list_files(r.tx, project.workspace_id, project.id, file_ids)
    return {row.id: _stored(row, True) for row in rows}


# -- imports that name files --------------------------------------------------------


class FileReferences:
    """Rewrites imported tasks whose file fields name paths under ``base_dir`` into stored ids.

    Call it (``refs()``) for a fresh iterable of tasks, as ``imports.import_tasks``
    expects. In ``dry_run`` passes (strict imports validate everything first)
    files are checked but not stored. A bad path becomes a ``BadLine`` for that
    line, so the import reports it as ``FILE:LINE``.
    """

    def __init__(
        self,
        ctx: Context,
        project_id: str,
        base_dir: Path,
        items: Callable[[], Iterable[Item]],
        *,
        strict: bool = False,
    ) -> None:
        with ctx.read() as r:
            project = load_project(r, project_id, Action.TASK_IMPORT)
        task_type = ctx.rt.task_types.get(project.task_type)
        self.fields = task_type.file_fields(task_type.parse_config(project.config))
        if not self.fields:
            raise InvalidInput(f"--files: {project.task_type} tasks do not refer to files")
        self.ctx = ctx
        self.project_id = project_id
        self.base = base_dir.resolve()
        if not self.base.is_dir():
            raise InvalidInput(f"--files: {base_dir}: not a directory")
        self.items = items
        self.passes = 0
        self.strict = strict
        self.stored = 0
        self.limits = image_limits(ctx)

    def __call__(self) -> Iterator[Item]:
        dry_run = self.strict and self.passes == 0
        self.passes += 1
        for line, obj in self.items():
            yield line, self._rewrite(obj, dry_run)

    def _rewrite(self, obj: Any, dry_run: bool) -> Any:
        if not isinstance(obj, dict) or not isinstance(obj.get("data"), dict):
            return obj  # the importer reports the shape problem
        data = dict(obj["data"])
        for field in self.fields:
            ref = data.get(field)
            if not isinstance(ref, str) or ids.has_prefix(ref, "fil"):
                continue
            try:
                content = self._read(field, ref)
                if dry_run:
                    check_content(content, self.limits)
                    data[field] = ids.new_id("fil")
                    continue
                stored = store_file(self.ctx, self.project_id, content)
            except (InvalidInput, PayloadTooLarge) as exc:
                return BadLine(f"data.{field}: {ref[:200]}: {exc.message}")
            self.stored += 0 if stored.reused else 1
            data[field] = stored.id
            if len(self.fields) == 1:
                if "width" not in data and stored.width:
                    data["width"] = stored.width
                if "height" not in data and stored.height:
                    data["height"] = stored.height
        return {**obj, "data": data}

    def _read(self, field: str, ref: str) -> bytes:
        if "://" in ref or ref.startswith(("/", "\\")) or ":" in ref[:3]:
            raise InvalidInput("must be a path relative to --files (URLs and absolute paths are refused)")
        path = (self.base / ref).resolve()
        if not path.is_relative_to(self.base):
            raise InvalidInput("leads outside the --files directory")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise PayloadTooLarge(f"larger than {MAX_FILE_BYTES} bytes")
            return path.read_bytes()
        except FileNotFoundError:
            raise InvalidInput("no such file under the --files directory") from None
        except IsADirectoryError:
            raise InvalidInput("is a directory") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read ({exc.strerror})") from None
