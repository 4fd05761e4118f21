"""``--json``: what a command prints is what the API answers for the same thing, field for field.

The CLI and the web layer are peers (neither imports the other), so the shapes are written
here again; tests/cli/test_json.py validates each against the API's response model, so a field
added to the API and not here fails a test.
"""

from __future__ import annotations

from typing import Any

from ..domain.projects import Project
from ..domain.users import ApiToken, User
from ..domain.workspaces import Member, Workspace


def user(u: User) -> dict[str, Any]:
    """A person, as ``GET /users`` answers them."""
    return {
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "is_admin": u.is_admin,
        "is_active": u.is_active,
        "created_at": u.created_at,
    }


def token(t: ApiToken) -> dict[str, Any]:
    """An API token without its secret, as ``GET /tokens`` answers it."""
    return {
        "id": t.id,
        "name": t.name,
        "scope": t.scope,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    }


def workspace(w: Workspace) -> dict[str, Any]:
    """A workspace, as ``GET /workspaces`` answers it."""
    return {"id": w.id, "name": w.name, "created_at": w.created_at, "role": w.role.value if w.role else None}


def member(m: Member) -> dict[str, Any]:
    """A workspace member, as ``POST /workspaces/{id}/members`` answers them."""
    return {"user_id": m.user_id, "email": m.email, "name": m.name, "role": m.role.value, "created_at": m.created_at}


def project(p: Project) -> dict[str, Any]:
    """A project with its config, settings and counts, as ``GET /projects/{id}`` answers it."""
    c = p.counts
    return {
        "id": p.id,
        "workspace_id": p.workspace_id,
        "name": p.name,
        "task_type": p.task_type,
        "config": p.config,
        "settings": p.settings.model_dump(mode="json"),
        "counts": {
            "tasks": c.tasks,
            "done": c.done,
            "remaining": c.remaining,
            "annotations": c.annotations,
            "skips": c.skips,
        },
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }
