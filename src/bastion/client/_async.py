"""``AsyncClient``: the asynchronous client (httpx.AsyncClient), the twin of ``Client`` in _sync.py:
the same methods, arguments and answers, awaited (iterators are async iterators)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import anyio
import httpx

from . import _calls as calls
from . import _exports as exports
from . import models as m
from ._imports import CHUNK_TASKS, ImportBody, import_body
from ._sync import DEFAULT_TIMEOUT, STREAM_TIMEOUT, headers
from .errors import BastionError, TransportError, error_from_response


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A body's chunks, each made (read from disk, encoded) in a worker thread, not on the event loop."""
    while True:
        chunk = await anyio.to_thread.run_sync(next, chunks, None)
        if chunk is None:
            return
        yield chunk


class AsyncClient:
    """A Bastion server, through its REST API (``/api/v1``), for asyncio (and trio) code.

    ``async with AsyncClient("http://127.0.0.1:8000", token="…") as client:``; everything
    ``Client`` does, awaited, with the same retries and errors.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: calls.Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry or calls.Retry()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers(token),
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # Sending, with retries.

    async def _send(self, request: httpx.Request, *, retried: bool, stream: bool = False) -> httpx.Response:
        """Send; again after a failure when ``retried``. Error answers raise."""
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if retried and attempt < self.retry.max_retries:
                    await anyio.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise TransportError(f"{request.method} {request.url.path}: {exc!r}", code="transport") from exc
            if response.status_code < 400:
                return response
            if response.status_code in calls.RETRY_STATUSES and retried and attempt < self.retry.max_retries:
                await response.aclose()
                await anyio.sleep(self.retry.delay(attempt, response))
                attempt += 1
                continue
            await response.aread()
            await response.aclose()
            raise error_from_response(response)

    async def _run(self, call: calls.Call) -> Any:
        request = self._http.build_request(call.method, call.path, params=call.params, json=call.json, files=call.files)
        return call.parse(await self._send(request, retried=call.retried))

    # Workspaces and members.

    async def me(self) -> m.Me:
        """You and your workspaces."""
        return await self._run(calls.me())

    async def list_workspaces(self) -> list[m.Workspace]:
        """Your workspaces (platform admins: all)."""
        return await self._run(calls.list_workspaces())

    async def create_workspace(self, name: str, *, owner: str | None = None) -> m.Workspace:
        """Create a workspace (platform admins); its owner is you unless ``owner`` (an id or e-mail) says."""
        return await self._run(calls.create_workspace(name, owner))

    async def get_workspace(self, workspace_id: str) -> m.Workspace:
        return await self._run(calls.get_workspace(workspace_id))

    async def delete_workspace(
        self, workspace_id: str, *, approval: str | None = None, break_glass: str | None = None
    ) -> None:
        """Delete and crypto-shred a workspace (two-person approval: docs/api.md)."""
        return await self._run(calls.delete_workspace(workspace_id, approval, break_glass))

    async def list_members(self, workspace_id: str) -> list[m.Member]:
        return await self._run(calls.list_members(workspace_id))

    async def add_member(
        self, workspace_id: str, user: str, role: str, *, approval: str | None = None, break_glass: str | None = None
    ) -> m.Member:
        """Add a person (id or e-mail) with a role, or change a member's role."""
        return await self._run(calls.add_member(workspace_id, user, role, approval, break_glass))

    # Projects.

    async def list_projects(self, workspace_id: str) -> list[m.Project]:
        return await self._run(calls.list_projects(workspace_id))

    async def create_project(
        self, workspace_id: str, name: str, config: dict[str, Any], *, settings: dict[str, Any] | None = None
    ) -> m.Project:
        """Create a project; the config is checked against its task type (docs/task-types.md)."""
        return await self._run(calls.create_project(workspace_id, name, config, settings))

    async def create_project_from_label_studio(
        self, workspace_id: str, name: str, label_config: str, *, settings: dict[str, Any] | None = None
    ) -> m.LabelStudioProject:
        """Create a project from a Label Studio labelling config (XML); ``unconverted`` names what did not
        convert (docs/label-studio.md)."""
        return await self._run(calls.create_project_from_label_studio(workspace_id, name, label_config, settings))

    async def get_project(self, project_id: str) -> m.Project:
        return await self._run(calls.get_project(project_id))

    async def update_project(
        self,
        project_id: str,
        *,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> m.Project:
        return await self._run(calls.update_project(project_id, name, config, settings))

    async def delete_project(self, project_id: str) -> None:
        """Delete and crypto-shred a project."""
        return await self._run(calls.delete_project(project_id))

    # Tasks.

    async def import_tasks(
        self,
        project_id: str,
        source: Any,
        *,
        format: str | None = None,
        strict: bool = False,
        idempotency_key: str | None = None,
        chunk_tasks: int = CHUNK_TASKS,
    ) -> m.ImportReport:
        """Import tasks, streamed (as ``Client.import_tasks``); the body is made in a worker thread."""
        return await self._import(project_id, import_body(source, format, chunk_tasks), strict, idempotency_key)

    async def _import(self, project_id: str, body: ImportBody, strict: bool, key: str | None) -> m.ImportReport:
        key = key or calls.new_idempotency_key()
        attempt = 0
        while True:
            # Each send takes a fresh body iterator: the transport consumed the last one.
            request = self._http.build_request(
                "POST",
                calls.import_path(project_id),
                params=calls.query({"strict": strict}),
                content=_in_thread(body.chunks()),
                headers={"Content-Type": body.content_type, "Idempotency-Key": key},
                timeout=STREAM_TIMEOUT,
            )
            try:
                return calls.import_report(await self._send(request, retried=False), key)
            except BastionError as exc:
                if not (calls.retried_import(exc) and body.can_resend and attempt < self.retry.max_retries):
                    raise
                await anyio.sleep(self.retry.delay(attempt))
                attempt += 1

    async def list_tasks(self, project_id: str, *, cursor: str | None = None, limit: int = 100) -> m.TaskPage:
        """One page of a project's tasks; ``next_cursor`` continues (``iter_tasks`` follows it for you)."""
        return await self._run(calls.list_tasks(project_id, cursor, limit))

    async def iter_tasks(self, project_id: str, *, page_size: int = 1000) -> AsyncIterator[m.Task]:
        """Every task of a project, page after page."""
        cursor = None
        while True:
            page = await self.list_tasks(project_id, cursor=cursor, limit=page_size)
            for task in page.items:
                yield task
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def get_task(self, task_id: str) -> m.Task:
        return await self._run(calls.get_task(task_id))

    async def next_task(self, project_id: str) -> m.Task | None:
        """Lease your next task of the project; None when none is left for you."""
        return await self._run(calls.next_task(project_id))

    async def skip_task(self, task_id: str) -> None:
        """Give back a task you hold; it is not offered to you again."""
        return await self._run(calls.skip_task(task_id))

    # Tasks after import (owners and managers).

    async def update_task(
        self,
        task_id: str,
        *,
        priority: int | None = None,
        predictions: list[Any] | None = None,
        meta: dict[str, Any] | None = None,
        clear_meta: bool = False,
    ) -> m.TaskUpdated:
        """Change a task's priority, predictions (``[]`` removes them) or meta (``clear_meta`` removes it);
        only what is given changes, checked and sealed as at import."""
        return await self._run(calls.update_task(task_id, calls.patch_of(priority, predictions, meta, clear_meta)))

    async def update_tasks(
        self,
        project_id: str,
        *,
        ids: list[str] | None = None,
        external_ids: list[str] | None = None,
        priority_min: int | None = None,
        priority_max: int | None = None,
        has_annotations: bool | None = None,
        gold: bool | None = None,
        priority: int | None = None,
        predictions: list[Any] | None = None,
        meta: dict[str, Any] | None = None,
        clear_meta: bool = False,
    ) -> m.TasksUpdated:
        """Apply one change to the project's tasks that match every condition given, all or none
        (at most 10,000: the server refuses more)."""
        where = calls.task_filter(ids, external_ids, priority_min, priority_max, has_annotations, gold)
        patch = calls.patch_of(priority, predictions, meta, clear_meta)
        return await self._run(calls.update_tasks(project_id, where, patch))

    async def delete_task(self, task_id: str) -> m.TasksDeleted:
        """Delete a task with its annotations, reviews, assignments and the files no other task names."""
        return await self._run(calls.delete_task(task_id))

    async def delete_tasks(
        self,
        project_id: str,
        *,
        ids: list[str] | None = None,
        external_ids: list[str] | None = None,
        priority_min: int | None = None,
        priority_max: int | None = None,
        has_annotations: bool | None = None,
        gold: bool | None = None,
    ) -> m.TasksDeleted:
        """Delete the project's tasks that match every condition given, all or none (at most 10,000)."""
        where = calls.task_filter(ids, external_ids, priority_min, priority_max, has_annotations, gold)
        return await self._run(calls.delete_tasks(project_id, where))

    async def assign_task(self, task_id: str, user: str) -> m.TaskAssigned:
        """Give an open task to a member (by e-mail): their next task in its project is this one."""
        return await self._run(calls.assign_task(task_id, user))

    async def unassign_task(self, task_id: str) -> m.TaskUnassigned:
        """End every lease on the task, its assignment included: its slots return to the pool."""
        return await self._run(calls.unassign_task(task_id))

    # Annotations and reviews.

    async def submit_annotation(self, task_id: str, result: Any, *, lead_time_ms: int | None = None) -> m.Annotation:
        return await self._run(calls.submit_annotation(task_id, result, lead_time_ms))

    async def submit_and_next(
        self, task_id: str, result: Any, *, lead_time_ms: int | None = None
    ) -> m.SubmittedAndNext:
        """Submit and lease your next task of the project in one transaction."""
        return await self._run(calls.submit_and_next(task_id, result, lead_time_ms))

    async def list_annotations(self, task_id: str) -> list[m.Annotation]:
        return await self._run(calls.list_annotations(task_id))

    async def review_next(self, project_id: str) -> m.ReviewTask | None:
        """Lease the next annotation waiting for your review; None when there is none."""
        return await self._run(calls.review_next(project_id))

    async def review(
        self, annotation_id: str, decision: str, *, comment: str | None = None, correction: Any = None
    ) -> m.Review:
        """Accept, reject (with a comment) or correct (with the corrected result) an annotation."""
        return await self._run(calls.review(annotation_id, decision, comment, correction))

    async def quality_report(self, project_id: str, *, method: str | None = None) -> dict[str, Any]:
        """Agreement, accuracy on gold, aggregation, throughput (docs/quality.md)."""
        return await self._run(calls.quality_report(project_id, method))

    # Files.

    async def upload_file(self, project_id: str, path: str | os.PathLike[str]) -> m.StoredFile:
        """Upload an image; put the answer's id in tasks' data (``{"image": "fil_…"}``)."""
        source = Path(path)
        content = await anyio.to_thread.run_sync(source.read_bytes)
        return await self._run(calls.upload_file(project_id, source.name, content))

    # Exports.

    @asynccontextmanager
    async def _export(self, project_id: str, format: str, options: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        path, params = calls.export_request(project_id, format, options)
        request = self._http.build_request("GET", path, params=params, timeout=STREAM_TIMEOUT)
        response = await self._send(request, retried=True, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def export_to_file(
        self, project_id: str, path: str | os.PathLike[str], *, format: str = "jsonl", **options: Any
    ) -> m.ExportInfo:
        """Stream an export into a file (written beside it, renamed when complete)."""
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        size = 0
        async with self._export(project_id, format, options) as response:
            try:
                with partial.open("wb") as fh:
                    async for chunk in response.aiter_bytes():
                        fh.write(chunk)
                        size += len(chunk)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(target)
            return m.ExportInfo(
                export_id=response.headers.get("x-bastion-export-id"),
                format=format,
                media_type=exports.media_type(response.headers.get("content-type", "")),
                size_bytes=size,
                path=str(target),
            )

    async def iter_export(
        self, project_id: str, *, format: str = "jsonl", **options: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """The export's rows as dicts, read as they arrive."""
        async with self._export(project_id, format, options) as response:
            with exports.reader_for(format, response.headers) as reader:
                async for chunk in response.aiter_bytes():
                    for row in reader.feed(chunk):
                        yield row
                for row in reader.finish():
                    yield row

    async def export_dataframe(self, project_id: str, *, format: str = "jsonl", **options: Any) -> Any:
        """The export as a pandas DataFrame (pandas must be installed)."""
        exports.pandas()
        async with self._export(project_id, format, options) as response:
            with exports.reader_for(format, response.headers) as reader:
                fed = [row async for chunk in response.aiter_bytes() for row in reader.feed(chunk)]
                return exports.to_dataframe(reader, fed)

    async def export_dataset(self, project_id: str, *, format: str = "jsonl", **options: Any) -> Any:
        """The export as a ``datasets.Dataset`` (datasets must be installed)."""
        exports.datasets()
        async with self._export(project_id, format, options) as response:
            with exports.reader_for(format, response.headers) as reader:
                fed = [row async for chunk in response.aiter_bytes() for row in reader.feed(chunk)]
                return exports.to_dataset(reader, fed)

    async def export_manifest(self, export_id: str) -> dict[str, Any]:
        """An export's signed manifest (stored when its last byte was sent)."""
        return await self._run(calls.export_manifest(export_id))

    # Your own work in a project.

    async def my_progress(self, project_id: str) -> m.Progress:
        """Your progress in the project: done, done in the last day, about how many are left, a pause."""
        return await self._run(calls.my_progress(project_id))

    async def iter_my_annotations(self, project_id: str, *, page_size: int = 50) -> AsyncIterator[m.OwnAnnotation]:
        """Your annotations in the project, newest first, with their review state."""
        cursor = None
        while True:
            page = await self._run(calls.my_annotations(project_id, cursor, page_size))
            for x in page["items"]:
                yield m.OwnAnnotation.model_validate(x)
            if not page.get("next_cursor"):
                return
            cursor = page["next_cursor"]

    async def edit_annotation(self, project_id: str, annotation_id: str, result: Any) -> m.Annotation:
        """Change your annotation's result until it is reviewed (the old one is kept as a version)."""
        return await self._run(calls.edit_annotation(project_id, annotation_id, result))

    async def undo_last(self, project_id: str) -> m.TakenBack:
        """Take back your newest annotation in the project; its task is leased to you again."""
        return await self._run(calls.undo_last(project_id))

    # People (platform admins).

    async def deactivate_user(self, user_id: str) -> m.User:
        """Deactivate a person: their sessions end, tokens are revoked and leases released (platform admins)."""
        return await self._run(calls.deactivate_user(user_id))

    async def activate_user(self, user_id: str) -> m.User:
        """Reactivate a person; none of their old sessions or tokens come back (platform admins)."""
        return await self._run(calls.activate_user(user_id))

    # Jobs (docs/jobs.md).

    async def submit_job(self, workspace_id: str, kind: str, params: dict[str, Any] | None = None) -> m.Job:
        """Queue a job (e.g. ``search.reindex`` with ``{"project_id": …}``); one already queued or running
        for the same target is answered instead."""
        return await self._run(calls.submit_job(workspace_id, kind, params or {}))

    async def list_jobs(
        self, workspace_id: str, *, state: str | None = None, before: str | None = None, limit: int = 50
    ) -> list[m.Job]:
        """The workspace's jobs your role may see, newest first."""
        return await self._run(calls.list_jobs(workspace_id, state, before, limit))

    async def get_job(self, job_id: str) -> m.Job:
        return await self._run(calls.get_job(job_id))

    async def cancel_job(self, job_id: str) -> m.Job:
        """Cancel: a queued job at once, a running one when its current chunk ends."""
        return await self._run(calls.cancel_job(job_id))

    async def retry_job(self, job_id: str) -> m.Job:
        """Queue a failed or cancelled job again; it resumes from its last checkpoint."""
        return await self._run(calls.retry_job(job_id))

    async def wait_job(self, job_id: str, *, timeout: float = 600.0, poll_seconds: float = 0.5) -> m.Job:
        """Poll a job until it has finished (succeeded, failed or cancelled); TimeoutError after ``timeout``."""
        deadline = anyio.current_time() + timeout
        while True:
            job = await self.get_job(job_id)
            if job.finished:
                return job
            if anyio.current_time() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job.state} after {timeout} s")
            await anyio.sleep(poll_seconds)

    async def prelabel(self, project_id: str, *, chunk: int | None = None) -> m.Job:
        """Pre-label the project's tasks with the model its ``prelabel`` setting names (docs/prelabel.md)."""
        return await self._run(calls.prelabel(project_id, chunk))

    # Events and webhooks (docs/events.md).

    async def iter_events(self, workspace_id: str, *, after: int = 0, page_size: int = 100) -> AsyncIterator[m.Event]:
        """The workspace's events after the cursor ``after`` (an event's ``seq``), oldest first."""
        while True:
            page = await self._run(calls.list_events(workspace_id, after, page_size))
            for e in page["events"]:
                yield m.Event.model_validate(e)
            if len(page["events"]) < page_size:
                return
            after = page["next"]

    async def create_webhook(
        self, workspace_id: str, url: str, events: list[str], *, allowed_hosts: list[str] | None = None
    ) -> m.Webhook:
        """Register an endpoint (owners); the answer's ``secret`` is shown this once."""
        return await self._run(calls.create_webhook(workspace_id, url, events, allowed_hosts))

    async def list_webhooks(self, workspace_id: str) -> list[m.Webhook]:
        return await self._run(calls.list_webhooks(workspace_id))

    async def get_webhook(self, webhook_id: str) -> m.Webhook:
        return await self._run(calls.get_webhook(webhook_id))

    async def delete_webhook(self, webhook_id: str) -> None:
        return await self._run(calls.delete_webhook(webhook_id))

    async def list_deliveries(self, webhook_id: str, *, state: str | None = None, limit: int = 100) -> list[m.Delivery]:
        """The endpoint's deliveries with their attempts, newest event first (``state="dead"``: dead letters)."""
        return await self._run(calls.list_deliveries(webhook_id, state, limit))

    async def replay_dead(self, webhook_id: str) -> int:
        """Deliver every dead letter of the endpoint again (owners); answers how many."""
        return (await self._run(calls.replay_dead(webhook_id)))["replayed"]

    # The audit log and held tasks (cursor-paged).

    async def iter_audit(self, workspace_id: str, *, page_size: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Every audit entry of a workspace, in order (owners, auditors)."""
        after = -1
        while True:
            page = await self._run(calls.list_audit(workspace_id, after, page_size))
            for entry in page["items"]:
                yield entry
            if page.get("next_after") is None:
                return
            after = page["next_after"]

    async def iter_held(self, project_id: str, *, page_size: int = 1000) -> AsyncIterator[m.HeldTask]:
        """Every task redaction held for review (owners)."""
        cursor = None
        while True:
            page = await self._run(calls.list_held(project_id, cursor, page_size))
            for held in page["items"]:
                yield m.HeldTask.model_validate(held)
            if not page.get("next_cursor"):
                return
            cursor = page["next_cursor"]
