"""/api/v1 credentials: people's NDAs, clearances and certificates, for one workspace or every workspace
(docs/workforce.md, "Credentials").

A workspace's holders of ``people.manage`` (owners, managers, workforce managers) record and revoke
credentials scoped to it for its members; ``people.read`` lists those that count there. Platform admins
record deployment-wide ones (``POST /credentials``) and see anyone's (``GET /users/{id}/credentials``).
Nobody records or revokes their own. A project's ``required_credentials`` setting refuses routing
without a valid one (403 ``credential_required``).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, created, error_docs
from .models import Strict
from ...services import credentials

router = APIRouter(tags=["credentials"], responses=COMMON_ERRORS)


class CredentialIn(Strict):
    person: str = Field(min_length=1, max_length=320, description="The person's user id or e-mail address.")
    kind: str = Field(max_length=32, description="nda, clearance, certificate or another lower-case word.")
    name: str = Field(min_length=1, max_length=200, description="What it is: 'Acme NDA 2026', 'SC clearance'.")
    issuer: str = Field(min_length=1, max_length=200, description="Who issued it.")
    issued_at: int | None = Field(default=None, ge=0, description="From when it is valid (epoch ms); none: now.")
    expires_at: int | None = Field(default=None, ge=0, description="When it expires (epoch ms); none: never.")
    document: str | None = Field(
        default=None, max_length=500, description="A reference to the signed document (an id or a link), not the file."
    )


class CredentialOut(BaseModel):
    id: str
    user_id: str
    email: str | None = None
    workspace_id: str | None = Field(description="The workspace it counts in; null: every workspace.")
    scope: Literal["workspace", "all"]
    kind: str
    name: str
    issuer: str
    issued_at: int | None
    expires_at: int | None
    revoked_at: int | None
    document: str | None
    state: Literal["valid", "expired", "revoked", "not_yet_valid"]
    created_at: int


class CredentialRevoked(CredentialOut):
    released_leases: int = Field(description="Leases of the person's that ended with it.")


def _add(ctx, body: CredentialIn, workspace_id: str | None) -> dict:
    return credentials.add_credential(
        ctx,
        body.person,
        kind=body.kind,
        name=body.name,
        issuer=body.issuer,
        workspace_id=workspace_id,
        issued_at=body.issued_at,
        expires_at=body.expires_at,
        document=body.document,
    )


@router.get("/workspaces/{workspace_id}/credentials", response_model=list[CredentialOut])
def list_workspace_credentials(
    workspace_id: str,
    ctx: Ctx,
    person: str | None = Query(default=None, max_length=320, description="Only this member's (id or e-mail)."),
):
    """The credentials that count in the workspace (its own and the deployment-wide ones) of its members,
    newest first (``people.read``)."""
    return credentials.list_credentials(ctx, workspace_id, person)


@router.post("/workspaces/{workspace_id}/credentials", response_model=CredentialOut, status_code=201)
def add_workspace_credential(workspace_id: str, body: CredentialIn, ctx: Ctx):
    """Record a member's credential for this workspace (``people.manage``; never your own)."""
    made = _add(ctx, body, workspace_id)
    return created(made, f"/workspaces/{quote(workspace_id, safe='')}/credentials?person={made['user_id']}")


@router.post("/credentials", response_model=CredentialOut, status_code=201)
def add_deployment_credential(body: CredentialIn, ctx: Ctx):
    """Record a person's credential for every workspace (platform admins)."""
    made = _add(ctx, body, None)
    return created(made, f"/users/{made['user_id']}/credentials")


@router.post("/credentials/{credential_id}/revoke", response_model=CredentialRevoked, responses=error_docs(409))
def revoke_credential(credential_id: str, ctx: Ctx):
    """Revoke a credential now: projects requiring it refuse the person at once, and their leases there end
    (``people.manage`` in its workspace; platform admins for a deployment-wide one; never your own)."""
    return credentials.revoke_credential(ctx, credential_id)


@router.get("/me/credentials", response_model=list[CredentialOut])
def list_mine(ctx: Ctx):
    """Your own credentials, every scope."""
    return credentials.mine(ctx)


@router.get("/users/{user_id}/credentials", response_model=list[CredentialOut])
def list_person(user_id: str, ctx: Ctx):
    """Every credential of a person, every scope (platform admins; yourself)."""
    return credentials.person_credentials(ctx, user_id)
