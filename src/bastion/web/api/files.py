"""/api/v1 files: upload an image for a project's tasks; read a task's image.

Uploads are multipart (``file``), checked by content and size, sealed and
answered with the reference tasks then use (``{"id": "fil_…"}``). Reading goes
through the task, with the task's visibility rule; the answer is the image's
bytes with ``Cache-Control: private, no-store`` (client data stays off shared
and disk caches).
"""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ...domain.errors import PayloadTooLarge
from ...services import files as svc
from .common import COMMON_ERRORS, Ctx, error_docs, to_json

router = APIRouter(tags=["files"], responses=COMMON_ERRORS)


@router.post("/projects/{project_id}/files", status_code=201, responses=error_docs(413))
async def upload_file(project_id: str, ctx: Ctx, file: UploadFile | None = None):
    """Store an image (PNG, JPEG, WebP or GIF) for the project's tasks; answers its reference.

    Put the returned ``id`` in a task's data (``{"image": "fil_…"}``). The same
    bytes uploaded again answer the same id (``"reused": true``).
    """
    # The file is optional here so that a project the caller cannot see answers 404
    # before the body is judged; an empty or missing file is refused by the service.
    content = await file.read(svc.MAX_FILE_BYTES + 1) if file is not None else b""
    if len(content) > svc.MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is larger than {svc.MAX_FILE_BYTES} bytes")
    stored = await run_in_threadpool(svc.store_file, ctx, project_id, content)
    return to_json(stored.as_dict(), status_code=200 if stored.reused else 201)


@router.get(
    "/tasks/{task_id}/files/{file_id}",
    response_class=Response,
    responses={200: {"description": "The file's bytes.", "content": {"image/png": {}, "image/jpeg": {}}}},
)
def read_file(task_id: str, file_id: str, ctx: Ctx):
    """A file the task refers to, for people who may read the task."""
    content, media_type = svc.read_task_file(ctx, task_id, file_id)
    return Response(content, media_type=media_type,
                    headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"})
