"""Request and response bodies of the JSON API (pydantic; they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from ...domain.tasks import MAX_EXTERNAL_ID
from ...domain.text import MESSAGE, find_nul


class Strict(BaseModel):
    """Every request body: unknown keys refused, and no string in it — nested JSON included — holds NUL."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        where = find_nul(value)
        if where is not None:
            raise PydanticCustomError("nul_character", MESSAGE + (f" (at {where})" if where else ""))
        return value


class HealthOut(BaseModel):
    status: Literal["ok"]


class WorkspaceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    owner: str | None = Field(default=None, max_length=320, description="Owner's user id or e-mail; default: you.")


class WorkspaceOut(BaseModel):
    id: str
    name: str
    created_at: int
    role: str | None


class MemberIn(Strict):
    user: str = Field(min_length=1, max_length=320, description="User id or e-mail.")
    role: Literal["owner", "manager", "reviewer", "annotator", "auditor", "workforce_manager"]
    approval: str | None = Field(
        default=None, max_length=60, description="Adding someone tied to a competitor: a two-person approval's id."
    )
    break_glass: str | None = Field(
        default=None, max_length=500, description="…or the reason to do it without one (every owner is alerted)."
    )


class MemberOut(BaseModel):
    user_id: str
    email: str
    name: str
    role: str
    created_at: int


class SkillRequirementModel(Strict):
    all: list[str] = Field(default_factory=list, max_length=20, description="Skills like 'history:3', all required.")
    any: list[str] = Field(default_factory=list, max_length=20, description="At least one of these.")


class QualificationModel(Strict):
    grants: str = Field(description="Skill granted on passing, like 'history:3'.")
    pass_score: float = Field(default=0.8, gt=0, le=1)
    retake_after_days: int = Field(default=7, ge=0, le=365)


class QualitySettingsModel(Strict):
    gold_rate: float = Field(default=0.0, ge=0, le=1, description="Share of served tasks that are gold tasks.")
    gold_feedback: bool = False
    pause_below: float | None = Field(default=None, ge=0, le=1)
    pause_after: int = Field(default=10, ge=1, le=10_000)
    review: Literal["none", "sample", "all"] = "none"
    review_fraction: float = Field(default=0.1, gt=0, le=1)


class PrelabelSettingModel(Strict):
    endpoint: str = Field(max_length=100, description="A model endpoint of the project's workspace (mep_…).")
    model: str | None = Field(default=None, max_length=200, description="The model; default: the endpoint's.")
    prompt: str | None = Field(
        default=None, max_length=8000, description="The system prompt's template; default: the task type's."
    )
    on_import: bool = Field(default=False, description="Pre-label each import's tasks (a prelabel.run job).")


class CredentialRequirementModel(Strict):
    kind: str = Field(max_length=32, description="nda, clearance, certificate or another lower-case word.")
    name: str | None = Field(default=None, max_length=200, description="Only a credential of this name (any case).")


class ProjectSettingsIn(Strict):
    overlap: int | None = Field(default=None, ge=1, le=100)
    lease_seconds: int | None = Field(default=None, ge=10, le=7 * 24 * 3600)
    idle_after_s: int | None = Field(
        default=None, ge=5, le=3600, description="Seconds without input after which active time stops counting."
    )
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    required_skills: SkillRequirementModel | None = None
    max_tasks_per_person: int | None = Field(default=None, ge=1)
    max_tasks_per_day: int | None = Field(default=None, ge=1)
    qualification: QualificationModel | None = None
    quality: QualitySettingsModel | None = None
    prelabel: PrelabelSettingModel | None = Field(
        default=None, description="A model pre-labels the tasks (docs/prelabel.md); null removes it."
    )
    required_credentials: list[CredentialRequirementModel] | None = Field(
        default=None,
        max_length=10,
        description="Credentials a person needs, valid and in scope, to be routed tasks (docs/workforce.md); "
        "[] removes them.",
    )


class ProjectIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(description="Labelling config: {'type': 'classification', …}")
    settings: ProjectSettingsIn | None = None


class ProjectFromLabelStudioIn(Strict):
    """A project made from a Label Studio labelling config (docs/label-studio.md)."""

    name: str = Field(min_length=1, max_length=200)
    label_config: str = Field(
        min_length=1,
        max_length=1_000_000,
        description="The Label Studio labelling config, as XML (`<View>…</View>`).",
    )
    settings: ProjectSettingsIn | None = None


class ProjectPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    settings: ProjectSettingsIn | None = None


class CountsOut(BaseModel):
    tasks: int
    done: int
    remaining: int
    annotations: int
    skips: int


class ProjectSettingsOut(BaseModel):
    overlap: int
    lease_seconds: int
    idle_after_s: int = 60
    priority: int
    required_skills: SkillRequirementModel
    max_tasks_per_person: int | None
    max_tasks_per_day: int | None
    qualification: QualificationModel | None
    quality: QualitySettingsModel
    prelabel: PrelabelSettingModel | None = None
    required_credentials: list[CredentialRequirementModel] = Field(default_factory=list)


class ProjectOut(BaseModel):
    id: str
    workspace_id: str
    name: str
    task_type: str
    config: dict[str, Any]
    settings: ProjectSettingsOut
    counts: CountsOut
    created_at: int
    updated_at: int


class ProjectFromLabelStudioOut(BaseModel):
    project: ProjectOut
    unconverted: list[str] = Field(description="What of the labelling config could not be converted, named.")


class TaskLine(Strict):
    """One imported task: a line of JSON Lines, an element of a JSON array, a CSV or Parquet row.

    The shape ``domain/tasks.parse_item`` checks on the import's fast path (without building
    this model); ``tests/api/test_openapi_contract.py`` keeps the two in step.
    """

    data: dict[str, Any] = Field(description="The task's content, in the fields the project's task type reads.")
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_EXTERNAL_ID)] | int | None = Field(
        default=None,
        description="Your id for the task (an integer is taken as its text); importing it again is a duplicate.",
    )
    meta: dict[str, Any] | None = Field(default=None, description="Anything to keep with the task (not shown).")
    predictions: list[dict[str, Any]] | dict[str, Any] | None = Field(
        default=None,
        description="Pre-annotations: results in the project's task type's shape (one alone is a list of one).",
    )
    priority: int = Field(default=0, ge=-1000, le=1000, strict=True, description="Higher is served first.")
    gold: dict[str, Any] | None = Field(
        default=None,
        description="The known answer (a result): makes this a gold task, mixed into queues to measure accuracy.",
    )
    annotations: list[dict[str, Any]] | None = Field(
        default=None,
        description="Annotations made elsewhere, each with its author (a member's e-mail or user id, or an external "
        "handle like ext:vendor/17), result, created_at, lead_time_ms, was_cancelled and reviews "
        "(annotation.import; docs/import.md).",
    )
    # Bastion's lossless export writes these; an import ignores them (renewed or derived: docs/import.md).
    id: Any = Field(default=None, description="Ignored: the new task's id is its own.")
    project_id: Any = Field(default=None, description="Ignored.")
    annotation_count: Any = Field(default=None, description="Ignored: counted from the annotations.")
    done: Any = Field(default=None, description="Ignored: derived from the overlap.")
    created_at: Any = Field(default=None, description="Ignored: the time of the import.")
    split: Any = Field(default=None, description="Ignored.")
    aggregate: Any = Field(default=None, description="Ignored.")


class RejectedLine(BaseModel):
    line: int
    error: str


class ImportOut(BaseModel):
    imported: int
    duplicates: int
    rejected_count: int
    rejected: list[RejectedLine]
    import_id: str


class LeaseOut(BaseModel):
    expires_at: int


class TaskOut(BaseModel):
    id: str
    project_id: str
    data: dict[str, Any]
    predictions: list[Any]
    external_id: str | None = None
    meta: dict[str, Any] | None = None
    priority: int | None = None
    annotation_count: int | None = None
    done: bool | None = None
    created_at: int | None = None
    lease: LeaseOut | None = None


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class AnnotationIn(Strict):
    result: Any = Field(description="The answer, in the shape the project's task type defines.")
    lead_time_ms: int | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600 * 1000,
        description="Active time on the task (ms); at most how long your lease on it has lasted, plus 1000 ms "
        "for clock rounding (docs/workforce.md, 'Time').",
    )
    paste_count: int | None = Field(
        default=None, ge=0, le=100_000, description="Pastes into the answer's text fields (recorded, never refused)."
    )
    pasted_chars: int | None = Field(default=None, ge=0, le=100_000_000, description="Characters those pastes brought.")


class AnnotationOut(BaseModel):
    id: str
    task_id: str
    project_id: str
    user_id: str
    result: Any
    lead_time_ms: int | None
    created_at: int


class TokenIn(Strict):
    name: str = Field(default="", max_length=200)
    scope: Literal["full", "read"] = "full"


class TokenOut(BaseModel):
    id: str
    name: str
    scope: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret, shown only this once.")


class UserIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, min_length=10, max_length=1024)
    is_admin: bool = False


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    is_admin: bool
    is_active: bool
    created_at: int


class MeOut(BaseModel):
    user: UserOut
    workspaces: list[WorkspaceOut]


# -- tasks after import (services/task_changes.py, services/task_assignees.py) ---------------


class TaskPatch(Strict):
    """What may change after import, checked as at import; only the fields given change."""

    priority: int | None = Field(default=None, ge=-1000, le=1000, description="Higher is served first.")
    predictions: list[Any] | None = Field(
        default=None, description="Pre-annotations, each validated by the task type like at import ([] removes them)."
    )
    meta: dict[str, Any] | None = Field(default=None, description="Replaces the task's meta (null removes it).")


class TaskFilterIn(Strict):
    """Which of the project's tasks: every condition given must hold (at least one)."""

    ids: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    external_ids: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    priority_min: int | None = None
    priority_max: int | None = None
    has_annotations: bool | None = None
    gold: bool | None = None


class TasksPatch(Strict):
    filter: TaskFilterIn
    patch: TaskPatch


class TasksDelete(Strict):
    filter: TaskFilterIn


class TaskUpdatedOut(BaseModel):
    id: str
    fields: list[str]


class TasksUpdatedOut(BaseModel):
    updated: int
    fields: list[str]


class TasksDeletedOut(BaseModel):
    tasks: int
    annotations: int
    reviews: int
    assignments: int
    files: int


class AssigneeIn(Strict):
    user: str = Field(min_length=3, max_length=320, description="The e-mail of a member who works on tasks.")


class AssigneeOut(BaseModel):
    id: str
    user: str
    user_id: str
    expires_at: int | None


class UnassignedOut(BaseModel):
    id: str
    released: int
