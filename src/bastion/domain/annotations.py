"""Annotations (one person's result for one task) and leases (a task reserved for a person)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Annotation:
    id: str
    task_id: str
    project_id: str
    workspace_id: str
    user_id: str
    result: dict
    lead_time_ms: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A task handed to a person until ``expires_at`` (epoch ms)."""

    assignment_id: str
    task_id: str
    project_id: str
    user_id: str
    expires_at: int
