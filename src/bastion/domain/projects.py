"""Projects: a labelling config plus queue settings, inside one workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidInput


class ProjectSettings(BaseModel):
    """Queue and quality settings (clear metadata; the config itself is sealed)."""

    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(default=1, ge=1, le=100, description="Distinct annotators per task.")
    lease_seconds: int = Field(
        default=1800, ge=10, le=7 * 24 * 3600, description="How long a leased task stays reserved."
    )
    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher is served first.")


def parse_settings(raw: Any, base: ProjectSettings | None = None) -> ProjectSettings:
    from ..tasktypes.base import describe_validation_error

    if raw is None:
        return base or ProjectSettings()
    if not isinstance(raw, dict):
        raise InvalidInput("settings: must be a JSON object")
    merged = {**(base.model_dump() if base else {}), **raw}
    try:
        return ProjectSettings.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, "settings")) from exc


def check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what}: required, a non-empty string")
    name = name.strip()
    if len(name) > 200:
        raise InvalidInput(f"{what}: at most 200 characters")
    return name


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
    config: dict
    settings: ProjectSettings
    key_id: str
    created_at: int
    updated_at: int
    counts: Counts = field(default_factory=Counts)

    @property
    def overlap(self) -> int:
        return self.settings.overlap
