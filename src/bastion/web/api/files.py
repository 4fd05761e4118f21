"""/api/v1 files: upload an image for a project's tasks; read a task's image.

Uploads are multipart (``file``), read into memory by ``web/uploads.py``
(never spooled to a temporary file), checked by content and size, cleaned of
their metadata, sealed and answered with the reference tasks then use
(``{"id": "fil_…"}``); 503 when the blob store is down (nothing stored). Reading goes
through the task, with the task's visibility rule; the answer is the image's
bytes with ``Cache-Control: private, no-store`` (client data stays off shared
and disk caches).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from ..uploads import openapi_body, read_upload
from ...domain.errors import InvalidInput, PayloadTooLarge
from ...services import files as svc

router = APIRouter(tags=["files"], responses=COMMON_ERRORS)


class FileOut(BaseModel):
    id: str
    project_id: str
    media_type: str
    size_bytes: int
    width: int
    height: int
    reused: bool


@router.post(
    "/projects/{project_id}/files",
    status_code=201,
    response_model=FileOut,
    responses={
        200: {"model": FileOut, "description": "The same picture was stored before (reused: true)."},
        **error_docs(413, 503),
    },
    openapi_extra=openapi_body("file", "The image: PNG, JPEG, WebP or GIF, at most 20 MiB."),
)
async def upload_file(project_id: str, ctx: Ctx, request: Request):
    """Store an image (PNG, JPEG, WebP or GIF) for the project's tasks; answers its reference.

    Put the returned ``id`` in a task's data (``{"image": "fil_…"}``). Its
    metadata (EXIF, XMP, IPTC, comments, text chunks) is dropped, the pixels
    are kept as they are. The same picture uploaded again answers the same id
    (``"reused": true``).
    """
    try:
        upload = await read_upload(request, "file", svc.MAX_FILE_BYTES)
    except (InvalidInput, PayloadTooLarge):
        await run_in_threadpool(svc.require_upload_target, ctx, project_id)  # 404 or 403 before the body's fault
        raise
    stored = await run_in_threadpool(svc.store_file, ctx, project_id, upload.content)
    if stored.reused:
        return to_json(stored.as_dict())
    return created(stored.as_dict(), f"/projects/{project_id}/files/{stored.id}")


@router.get(
    "/tasks/{task_id}/files/{file_id}",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes.", "content": {"image/png": {}, "image/jpeg": {}}},
        **error_docs(409, 503),
    },
)
def read_file(task_id: str, file_id: str, ctx: Ctx):
    """A file the task refers to, for people who may read the task."""
    content, media_type = svc.read_task_file(ctx, task_id, file_id)
    return Response(
        content, media_type=media_type, headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"}
    )
