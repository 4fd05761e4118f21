"""/api/v1 event feed and webhooks: a workspace's events (``?after=`` a cursor), the endpoints they are
POSTed to (signed the Standard Webhooks way), their deliveries, dead letters and replay. See docs/webhooks.md.

Owners add and remove webhooks and replay deliveries; owners, managers and auditors read the feed, the
webhooks and their deliveries. The signing secret is answered once, when the webhook is made.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, created, to_json
from .models import Strict
from ...services import events, webhooks

router = APIRouter(tags=["webhooks"], responses=COMMON_ERRORS)


class WebhookIn(Strict):
    url: str = Field(min_length=1, max_length=2000, description="Where events are POSTed (http or https).")
    events: list[str] = Field(
        min_length=1, max_length=20, description=f"Event kinds to send: {', '.join(events.KINDS)}."
    )
    allowed_hosts: list[str] = Field(
        min_length=1,
        max_length=32,
        description="The egress allow-list its deliveries go through: exact host[:port] entries; the URL's host "
        "must be on it.",
    )


class WebhookOut(BaseModel):
    id: str
    workspace_id: str
    url: str
    events: list[str]
    allowed_hosts: list[str]
    created_by: str | None
    created_at: int
    updated_at: int


class WebhookMade(WebhookOut):
    secret: str = Field(description="whsec_<base64>: the signing secret, shown this once.")


class EventOut(BaseModel):
    seq: int
    id: str
    kind: str
    subject: str | None
    data: dict[str, Any]
    created_at: int


class EventPage(BaseModel):
    events: list[EventOut]
    next: int = Field(description="The cursor to pass as ?after= next time.")


class AttemptOut(BaseModel):
    n: int
    at: int
    status: int | None
    error: str | None
    latency_ms: int


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    event_seq: int
    event_id: str | None
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    job_id: str | None
    created_at: int
    updated_at: int
    history: list[AttemptOut]


class ReplayOut(BaseModel):
    id: str
    state: str
    job_id: str


class ReplayedOut(BaseModel):
    replayed: int


@router.get("/workspaces/{workspace_id}/events", response_model=EventPage, operation_id="events_list")
def list_events(workspace_id: str, ctx: Ctx, after: str = "0", limit: str = "100"):
    """The workspace's events after the cursor, oldest first (owners, managers, auditors)."""
    return to_json(events.list_events(ctx, workspace_id, after=after, limit=limit))


@router.post(
    "/workspaces/{workspace_id}/webhooks", response_model=WebhookMade, status_code=201, operation_id="webhooks_create"
)
def create_webhook(workspace_id: str, body: WebhookIn, ctx: Ctx):
    """Register an endpoint (owners); the answer carries its signing secret, shown this once."""
    made = webhooks.create_webhook(ctx, workspace_id, **body.model_dump())
    return created(made, f"/webhooks/{made['id']}")


@router.get("/workspaces/{workspace_id}/webhooks", response_model=list[WebhookOut], operation_id="webhooks_list")
def list_webhooks(workspace_id: str, ctx: Ctx):
    return to_json(webhooks.list_webhooks(ctx, workspace_id))


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, operation_id="webhooks_get")
def get_webhook(webhook_id: str, ctx: Ctx):
    return to_json(webhooks.get_webhook(ctx, webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204, operation_id="webhooks_delete")
def delete_webhook(webhook_id: str, ctx: Ctx):
    webhooks.delete_webhook(ctx, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut], operation_id="webhooks_deliveries")
def list_deliveries(webhook_id: str, ctx: Ctx, state: str | None = None, limit: str = "100"):
    """The endpoint's deliveries with their attempts, newest event first (``state=dead``: the dead letters)."""
    return to_json(webhooks.list_deliveries(ctx, webhook_id, state=state, limit=limit))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    response_model=ReplayOut,
    status_code=202,
    operation_id="webhooks_replay",
)
def replay(webhook_id: str, delivery_id: str, ctx: Ctx):
    """Deliver again (owners): a dead or delivered delivery starts a new round of tries, same webhook-id."""
    return to_json(webhooks.replay(ctx, webhook_id, delivery_id), 202)


@router.post("/webhooks/{webhook_id}/replay-dead", response_model=ReplayedOut, operation_id="webhooks_replay_dead")
def replay_dead(webhook_id: str, ctx: Ctx):
    """Replay every dead letter of the endpoint (owners)."""
    return to_json({"replayed": webhooks.replay_dead(ctx, webhook_id)})
