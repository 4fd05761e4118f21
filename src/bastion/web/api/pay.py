"""/api/v1 pay: a workspace's currency, bonus and rates, and its people's statements (docs/workforce.md#pay).

``people.read`` lists and reads (owners, managers, workforce managers); the person paid reads their
own statements; ``people.manage`` sets rates and settings and makes, approves, locks and deletes
statements. Money is integer minor units (cents) of the workspace's currency. An approved or locked
statement refuses change (409 ``statement_locked``).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict
from ...services import pay

router = APIRouter(tags=["pay"], responses=COMMON_ERRORS)

INSTANT = Field(ge=0, lt=pay.MAX_INSTANT, description="Epoch milliseconds (UTC).")


class SettingsIn(Strict):
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217, e.g. EUR.")
    bonus_threshold: float | None = Field(default=None, ge=0, le=1, description="Gold accuracy for the bonus.")
    bonus_min_gold: int = Field(default=1, ge=1, le=100_000)
    bonus_amount: int = Field(default=0, ge=0, le=pay.MAX_AMOUNT, description="Minor units (cents).")


class SettingsOut(BaseModel):
    workspace_id: str
    currency: str | None
    bonus_threshold: float | None
    bonus_min_gold: int
    bonus_amount: int
    updated_by: str | None
    updated_at: int | None


class RateIn(Strict):
    task_type: str | None = Field(default=None, max_length=64, description="The workspace's default for this type.")
    project_id: str | None = Field(default=None, max_length=40, description="Or this project's own rate.")
    per_task: int | None = Field(default=None, ge=0, le=pay.MAX_AMOUNT)
    per_hour: int | None = Field(default=None, ge=0, le=pay.MAX_AMOUNT)
    effective_from: int | None = Field(default=None, ge=0, lt=pay.MAX_INSTANT, description="Default: now.")


class RateOut(BaseModel):
    id: str
    project_id: str | None
    task_type: str
    per_task: int | None
    per_hour: int | None
    currency: str | None
    effective_from: int
    created_by: str | None
    created_at: int


class StatementIn(Strict):
    user_id: str = Field(min_length=1, max_length=40)
    period_start: int = INSTANT
    period_end: int = INSTANT


class LineOut(BaseModel):
    n: int
    kind: Literal["annotation", "rejected", "adjustment", "bonus"]
    amount: int
    annotation_id: str | None
    project_id: str | None
    review_id: str | None
    annotated_at: int | None
    active_ms: int | None
    task_amount: int
    hour_amount: int
    note: str


class StatementOut(BaseModel):
    id: str
    workspace_id: str
    user_id: str
    person: str
    period_start: int
    period_end: int
    status: Literal["draft", "approved", "locked"]
    currency: str
    total: int | None
    created_by: str | None
    created_at: int
    approved_by: str | None
    approved_at: int | None
    locked_by: str | None
    locked_at: int | None
    lines: list[LineOut] | None = None
    annotations: int | None = None
    can_manage: bool | None = Field(default=None, description="Whether you may approve and lock it.")


@router.get("/workspaces/{workspace_id}/pay/settings", response_model=SettingsOut, operation_id="pay_settings_get")
def get_settings(workspace_id: str, ctx: Ctx):
    return to_json(pay.get_settings(ctx, workspace_id))


@router.put(
    "/workspaces/{workspace_id}/pay/settings",
    response_model=SettingsOut,
    responses=error_docs(409),
    operation_id="pay_settings_set",
)
def set_settings(workspace_id: str, body: SettingsIn, ctx: Ctx):
    """Set the currency and the gold bonus (the currency cannot change once a statement is approved)."""
    return to_json(pay.set_settings(ctx, workspace_id, **body.model_dump()))


@router.get("/workspaces/{workspace_id}/pay/rates", response_model=list[RateOut], operation_id="pay_rates_list")
def list_rates(workspace_id: str, ctx: Ctx):
    """Every rate, oldest first: the history (a rate is never edited, a new one follows it)."""
    return to_json(pay.list_rates(ctx, workspace_id))


@router.post(
    "/workspaces/{workspace_id}/pay/rates", response_model=RateOut, status_code=201, operation_id="pay_rates_set"
)
def set_rate(workspace_id: str, body: RateIn, ctx: Ctx):
    """A new rate from ``effective_from`` on, for a task type (the default) or a project (its override)."""
    made = pay.set_rate(ctx, workspace_id, **body.model_dump())
    return created(made, f"/workspaces/{workspace_id}/pay/rates")


@router.get(
    "/workspaces/{workspace_id}/pay/statements",
    response_model=list[StatementOut],
    operation_id="pay_statements_list",
)
def list_statements(
    workspace_id: str,
    ctx: Ctx,
    user_id: str | None = Query(default=None, max_length=40),
    status: Literal["draft", "approved", "locked"] | None = None,
):
    return to_json(pay.list_statements(ctx, workspace_id, user_id=user_id, status=status))


@router.post(
    "/workspaces/{workspace_id}/pay/statements",
    response_model=StatementOut,
    status_code=201,
    responses=error_docs(409),
    operation_id="pay_statements_create",
)
def create_statement(workspace_id: str, body: StatementIn, ctx: Ctx):
    """A draft statement for a member over ``[period_start, period_end)``; a person's periods never overlap."""
    made = pay.create_statement(ctx, workspace_id, body.user_id, body.period_start, body.period_end)
    return created(made, f"/pay-statements/{made['id']}")


@router.get("/pay-statements/{statement_id}", response_model=StatementOut, operation_id="pay_statements_get")
def get_statement(statement_id: str, ctx: Ctx):
    """A statement with its lines (a draft's computed now)."""
    return to_json(pay.get_statement(ctx, statement_id))


@router.post(
    "/pay-statements/{statement_id}/approve",
    response_model=StatementOut,
    responses=error_docs(409),
    operation_id="pay_statements_approve",
)
def approve_statement(statement_id: str, ctx: Ctx):
    """Approve a draft (not your own): its lines are frozen."""
    return to_json(pay.approve_statement(ctx, statement_id))


@router.post(
    "/pay-statements/{statement_id}/lock",
    response_model=StatementOut,
    responses=error_docs(409),
    operation_id="pay_statements_lock",
)
def lock_statement(statement_id: str, ctx: Ctx):
    """Lock an approved statement: final, corrections go into the next one."""
    return to_json(pay.lock_statement(ctx, statement_id))


@router.delete(
    "/pay-statements/{statement_id}", status_code=204, responses=error_docs(409), operation_id="pay_statements_delete"
)
def delete_statement(statement_id: str, ctx: Ctx):
    """Delete a draft (approved and locked statements refuse)."""
    pay.delete_statement(ctx, statement_id)
    return Response(status_code=204)


@router.get(
    "/pay-statements/{statement_id}/csv",
    response_class=Response,
    responses={
        200: {"description": "The statement as CSV: one row per line, then a total.", "content": {"text/csv": {}}}
    },
    operation_id="pay_statements_csv",
)
def statement_csv(statement_id: str, ctx: Ctx):
    name, text = pay.statement_csv(ctx, statement_id)
    return Response(
        text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )
