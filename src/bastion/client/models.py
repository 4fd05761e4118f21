"""What the API answers, as typed models (pydantic).

Each model names the fields the API documents (docs/api.md) and keeps any other field
the server adds (``extra="allow"``), so a newer server does not break an older client.
Timestamps are Unix epoch milliseconds, as the API sends them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class User(Model):
    id: str
    email: str
    name: str = ""
    is_admin: bool = False
    is_active: bool = True
    created_at: int


class Workspace(Model):
    id: str
    name: str
    created_at: int
    role: str | None = None


class Me(Model):
    user: User
    workspaces: list[Workspace]


class Member(Model):
    user_id: str
    email: str
    name: str
    role: str
    created_at: int


class ProjectCounts(Model):
    tasks: int
    done: int
    remaining: int
    annotations: int
    skips: int


class Project(Model):
    id: str
    workspace_id: str
    name: str
    task_type: str
    config: dict[str, Any]
    settings: dict[str, Any] = Field(description="overlap, lease_seconds, priority, quality, … (docs/api.md)")
    counts: ProjectCounts
    created_at: int
    updated_at: int


class LabelStudioProject(Model):
    """A project made from a Label Studio labelling config, and what of the config could not be converted."""

    project: Project
    unconverted: list[str]


class Lease(Model):
    expires_at: int


class Task(Model):
    id: str
    project_id: str
    data: dict[str, Any]
    predictions: list[Any] = Field(default_factory=list)
    external_id: str | None = None
    meta: dict[str, Any] | None = None
    priority: int | None = None
    annotation_count: int | None = None
    done: bool | None = None
    created_at: int | None = None
    lease: Lease | None = None


class TaskPage(Model):
    items: list[Task]
    next_cursor: str | None = None


class Annotation(Model):
    id: str
    task_id: str
    project_id: str
    user_id: str
    result: Any
    lead_time_ms: int | None = None
    created_at: int


class SubmittedAndNext(Model):
    annotation: Annotation
    next: Task | None = None


class Review(Model):
    id: str
    annotation_id: str
    decision: str
    comment: str | None = None
    correction: Any = None
    reviewer_id: str
    created_at: int


class ReviewTask(Model):
    """An annotation leased for review, with its task, the task's other annotations and the annotator's record."""

    annotation: Annotation
    task: dict[str, Any]
    other_annotations: list[dict[str, Any]]
    annotator: dict[str, Any]
    lease: dict[str, int]


class RejectedLine(Model):
    line: int
    error: str


class ImportReport(Model):
    imported: int
    duplicates: int
    rejected_count: int
    rejected: list[RejectedLine]
    import_id: str | None = None
    idempotency_key: str | None = Field(
        default=None, description="The Idempotency-Key the import was sent with: send it again to get this report."
    )


class HeldTask(Model):
    task_id: str
    created_at: int
    reasons: list[str]
    findings: int


class StoredFile(Model):
    id: str
    media_type: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    reused: bool = False


class ExportInfo(Model):
    """An export written to a file: its id (for its signed manifest), format, media type, size and path."""

    export_id: str | None
    format: str
    media_type: str
    size_bytes: int
    path: str


class TaskUpdated(Model):
    """A changed task and the fields changed."""

    id: str
    fields: list[str]


class TasksUpdated(Model):
    """How many tasks a filter changed, and which fields."""

    updated: int
    fields: list[str]


class TasksDeleted(Model):
    """What a delete took with it."""

    tasks: int
    annotations: int
    reviews: int
    assignments: int
    files: int


class TaskAssigned(Model):
    """A task given to a member; ``expires_at``: when the assignment returns to the pool if never opened
    (None when it was theirs already)."""

    id: str
    user: str
    user_id: str
    expires_at: int | None = None


class TaskUnassigned(Model):
    id: str
    released: int


class JobProgress(Model):
    done: int
    total: int | None = None


class Job(Model):
    """Long work run by the jobs runner: its state, progress, attempts and last error (docs/jobs.md)."""

    id: str
    workspace_id: str
    kind: str
    params: dict[str, Any]
    state: str = Field(description="queued, running, succeeded, failed or cancelled")
    attempts: int
    progress: JobProgress
    last_error: str | None = None
    cancel_requested: bool = False
    created_at: int
    finished_at: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


class Event(Model):
    """One entry of a workspace's event feed: ids and counts of what changed, never content."""

    seq: int
    id: str
    kind: str
    subject: str | None = None
    data: dict[str, Any]
    created_at: int


class Webhook(Model):
    """An endpoint the workspace's events are POSTed to; ``secret`` only in the answer that made it."""

    id: str
    workspace_id: str
    url: str
    events: list[str]
    allowed_hosts: list[str]
    created_at: int
    secret: str | None = None


class Delivery(Model):
    """One event's delivery to a webhook, with its attempts."""

    id: str
    webhook_id: str
    event_seq: int
    state: str
    attempts: int
    last_status: int | None = None
    last_error: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)


class Progress(Model):
    """Your progress in a project."""

    done: int
    done_last_day: int
    left: int
    paused: str | None = None


class OwnAnnotation(Model):
    """One of your annotations, with the task's data as you were shown it and its review state."""

    id: str
    task_id: str
    data: dict[str, Any]
    result: Any
    summary: str = ""
    review_status: str
    review: dict[str, Any] | None = None
    version: int
    created_at: int
    can_change: bool


class TakenBack(Model):
    """An undone annotation: the task, leased to you again, and the result taken back."""

    task: Task
    previous: Any
