"""/api/v1 two-person approval: requests, decisions, the workspace's setting, and your alerts.

The operations that need an approval take it as ``approval`` (a query parameter,
or a body field where the route has a body) or ``break_glass`` (the reason; every
owner is alerted): see services/approvals.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict
from ...services import alerts, approvals

router = APIRouter(tags=["approvals"], responses=COMMON_ERRORS)

ApprovalQuery = Annotated[str | None, Query(max_length=60, description="A two-person approval's id (apr_…) to use.")]
BreakGlassQuery = Annotated[
    str | None,
    Query(
        max_length=500, description="Break-glass: do it without an approval, for this reason (every owner is alerted)."
    ),
]
if TYPE_CHECKING:
    KIND = str  # mypy cannot read a Literal built at run time
else:
    KIND = Literal[tuple(approvals.KINDS)]


class ApprovalIn(Strict):
    kind: KIND = Field(description="The operation: " + "; ".join(f"{k}: {v[0]}" for k, v in approvals.KINDS.items()))
    params: dict[str, str] = Field(
        default_factory=dict, max_length=4, description='The ids it is for, e.g. {"task": "tsk_…"}.'
    )
    reason: str = Field(min_length=1, max_length=500, description="Why (written into the audit log).")


class DecisionIn(Strict):
    note: str | None = Field(default=None, min_length=1, max_length=500)


class ApprovalOut(BaseModel):
    id: str
    workspace_id: str
    kind: str
    params: dict[str, str]
    reason: str
    authority: str
    state: str
    requested_by: str
    requested_at: int
    expires_at: int
    decided_by: str | None
    decided_at: int | None
    decision_note: str | None
    used_at: int | None


class SettingIn(Strict):
    enabled: bool
    approval: str | None = Field(
        default=None, max_length=60, description="Turning it off: an approved approval.disable request."
    )


class SettingOut(BaseModel):
    workspace_id: str
    enabled: bool


class AlertOut(BaseModel):
    id: str
    workspace_id: str
    kind: str
    message: str
    subject: str | None
    created_at: int
    read_at: int | None


class AlertsReadIn(Strict):
    ids: list[str] | None = Field(default=None, max_length=200, description="These alerts; none: all of yours.")


@router.post("/workspaces/{workspace_id}/approvals", response_model=ApprovalOut, status_code=201)
def request_approval(workspace_id: str, body: ApprovalIn, ctx: Ctx):
    """Ask a second owner (platform admin, for their operations) to approve one operation."""
    approval = approvals.request(ctx, workspace_id, body.kind, body.params, body.reason)
    return created(approval, f"/approvals/{approval['id']}")


@router.get("/workspaces/{workspace_id}/approvals", response_model=list[ApprovalOut])
def list_approvals(
    workspace_id: str,
    ctx: Ctx,
    state: Literal["pending", "approved", "refused", "used", "expired"] | None = Query(None),
):
    """The workspace's requests, newest first (owners)."""
    return to_json(approvals.list_approvals(ctx, workspace_id, state=state))


@router.get("/approvals/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, ctx: Ctx):
    return to_json(approvals.get(ctx, approval_id))


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut, responses=error_docs(409))
def approve(approval_id: str, ctx: Ctx, body: DecisionIn | None = None):
    """Approve another person's request (same authority, not the requester)."""
    return to_json(approvals.decide(ctx, approval_id, approve=True, note=body.note if body else None))


@router.post("/approvals/{approval_id}/refuse", response_model=ApprovalOut, responses=error_docs(409))
def refuse(approval_id: str, ctx: Ctx, body: DecisionIn | None = None):
    return to_json(approvals.decide(ctx, approval_id, approve=False, note=body.note if body else None))


@router.get("/workspaces/{workspace_id}/two-person-approval", response_model=SettingOut)
def get_setting(workspace_id: str, ctx: Ctx):
    return to_json(approvals.setting(ctx, workspace_id))


@router.put("/workspaces/{workspace_id}/two-person-approval", response_model=SettingOut)
def put_setting(workspace_id: str, body: SettingIn, ctx: Ctx):
    """Turn two-person approval on (any owner) or off (an approved approval.disable request)."""
    return to_json(approvals.set_required(ctx, workspace_id, body.enabled, approval_id=body.approval))


@router.get("/me/alerts", response_model=list[AlertOut])
def my_alerts(
    ctx: Ctx, unread: bool = Query(False, description="Only unread ones."), limit: int = Query(100, ge=1, le=200)
):
    """Your alerts, newest first: break-glass uses in your workspaces, requests for you to decide, decisions."""
    return to_json(alerts.list_alerts(ctx, unread_only=unread, limit=limit))


class AlertsMarked(BaseModel):
    marked: int = Field(description="How many of your alerts were marked read.")


@router.post("/me/alerts/read", response_model=AlertsMarked)
def read_alerts(ctx: Ctx, body: AlertsReadIn | None = None):
    """Mark your alerts read (these ids, or all)."""
    return to_json({"marked": alerts.mark_read(ctx, body.ids if body else None)})
