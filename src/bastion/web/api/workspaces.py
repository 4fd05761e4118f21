"""/api/v1/workspaces: workspaces and their members."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from .approvals import ApprovalQuery, BreakGlassQuery
from .common import COMMON_ERRORS, Ctx, created, error_docs
from .models import MemberIn, MemberOut, WorkspaceIn, WorkspaceOut
from ...domain.workspaces import Member, Workspace
from ...services import workspaces as svc

router = APIRouter(tags=["workspaces"], responses=COMMON_ERRORS)


def _ws(w: Workspace) -> WorkspaceOut:
    return WorkspaceOut(id=w.id, name=w.name, created_at=w.created_at, role=w.role.value if w.role else None)


def _member(m: Member) -> MemberOut:
    return MemberOut(user_id=m.user_id, email=m.email, name=m.name, role=m.role.value, created_at=m.created_at)


@router.get("/workspaces", response_model=list[WorkspaceOut])
def list_workspaces(ctx: Ctx):
    """Your workspaces (platform admins: all)."""
    return [_ws(w) for w in svc.list_workspaces(ctx)]


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201, responses=error_docs(409))
def create_workspace(body: WorkspaceIn, ctx: Ctx):
    """Create a workspace (platform admins)."""
    workspace = _ws(svc.create_workspace(ctx, body.name, owner=body.owner))
    return created(workspace.model_dump(), f"/workspaces/{workspace.id}")


@router.get("/workspaces/{workspace_id}", response_model=WorkspaceOut)
def get_workspace(workspace_id: str, ctx: Ctx):
    return _ws(svc.get_workspace(ctx, workspace_id))


@router.delete("/workspaces/{workspace_id}", status_code=204, response_class=Response)
def delete_workspace(workspace_id: str, ctx: Ctx, approval: ApprovalQuery = None, break_glass: BreakGlassQuery = None):
    """Delete a workspace: its data keys are destroyed (crypto-shredding), then its rows (two-person approval)."""
    svc.delete_workspace(ctx, workspace_id, approval=approval, break_glass=break_glass)
    return Response(status_code=204)


@router.get("/workspaces/{workspace_id}/members", response_model=list[MemberOut])
def list_members(workspace_id: str, ctx: Ctx):
    return [_member(m) for m in svc.list_members(ctx, workspace_id)]


@router.post("/workspaces/{workspace_id}/members", response_model=MemberOut, status_code=201, responses=error_docs(409))
def add_member(workspace_id: str, body: MemberIn, ctx: Ctx):
    """Add a person with a role (or change a member's role)."""
    member = _member(
        svc.add_member(ctx, workspace_id, body.user, body.role, approval=body.approval, break_glass=body.break_glass)
    )
    return created(member.model_dump(), f"/workspaces/{workspace_id}/members/{member.user_id}")


@router.delete(
    "/workspaces/{workspace_id}/members/{user_id}", status_code=204, response_class=Response, responses=error_docs(409)
)
def remove_member(workspace_id: str, user_id: str, ctx: Ctx):
    svc.remove_member(ctx, workspace_id, user_id)
    return Response(status_code=204)
