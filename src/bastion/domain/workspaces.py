"""Workspaces (tenants), their members and roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"
    AUDITOR = "auditor"
    # Sees people's time, pay and credentials across the workspaces they manage, never task content.
    WORKFORCE_MANAGER = "workforce_manager"


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    name: str
    created_at: int
    role: Role | None = None  # the caller's role, when listed for a caller


@dataclass(frozen=True, slots=True)
class Member:
    workspace_id: str
    user_id: str
    email: str
    name: str
    role: Role
    created_at: int
