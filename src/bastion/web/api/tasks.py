"""/api/v1 tasks: import, list, read; the queue (next, skip)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, error_docs, to_json
from .models import (
    AssigneeIn,
    AssigneeOut,
    ImportOut,
    TaskOut,
    TaskPage,
    TaskPatch,
    TasksDelete,
    TasksDeletedOut,
    TasksPatch,
    TasksUpdatedOut,
    TaskUpdatedOut,
    UnassignedOut,
)
from ...domain.errors import BastionError
from ...services import import_keys, imports, migration, queue, task_assignees, task_changes, tasks
from ...sources import iter_bytes, iter_jsonl

router = APIRouter(tags=["tasks"], responses=COMMON_ERRORS)

FORMATS_BY_TYPE = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
}
STREAM_LINES = 2000

LINE = {"$ref": "#/components/schemas/TaskLine"}  # api/models.TaskLine (declared by web/openapi.py)
IMPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "items": LINE,
                "description": "A JSON array of tasks, read whole: send big files as JSON Lines.",
            }
        },
        "application/x-ndjson": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "JSON Lines: one TaskLine per line, streamed (bad lines are reported by number).",
            }
        },
        "text/csv": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "The header names the fields of `data`; `external_id` and `priority` columns are "
                "taken as those keys.",
            }
        },
        "application/vnd.apache.parquet": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "Each row's columns as with CSV, or a `data` column of structs.",
            }
        },
    },
}


class UnsupportedMediaType(BastionError):
    code = "unsupported_media_type"


@router.post(
    "/projects/{project_id}/tasks",
    response_model=ImportOut,
    responses=error_docs(409, 413, 415),
    openapi_extra={"requestBody": IMPORT_BODY},
)
async def import_tasks(
    project_id: str,
    request: Request,
    ctx: Ctx,
    strict: bool = Query(False, description="Write nothing if any line is bad."),
    from_: str | None = Query(
        None,
        alias="from",
        pattern="^label-studio$",
        description="label-studio: the body is a Label Studio JSON export; its tasks come with their predictions "
        "and annotations (authors by e-mail). Answers the report plus what was skipped.",
    ),
    idempotency_key: str | None = Header(
        None,
        alias=import_keys.HEADER,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Send the import again safely: the same key from you on this project within 24 hours answers "
        "the first import's report (header Idempotent-Replayed: true) and imports nothing; the same "
        "key with another body answers 409.",
    ),
):
    """Import tasks: a JSON array, JSON Lines (streamed), CSV or Parquet.

    Answers counts and the lines that were rejected, with their line numbers.
    """
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    fmt = FORMATS_BY_TYPE.get(media)
    if fmt is None:
        return to_json(
            {
                "error": {
                    "code": "unsupported_media_type",
                    "message": f"Content-Type {media!r} is not importable (use one of: {', '.join(FORMATS_BY_TYPE)})",
                }
            },
            415,
        )
    if from_ == "label-studio":  # a JSON export is one document: read whole, converted per task
        body = await request.body()
        return to_json((await run_in_threadpool(migration.import_label_studio, ctx, project_id, body)).as_dict())
    digest = None
    if idempotency_key is not None:  # the request is its media type, strict and body (services/import_keys.py)
        digest = hashlib.sha256(f"{fmt}|{strict}|".encode())
        past = await run_in_threadpool(import_keys.find_import, ctx, project_id, idempotency_key)
        if past is not None:
            async for chunk in request.stream():
                digest.update(chunk)
            replayed = await run_in_threadpool(import_keys.replay_import, ctx, project_id, past, digest.digest())
            return to_json(replayed, headers={"Idempotent-Replayed": "true"})
    file_digest = hashlib.sha256()  # the body's sha256: provenance of annotations it brings (services/attributed.py)
    if fmt == "jsonl" and not strict:
        importer = await run_in_threadpool(imports.Importer, ctx, project_id)
        try:  # closed as services/imports.import_tasks closes it: its writer thread ends with the request
            pending: list[bytes] = []
            rest = b""
            next_line = 1
            async for chunk in request.stream():
                if digest is not None:
                    digest.update(chunk)
                file_digest.update(chunk)
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                pending.extend(lines)
                if len(pending) >= STREAM_LINES:
                    batch, pending = pending, []
                    await run_in_threadpool(importer.add, list(iter_jsonl(batch, start=next_line)))
                    next_line += len(batch)
            if rest:
                pending.append(rest)
            if pending:
                await run_in_threadpool(importer.add, list(iter_jsonl(pending, start=next_line)))
            report = await run_in_threadpool(lambda: importer.finish(file_sha256=file_digest.hexdigest()))
        finally:
            await run_in_threadpool(importer.close)
    else:
        body = await request.body()
        if digest is not None:
            digest.update(body)
        file_digest.update(body)
        report = await run_in_threadpool(
            lambda: imports.import_tasks(
                ctx, project_id, lambda: iter_bytes(body, fmt), strict=strict, file_sha256=file_digest.hexdigest()
            )
        )
    answer = report.as_dict()
    if idempotency_key is not None and digest is not None:
        await run_in_threadpool(import_keys.remember_import, ctx, project_id, idempotency_key, digest.digest(), answer)
    return to_json(answer)


@router.get("/projects/{project_id}/tasks", response_model=TaskPage)
def list_tasks(
    project_id: str,
    ctx: Ctx,
    cursor: str | None = Query(None, max_length=60, description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
):
    """A page of a project's tasks (managers, reviewers)."""
    return to_json(tasks.list_tasks(ctx, project_id, cursor=cursor, limit=limit))


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: str, ctx: Ctx):
    """One task. Annotators may read only tasks handed to them."""
    return to_json(tasks.get_task(ctx, task_id))


@router.post(
    "/projects/{project_id}/next",
    response_model=TaskOut,
    responses={204: {"description": "No task is left for you in this project."}},
)
def next_task(project_id: str, ctx: Ctx):
    """Lease your next task (the same one again while you hold it)."""
    task = queue.next_task(ctx, project_id)
    if task is None:
        return Response(status_code=204)
    return to_json(task)


@router.post("/tasks/{task_id}/skip", status_code=204, response_class=Response, responses=error_docs(409))
def skip_task(task_id: str, ctx: Ctx):
    """Give back a task you hold; it will not be offered to you again."""
    queue.skip_task(ctx, task_id)
    return Response(status_code=204)


# -- tasks after import: change, delete, assign (owners and managers) ---------------------


@router.patch("/tasks/{task_id}", response_model=TaskUpdatedOut, responses=error_docs(409))
def update_task(task_id: str, body: TaskPatch, ctx: Ctx):
    """Change a task's priority, predictions or meta (checked and sealed as at import)."""
    return to_json(task_changes.update_task(ctx, task_id, body.model_dump(exclude_unset=True)))


@router.patch("/projects/{project_id}/tasks", response_model=TasksUpdatedOut, responses=error_docs(409))
def update_matching(project_id: str, body: TasksPatch, ctx: Ctx):
    """Apply one patch to the project's tasks that match a filter, all or none (at most 10,000)."""
    where = body.filter.model_dump(exclude_none=True)
    return to_json(task_changes.update_tasks(ctx, project_id, where, body.patch.model_dump(exclude_unset=True)))


@router.delete("/tasks/{task_id}", response_model=TasksDeletedOut)
def delete_task(task_id: str, ctx: Ctx):
    """Delete a task with its annotations, reviews, assignments and the files no other task names."""
    return to_json(task_changes.delete_task(ctx, task_id))


@router.post("/projects/{project_id}/tasks/delete", response_model=TasksDeletedOut)
def delete_matching(project_id: str, body: TasksDelete, ctx: Ctx):
    """Delete the project's tasks that match a filter, all or none (at most 10,000)."""
    return to_json(task_changes.delete_tasks(ctx, project_id, body.filter.model_dump(exclude_none=True)))


@router.post("/tasks/{task_id}/assignee", response_model=AssigneeOut, responses=error_docs(409))
def assign_task(task_id: str, body: AssigneeIn, ctx: Ctx):
    """Give an open task to a member: their next task in the project is this one."""
    return to_json(task_assignees.assign_task(ctx, task_id, body.user))


@router.delete("/tasks/{task_id}/assignee", response_model=UnassignedOut)
def unassign_task(task_id: str, ctx: Ctx):
    """End every lease on the task (its assignment included): its slots return to the pool."""
    return to_json(task_assignees.unassign_task(ctx, task_id))
