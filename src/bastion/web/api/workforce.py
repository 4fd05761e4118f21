"""/api/v1 workforce: the cross-project queue, conflicts, exclusions, walls explained, people's ties and skills."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from .approvals import ApprovalQuery, BreakGlassQuery
from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict, TaskOut
from ...services import qualification, queue, workforce

router = APIRouter(tags=["workforce"], responses=COMMON_ERRORS)
KIND = Literal["employer", "investor", "contractor", "advisor", "board", "family", "other"]


class ConflictIn(Strict):
    competitor: str = Field(min_length=1, max_length=60, description="The competing workspace's id.")
    cooling_off_days: float | None = Field(default=None, ge=0, le=36500, description="None: the wall never lifts.")


class HolderOut(BaseModel):
    holder: str = Field(description="The declaring workspace's id, or group:<id>.")
    withdrawal_effective_at: int | None = Field(description="A scheduled withdrawal of this holder (epoch ms).")


class ConflictOut(BaseModel):
    competitor: str
    cooling_off_ms: int | None
    source: str
    since: int
    lifts_at: int | None = Field(description="Every holder has withdrawn: the wall falls at this instant.")
    holders: list[HolderOut]


class WithdrawalOut(BaseModel):
    workspace: str
    competitor: str
    holder: str
    effective_at: int = Field(description="When this holder's declaration stops holding (epoch ms).")
    other_holders: list[str] = Field(description="Who else holds the wall up (it stands while any does).")


class ConflictAdded(BaseModel):
    workspace: str
    competitor: str
    added: bool = Field(description="False when this workspace held the wall already (nothing changed).")
    cooling_off_ms: int | None


class ExclusionAdded(BaseModel):
    released_leases: int = Field(description="Open leases of the people it excludes, ended now.")


class GroupCreated(BaseModel):
    id: str


class GroupMemberAdded(BaseModel):
    edges_added: int = Field(description="Walls the workspace now has with the group's other members.")


class GroupMemberRemoved(BaseModel):
    group: str
    workspace: str
    withdrawn: list[dict[str, Any]] = Field(
        description="The walls withdrawn: each competitor with the withdrawal's holder, effective_at and other_holders."
    )


class AffiliationAdded(BaseModel):
    id: str
    released_leases: int


class SkillGranted(BaseModel):
    skill: str
    level: int


class ExclusionIn(Strict):
    org: str = Field(min_length=1, max_length=200)
    kind: KIND | None = Field(default=None, description="Only this kind of tie; none: any.")


class ExclusionOut(BaseModel):
    org: str
    kind: str | None


class ExplanationOut(BaseModel):
    person: str
    email: str
    workspace_id: str
    member_role: str | None
    allowed: bool
    walls_allow: bool
    reasons: list[dict[str, Any]]
    lifted: list[str]


class GroupIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    cooling_off_days: float | None = Field(default=None, ge=0, le=36500)


class GroupMemberIn(Strict):
    workspace_id: str = Field(min_length=1, max_length=60)


class AffiliationIn(Strict):
    org: str = Field(min_length=1, max_length=200)
    kind: KIND
    since: int | None = Field(default=None, description="Epoch ms.")
    until: int | None = Field(default=None, description="Epoch ms.")


class AffiliationOut(BaseModel):
    id: str
    org: str
    kind: str
    since: int | None
    until: int | None


class HistoryIn(Strict):
    workspace_id: str = Field(min_length=1, max_length=60)
    source: Literal["declared", "prior"]
    approved_by: str | None = Field(
        default=None, max_length=200, description="Declared sides: who at the client approved."
    )
    since: int | None = None
    until: int | None = None


class HistoryOut(BaseModel):
    workspace_id: str
    first_at: int
    last_at: int
    source: str
    approved_by: str | None


class SkillIn(Strict):
    skill: str = Field(min_length=1, max_length=110, description="Like 'history:3'.")


class SkillOut(BaseModel):
    skill: str
    level: int
    source: str
    granted_at: int


class QualificationResultOut(BaseModel):
    user_id: str
    email: str
    correct: int
    total: int
    passed: bool
    taken_at: int
    retake_after: int | None


@router.post(
    "/queue/next", response_model=TaskOut, responses={204: {"description": "No task is left for you in any project."}}
)
def next_any(ctx: Ctx):
    """Your next task across every project you may work on (skills, walls, caps and priority applied)."""
    task = queue.next_any(ctx)
    return Response(status_code=204) if task is None else to_json(task)


@router.get("/workspaces/{workspace_id}/conflicts", response_model=list[ConflictOut])
def list_conflicts(workspace_id: str, ctx: Ctx):
    """The workspaces this one conflicts with (owners, managers, auditors)."""
    return to_json(workforce.list_conflicts(ctx, workspace_id))


@router.post(
    "/workspaces/{workspace_id}/conflicts", response_model=ConflictAdded, status_code=201, responses=error_docs(409)
)
def add_conflict(workspace_id: str, body: ConflictIn, ctx: Ctx):
    """Declare a competitor (owners): nobody who worked for one may see the other's data."""
    added = workforce.add_conflict(ctx, workspace_id, body.competitor, cooling_off_days=body.cooling_off_days)
    return created(added, f"/workspaces/{workspace_id}/conflicts/{quote(body.competitor, safe='')}")


@router.delete(
    "/workspaces/{workspace_id}/conflicts/{competitor_id}", response_model=WithdrawalOut, responses=error_docs(409)
)
def remove_conflict(
    workspace_id: str, competitor_id: str, ctx: Ctx, approval: ApprovalQuery = None, break_glass: BreakGlassQuery = None
):
    """Withdraw this workspace's declaration (owners, two-person approval): the wall falls after the waiting
    period, unless another holder keeps it. A wall the other side or a sector group holds answers 403."""
    return to_json(
        workforce.remove_conflict(ctx, workspace_id, competitor_id, approval=approval, break_glass=break_glass)
    )


@router.post(
    "/workspaces/{workspace_id}/conflicts/{competitor_id}/consent",
    response_model=WithdrawalOut,
    responses=error_docs(409),
)
def consent_removal(workspace_id: str, competitor_id: str, ctx: Ctx):
    """Agree (owners of this side) to the competitor's scheduled withdrawal: it takes effect now."""
    return to_json(workforce.consent_removal(ctx, workspace_id, competitor_id))


@router.get("/workspaces/{workspace_id}/exclusions", response_model=list[ExclusionOut])
def list_exclusions(workspace_id: str, ctx: Ctx):
    return to_json(workforce.list_exclusions(ctx, workspace_id))


@router.post("/workspaces/{workspace_id}/exclusions", response_model=ExclusionAdded, status_code=201)
def add_exclusion(workspace_id: str, body: ExclusionIn, ctx: Ctx):
    """Exclude everyone tied to an organisation (owners); their open leases end now."""
    released = workforce.add_exclusion(ctx, workspace_id, body.org, body.kind)
    query = urlencode({"org": body.org, **({"kind": body.kind} if body.kind else {})})
    return created({"released_leases": released}, f"/workspaces/{workspace_id}/exclusions?{query}")


@router.delete("/workspaces/{workspace_id}/exclusions", status_code=204, response_class=Response)
def remove_exclusion(
    workspace_id: str, ctx: Ctx, org: str = Query(..., max_length=200), kind: KIND | None = Query(None)
):
    workforce.remove_exclusion(ctx, workspace_id, org, kind)
    return Response(status_code=204)


@router.get("/workspaces/{workspace_id}/walls/explain", response_model=ExplanationOut)
def explain(workspace_id: str, ctx: Ctx, user: str = Query(..., max_length=320, description="User id or e-mail.")):
    """Why a person may or may not see this workspace's data: which edge, which history, since when."""
    return to_json(workforce.explain(ctx, user, workspace_id))


@router.post("/conflict-groups", response_model=GroupCreated, status_code=201, responses=error_docs(409))
def create_group(body: GroupIn, ctx: Ctx):
    """A sector group of competing workspaces (platform admins)."""
    group_id = workforce.create_group(ctx, body.name, cooling_off_days=body.cooling_off_days)
    return created({"id": group_id}, f"/conflict-groups/{group_id}")


@router.post(
    "/conflict-groups/{group_id}/members", response_model=GroupMemberAdded, status_code=201, responses=error_docs(409)
)
def add_group_member(group_id: str, body: GroupMemberIn, ctx: Ctx):
    edges = workforce.add_to_group(ctx, group_id, body.workspace_id)
    return created(
        {"edges_added": edges},
        f"/conflict-groups/{quote(group_id, safe='')}/members/{quote(body.workspace_id, safe='')}",
    )


@router.delete("/conflict-groups/{group_id}/members/{workspace_id}", response_model=GroupMemberRemoved)
def remove_group_member(
    group_id: str, workspace_id: str, ctx: Ctx, approval: ApprovalQuery = None, break_glass: BreakGlassQuery = None
):
    """Take a workspace out of a sector group (platform admins, two-person approval among admins): its walls
    with the other members fall after the waiting period."""
    return to_json(workforce.remove_from_group(ctx, group_id, workspace_id, approval=approval, break_glass=break_glass))


@router.delete("/conflict-groups/{group_id}", status_code=204, response_class=Response, responses=error_docs(409))
def delete_group(group_id: str, ctx: Ctx):
    """Delete an empty sector group (platform admins)."""
    workforce.delete_group(ctx, group_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/affiliations", response_model=list[AffiliationOut])
def list_affiliations(user_id: str, ctx: Ctx):
    return to_json(workforce.list_affiliations(ctx, user_id))


@router.post("/users/{user_id}/affiliations", response_model=AffiliationAdded, status_code=201)
def add_affiliation(user_id: str, body: AffiliationIn, ctx: Ctx):
    """Record a tie (yourself, or anyone for platform admins); excluding workspaces lose the person at once."""
    added = workforce.add_affiliation(ctx, user_id, body.org, body.kind, since=body.since, until=body.until)
    return created(added, f"/users/{quote(user_id, safe='')}/affiliations/{added['id']}")


@router.get("/users/{user_id}/history", response_model=list[HistoryOut])
def list_history(user_id: str, ctx: Ctx):
    """The workspaces whose data a person has seen (or was bound to)."""
    return to_json(workforce.history(ctx, user_id))


@router.post("/users/{user_id}/history", status_code=204, response_class=Response, responses=error_docs(409))
def add_history(user_id: str, body: HistoryIn, ctx: Ctx):
    """Declare a side (with the client's approval) or record prior employment (platform admins)."""
    if body.source == "declared":
        workforce.declare_side(ctx, user_id, body.workspace_id, approved_by=body.approved_by or "")
    else:
        workforce.record_prior_employment(ctx, user_id, body.workspace_id, since=body.since, until=body.until)
    return Response(status_code=204)


@router.get("/users/{user_id}/skills", response_model=list[SkillOut])
def list_skills(user_id: str, ctx: Ctx):
    return to_json(workforce.list_skills(ctx, user_id))


@router.post("/users/{user_id}/skills", response_model=SkillGranted, status_code=201)
def grant_skill(user_id: str, body: SkillIn, ctx: Ctx):
    """Grant a skill at a level (platform admins)."""
    granted = workforce.grant_skill(ctx, user_id, body.skill)
    return created(granted, f"/users/{quote(user_id, safe='')}/skills/{quote(granted['skill'], safe='')}")


@router.delete("/users/{user_id}/skills/{skill}", status_code=204, response_class=Response)
def revoke_skill(user_id: str, skill: str, ctx: Ctx):
    workforce.revoke_skill(ctx, user_id, skill)
    return Response(status_code=204)


@router.get("/projects/{project_id}/qualification/results", response_model=list[QualificationResultOut])
def qualification_results(project_id: str, ctx: Ctx):
    """A qualification test's results: all for managers, your own otherwise."""
    return to_json(qualification.results(ctx, project_id))
