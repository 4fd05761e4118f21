"""What the sync and async clients share: each API call as data, the retry policy, the answers' parsing.

A ``Call`` says what to send and how to read the answer; ``Client`` and ``AsyncClient`` only
send it (``_run``), so the two cannot drift apart. Which calls are retried is decided here:
GETs, and imports (the ``Idempotency-Key`` makes a resent import answer the first one's report),
never another POST, a PATCH or a DELETE — a resent create would create twice.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from . import models as m
from .errors import BastionError, TransportError

API = "/api/v1"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 60.0

# Query parameters of GET /projects/{p}/export besides format (docs/api.md); a misspelt one
# would be ignored by the server, so the client refuses it.
EXPORT_OPTIONS = frozenset(
    {
        "annotated_only",
        "per",
        "rows",
        "split",
        "seed",
        "part",
        "chat",
        "sft_form",
        "dpo_min_strength",
        "include_ties",
        "with_ids",
        "accepted_only",
        "aggregate",
        "reidentify",
        "approval",
        "break_glass",
    }
)


def seg(value: str) -> str:
    """One path segment: an id can hold nothing that changes the path."""
    return quote(str(value), safe="")


def query(params: Mapping[str, Any]) -> dict[str, str | int | float]:
    """Query parameters without the unset ones; booleans as the API spells them."""
    out: dict[str, str | int | float] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Retry:
    """How often and how long to wait before sending an idempotent call again.

    The n-th wait is ``backoff_seconds * 2**n`` (at most ``max_backoff_seconds``) with jitter,
    or what the server's ``Retry-After`` says (up to a minute).
    """

    max_retries: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.isdigit():
                return min(float(after), MAX_RETRY_AFTER_SECONDS)
        base = min(self.backoff_seconds * (2**attempt), self.max_backoff_seconds)
        return base * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class Call:
    """One API call: what to send, whether it may be sent again, how to read the answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    files: Any = None
    idempotent: bool = False

    @property
    def retried(self) -> bool:
        return self.idempotent or self.method in ("GET", "HEAD")


def model(cls: type[m.Model]) -> Callable[[httpx.Response], Any]:
    return lambda r: cls.model_validate_json(r.content)


def models(cls: type[m.Model]) -> Callable[[httpx.Response], Any]:
    return lambda r: [cls.model_validate(x) for x in r.json()]


def maybe(cls: type[m.Model]) -> Callable[[httpx.Response], Any]:
    """An answer that is 204 when there is nothing (the queue, the review queue)."""
    return lambda r: None if r.status_code == 204 else cls.model_validate_json(r.content)


def as_json(r: httpx.Response) -> Any:
    return r.json()


def nothing(r: httpx.Response) -> None:
    return None


def get(path: str, parse: Callable[[httpx.Response], Any], **params: Any) -> Call:
    return Call("GET", API + path, parse, params=query(params))


def post(path: str, parse: Callable[[httpx.Response], Any], body: Any = None, **params: Any) -> Call:
    return Call("POST", API + path, parse, params=query(params), json=body)


def delete(path: str, **params: Any) -> Call:
    return Call("DELETE", API + path, nothing, params=query(params))


def drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# The calls, in the order of docs/api.md.


def me() -> Call:
    return get("/me", model(m.Me))


def list_workspaces() -> Call:
    return get("/workspaces", models(m.Workspace))


def create_workspace(name: str, owner: str | None) -> Call:
    return post("/workspaces", model(m.Workspace), drop_none(name=name, owner=owner))


def get_workspace(workspace_id: str) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}", model(m.Workspace))


def delete_workspace(workspace_id: str, approval: str | None, break_glass: str | None) -> Call:
    return delete(f"/workspaces/{seg(workspace_id)}", approval=approval, break_glass=break_glass)


def list_members(workspace_id: str) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}/members", models(m.Member))


def add_member(workspace_id: str, user: str, role: str, approval: str | None, break_glass: str | None) -> Call:
    return post(
        f"/workspaces/{seg(workspace_id)}/members",
        model(m.Member),
        drop_none(user=user, role=role, approval=approval, break_glass=break_glass),
    )


def list_projects(workspace_id: str) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}/projects", models(m.Project))


def create_project(workspace_id: str, name: str, config: dict[str, Any], settings: dict[str, Any] | None) -> Call:
    return post(
        f"/workspaces/{seg(workspace_id)}/projects",
        model(m.Project),
        drop_none(name=name, config=config, settings=settings),
    )


def create_project_from_label_studio(
    workspace_id: str, name: str, label_config: str, settings: dict[str, Any] | None
) -> Call:
    return post(
        f"/workspaces/{seg(workspace_id)}/projects/from-label-studio",
        model(m.LabelStudioProject),
        drop_none(name=name, label_config=label_config, settings=settings),
    )


def get_project(project_id: str) -> Call:
    return get(f"/projects/{seg(project_id)}", model(m.Project))


def update_project(
    project_id: str, name: str | None, config: dict[str, Any] | None, settings: dict[str, Any] | None
) -> Call:
    return Call(
        "PATCH",
        f"{API}/projects/{seg(project_id)}",
        model(m.Project),
        json=drop_none(name=name, config=config, settings=settings),
    )


def delete_project(project_id: str) -> Call:
    return delete(f"/projects/{seg(project_id)}")


def list_tasks(project_id: str, cursor: str | None, limit: int) -> Call:
    return get(f"/projects/{seg(project_id)}/tasks", model(m.TaskPage), cursor=cursor, limit=limit)


def get_task(task_id: str) -> Call:
    return get(f"/tasks/{seg(task_id)}", model(m.Task))


def next_task(project_id: str) -> Call:
    return post(f"/projects/{seg(project_id)}/next", maybe(m.Task))


def skip_task(task_id: str) -> Call:
    return post(f"/tasks/{seg(task_id)}/skip", nothing)


# Tasks after import (owners and managers): change, delete, assign.


def task_filter(
    ids: list[str] | None,
    external_ids: list[str] | None,
    priority_min: int | None,
    priority_max: int | None,
    has_annotations: bool | None,
    gold: bool | None,
) -> dict[str, Any]:
    """A bulk call's filter (every given condition must hold); the server refuses an empty one."""
    return drop_none(
        ids=ids,
        external_ids=external_ids,
        priority_min=priority_min,
        priority_max=priority_max,
        has_annotations=has_annotations,
        gold=gold,
    )


def update_task(task_id: str, patch: dict[str, Any]) -> Call:
    return Call("PATCH", f"{API}/tasks/{seg(task_id)}", model(m.TaskUpdated), json=patch)


def update_tasks(project_id: str, where: dict[str, Any], patch: dict[str, Any]) -> Call:
    return Call(
        "PATCH",
        f"{API}/projects/{seg(project_id)}/tasks",
        model(m.TasksUpdated),
        json={"filter": where, "patch": patch},
    )


def delete_task(task_id: str) -> Call:
    return Call("DELETE", f"{API}/tasks/{seg(task_id)}", model(m.TasksDeleted))


def delete_tasks(project_id: str, where: dict[str, Any]) -> Call:
    return post(f"/projects/{seg(project_id)}/tasks/delete", model(m.TasksDeleted), {"filter": where})


def assign_task(task_id: str, user: str) -> Call:
    return post(f"/tasks/{seg(task_id)}/assignee", model(m.TaskAssigned), {"user": user})


def unassign_task(task_id: str) -> Call:
    return Call("DELETE", f"{API}/tasks/{seg(task_id)}/assignee", model(m.TaskUnassigned))


def submit_annotation(task_id: str, result: Any, lead_time_ms: int | None) -> Call:
    return post(
        f"/tasks/{seg(task_id)}/annotations",
        model(m.Annotation),
        drop_none(lead_time_ms=lead_time_ms) | {"result": result},
    )


def submit_and_next(task_id: str, result: Any, lead_time_ms: int | None) -> Call:
    return post(
        f"/tasks/{seg(task_id)}/submit-and-next",
        model(m.SubmittedAndNext),
        drop_none(lead_time_ms=lead_time_ms) | {"result": result},
    )


def list_annotations(task_id: str) -> Call:
    return get(f"/tasks/{seg(task_id)}/annotations", models(m.Annotation))


def review_next(project_id: str) -> Call:
    return post(f"/projects/{seg(project_id)}/review/next", maybe(m.ReviewTask))


def review(annotation_id: str, decision: str, comment: str | None, correction: Any) -> Call:
    return post(
        f"/annotations/{seg(annotation_id)}/review",
        model(m.Review),
        drop_none(decision=decision, comment=comment, correction=correction),
    )


def quality_report(project_id: str, method: str | None) -> Call:
    return get(f"/projects/{seg(project_id)}/quality", as_json, method=method)


def export_manifest(export_id: str) -> Call:
    return get(f"/exports/{seg(export_id)}/manifest", as_json)


def upload_file(project_id: str, name: str, content: bytes) -> Call:
    return Call("POST", f"{API}/projects/{seg(project_id)}/files", model(m.StoredFile), files={"file": (name, content)})


def list_audit(workspace_id: str, after: int, limit: int) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}/audit", as_json, after=after, limit=limit)


def list_held(project_id: str, cursor: str | None, limit: int) -> Call:
    return get(f"/projects/{seg(project_id)}/held", as_json, cursor=cursor, limit=limit)


def my_progress(project_id: str) -> Call:
    return get(f"/projects/{seg(project_id)}/me/progress", model(m.Progress))


def my_annotations(project_id: str, cursor: str | None, limit: int) -> Call:
    return get(f"/projects/{seg(project_id)}/me/annotations", as_json, cursor=cursor, limit=limit)


def edit_annotation(project_id: str, annotation_id: str, result: Any) -> Call:
    path = f"{API}/projects/{seg(project_id)}/me/annotations/{seg(annotation_id)}"
    return Call("PATCH", path, model(m.Annotation), json={"result": result})


def undo_last(project_id: str) -> Call:
    return post(f"/projects/{seg(project_id)}/me/undo", model(m.TakenBack))


def deactivate_user(user_id: str) -> Call:
    return post(f"/users/{seg(user_id)}/deactivate", model(m.User))


def activate_user(user_id: str) -> Call:
    return post(f"/users/{seg(user_id)}/activate", model(m.User))


def submit_job(workspace_id: str, kind: str, params: dict[str, Any]) -> Call:
    return post(f"/workspaces/{seg(workspace_id)}/jobs", model(m.Job), {"kind": kind, "params": params})


def list_jobs(workspace_id: str, state: str | None, before: str | None, limit: int) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}/jobs", models(m.Job), state=state, before=before, limit=limit)


def get_job(job_id: str) -> Call:
    return get(f"/jobs/{seg(job_id)}", model(m.Job))


def cancel_job(job_id: str) -> Call:
    return post(f"/jobs/{seg(job_id)}/cancel", model(m.Job))


def retry_job(job_id: str) -> Call:
    return post(f"/jobs/{seg(job_id)}/retry", model(m.Job))


def prelabel(project_id: str, chunk: int | None) -> Call:
    return post(f"/projects/{seg(project_id)}/prelabel", model(m.Job), drop_none(chunk=chunk))


def list_events(workspace_id: str, after: int, limit: int) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}/events", as_json, after=after, limit=limit)


def create_webhook(workspace_id: str, url: str, events: list[str], allowed_hosts: list[str] | None) -> Call:
    body = drop_none(url=url, events=events, allowed_hosts=allowed_hosts)
    return post(f"/workspaces/{seg(workspace_id)}/webhooks", model(m.Webhook), body)


def list_webhooks(workspace_id: str) -> Call:
    return get(f"/workspaces/{seg(workspace_id)}/webhooks", models(m.Webhook))


def get_webhook(webhook_id: str) -> Call:
    return get(f"/webhooks/{seg(webhook_id)}", model(m.Webhook))


def delete_webhook(webhook_id: str) -> Call:
    return delete(f"/webhooks/{seg(webhook_id)}")


def list_deliveries(webhook_id: str, state: str | None, limit: int) -> Call:
    return get(f"/webhooks/{seg(webhook_id)}/deliveries", models(m.Delivery), state=state, limit=limit)


def replay_dead(webhook_id: str) -> Call:
    return post(f"/webhooks/{seg(webhook_id)}/replay-dead", as_json)


def import_path(project_id: str) -> str:
    return f"{API}/projects/{seg(project_id)}/tasks"


def export_request(project_id: str, format: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The export's path and query; an option the API does not have is refused here."""
    unknown = sorted(set(options) - EXPORT_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown export option(s) {', '.join(unknown)}; the options are: {', '.join(sorted(EXPORT_OPTIONS))}"
        )
    return f"{API}/projects/{seg(project_id)}/export", query({"format": format, **options})


def retried_import(exc: Exception) -> bool:
    """Whether a failed import is sent again (with the same Idempotency-Key): no answer, or a busy server."""
    return isinstance(exc, TransportError) or (isinstance(exc, BastionError) and exc.status in RETRY_STATUSES)


def import_report(response: httpx.Response, key: str) -> m.ImportReport:
    report = m.ImportReport.model_validate_json(response.content)
    report.idempotency_key = key
    return report


def patch_of(
    priority: int | None, predictions: list[Any] | None, meta: dict[str, Any] | None, clear_meta: bool
) -> dict[str, Any]:
    """A task patch from the methods' keywords: what is None is left as it is."""
    patch = drop_none(priority=priority, predictions=predictions, meta=meta)
    if clear_meta:
        if meta is not None:
            raise ValueError("give meta or clear_meta, not both")
        patch["meta"] = None
    return patch
