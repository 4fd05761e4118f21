"""Projects: a labelling config plus queue settings, inside one workspace."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .credentials import MAX_REQUIRED, CredentialRequirement
from .errors import InvalidInput
from .validation import describe_validation_error, validation_problems

_SKILL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}(:[0-9]{1,2})?$")


def parse_skill(text: str) -> tuple[str, int]:
    """'law.contracts:2' -> ('law.contracts', 2); a bare name means level 1."""
    if not isinstance(text, str) or not _SKILL.match(text):
        raise ValueError(f"{text!r} is not a skill like 'history:3' (lower-case name, optional level 0-10)")
    name, _, level = text.partition(":")
    value = int(level) if level else 1
    if value > 10:
        raise ValueError(f"{text!r}: levels go from 0 to 10")
    return name, value


class SkillRequirement(BaseModel):
    """Skills a person needs to work on a project: every one of ``all``, at least one of ``any``."""

    model_config = ConfigDict(extra="forbid")

    all: list[str] = Field(default_factory=list, max_length=20)
    any: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("all", "any")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_skill(item)
        return value

    def met_by(self, held: dict[str, int]) -> bool:
        def has(text: str) -> bool:
            name, level = parse_skill(text)
            return held.get(name, -1) >= level

        return all(has(s) for s in self.all) and (not self.any or any(has(s) for s in self.any))


class Qualification(BaseModel):
    """This project is a qualification test: its gold tasks grade people, passing grants a skill."""

    model_config = ConfigDict(extra="forbid")

    grants: str = Field(description="The skill granted on passing, like 'history:3'.")
    pass_score: float = Field(default=0.8, gt=0, le=1, description="Share of gold answers to get right.")
    retake_after_days: int = Field(default=7, ge=0, le=365, description="Wait after failing before a retake.")

    @field_validator("grants")
    @classmethod
    def _grants(cls, value: str) -> str:
        parse_skill(value)
        return value


class QualitySettings(BaseModel):
    """Gold tasks, feedback, auto-pause and review (docs/quality.md)."""

    model_config = ConfigDict(extra="forbid")

    gold_rate: float = Field(default=0.0, ge=0, le=1, description="Share of served tasks that are gold tasks.")
    gold_feedback: bool = Field(default=False, description="Show the expected answer after a gold task.")
    pause_below: float | None = Field(
        default=None, ge=0, le=1, description="Pause people whose gold accuracy falls below this."
    )
    pause_after: int = Field(default=10, ge=1, le=10_000, description="Gold answers before the pause rule applies.")
    review: Literal["none", "sample", "all"] = Field(default="none", description="Which annotations are reviewed.")
    review_fraction: float = Field(default=0.1, gt=0, le=1, description="Share reviewed when review is 'sample'.")


class PrelabelSetting(BaseModel):
    """A model pre-labels the project's tasks (docs/prelabel.md): which endpoint of the workspace, which
    model (the endpoint's default when None), the system prompt's template (the task type's when None),
    and whether each import is followed by a pre-label job."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(pattern=r"^mep_[0-9a-f]{8,64}$", description="A model endpoint of the workspace.")
    model: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str | None = Field(default=None, min_length=1, max_length=8000)
    on_import: bool = False


class ProjectSettings(BaseModel):
    """Queue, routing and need-to-know settings (clear metadata; the config itself is sealed)."""

    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(default=1, ge=1, le=100, description="Distinct annotators per task.")
    lease_seconds: int = Field(
        default=1800, ge=10, le=7 * 24 * 3600, description="How long a leased task stays reserved."
    )
    idle_after_s: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="The labelling page stops counting active time after this many seconds without input.",
    )
    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher is served first.")
    required_skills: SkillRequirement = Field(default_factory=SkillRequirement)
    max_tasks_per_person: int | None = Field(
        default=None, ge=1, description="Need-to-know cap: tasks one person may ever be shown."
    )
    max_tasks_per_day: int | None = Field(
        default=None, ge=1, description="Need-to-know cap: tasks one person may be shown in 24 hours."
    )
    qualification: Qualification | None = None
    quality: QualitySettings = Field(default_factory=QualitySettings)
    prelabel: PrelabelSetting | None = None
    required_credentials: list[CredentialRequirement] = Field(
        default_factory=list,
        max_length=MAX_REQUIRED,
        description="Credentials a person needs, valid and in scope, to be routed tasks (docs/workforce.md).",
    )

    @field_validator("required_credentials", mode="before")
    @classmethod
    def _no_credentials(cls, value: Any) -> Any:
        return [] if value is None else value


def parse_settings(raw: Any, base: ProjectSettings | None = None) -> ProjectSettings:
    if raw is None:
        return base or ProjectSettings()
    if not isinstance(raw, dict):
        raise InvalidInput("settings: must be a JSON object")
    merged = {**(base.model_dump(exclude_none=True) if base else {}), **raw}
    if base is not None and isinstance(raw.get("quality"), dict):  # a partial change keeps the rest
        merged["quality"] = {**base.quality.model_dump(), **raw["quality"]}
    try:
        return ProjectSettings.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput(
            describe_validation_error(exc, "settings"), details=validation_problems(exc, "settings")
        ) from exc


def check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what}: required, a non-empty string")
    text: str = name.strip()
    if len(text) > 200:
        raise InvalidInput(f"{what}: at most 200 characters")
    return text


@dataclass(frozen=True, slots=True)
class Counts:
    tasks: int = 0
    done: int = 0
    annotations: int = 0
    skips: int = 0

    @property
    def remaining(self) -> int:
        return max(self.tasks - self.done, 0)


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    workspace_id: str
    name: str
    task_type: str
    config: dict[str, Any]
    settings: ProjectSettings
    key_id: str
    created_at: int
    updated_at: int
    counts: Counts = field(default_factory=Counts)

    @property
    def overlap(self) -> int:
        return self.settings.overlap


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """A project's metadata — what role alone decides, walls aside: no config, no settings.

    Pages that list several workspaces show these, so listing never binds anyone to a
    client; the config (labels, instructions, fields) is content and passes the wall.
    """

    id: str
    workspace_id: str
    name: str
    task_type: str
    counts: Counts = field(default_factory=Counts)
