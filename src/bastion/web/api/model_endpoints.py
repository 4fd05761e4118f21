"""/api/v1 model endpoints: a workspace's OpenAI-compatible servers and the hosts their calls may reach.

Owners add, change, test and remove them; owners, managers and auditors list them. The API key
is write-only: it is sent in a body and never answered (``has_api_key`` says whether one is set).
See docs/egress.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import Strict
from ...services import completions, model_endpoints

router = APIRouter(tags=["model-endpoints"], responses=COMMON_ERRORS)

HOSTS = Field(
    max_length=32,
    description="The egress allow-list: exact host[:port] entries (a name, a.b.c.d or [IPv6]); an entry "
    "without a port allows the scheme's default port. Private, loopback and link-local addresses are "
    "reached only when an entry names that exact address.",
)


class EndpointIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    base_url: str = Field(
        min_length=1, max_length=2000, description="The API's base; calls go to {base_url}/chat/completions."
    )
    default_model: str = Field(min_length=1, max_length=200)
    allowed_hosts: list[str] = HOSTS
    api_key: str | None = Field(default=None, max_length=4096, description="Sent as a bearer token; never answered.")


class EndpointPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    base_url: str | None = Field(default=None, min_length=1, max_length=2000)
    default_model: str | None = Field(default=None, min_length=1, max_length=200)
    allowed_hosts: list[str] | None = Field(default=None, max_length=32)
    api_key: str | None = Field(default=None, max_length=4096, description="A new key; null removes the key.")


class EndpointOut(BaseModel):
    id: str
    workspace_id: str
    name: str
    base_url: str
    default_model: str
    allowed_hosts: list[str]
    has_api_key: bool
    created_by: str | None
    created_at: int
    updated_at: int


class ProbeOut(BaseModel):
    endpoint_id: str
    model: str = Field(description="The model that answered.")
    latency_ms: int
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    reply: str = Field(description="The start of the model's reply to the fixed test prompt.")


@router.post(
    "/workspaces/{workspace_id}/model-endpoints",
    response_model=EndpointOut,
    status_code=201,
    operation_id="model_endpoints_create",
)
def create_endpoint(workspace_id: str, body: EndpointIn, ctx: Ctx):
    """Add a model endpoint (owners). Its base URL's host must be on its allow-list."""
    made = model_endpoints.create_endpoint(ctx, workspace_id, **body.model_dump())
    return created(made, f"/model-endpoints/{made['id']}")


@router.get(
    "/workspaces/{workspace_id}/model-endpoints", response_model=list[EndpointOut], operation_id="model_endpoints_list"
)
def list_endpoints(workspace_id: str, ctx: Ctx):
    return to_json(model_endpoints.list_endpoints(ctx, workspace_id))


@router.get("/model-endpoints/{endpoint_id}", response_model=EndpointOut, operation_id="model_endpoints_get")
def get_endpoint(endpoint_id: str, ctx: Ctx):
    return to_json(model_endpoints.get_endpoint(ctx, endpoint_id))


@router.patch("/model-endpoints/{endpoint_id}", response_model=EndpointOut, operation_id="model_endpoints_update")
def update_endpoint(endpoint_id: str, body: EndpointPatch, ctx: Ctx):
    """Change an endpoint (owners): only the fields sent change; ``"api_key": null`` removes the key."""
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    for field in ("name", "base_url", "default_model", "allowed_hosts"):
        if field in changes and changes[field] is None:
            del changes[field]
    return to_json(model_endpoints.update_endpoint(ctx, endpoint_id, **changes))


@router.delete("/model-endpoints/{endpoint_id}", status_code=204, operation_id="model_endpoints_delete")
def delete_endpoint(endpoint_id: str, ctx: Ctx):
    model_endpoints.delete_endpoint(ctx, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/model-endpoints/{endpoint_id}/test",
    response_model=ProbeOut,
    responses=error_docs(502, 504),
    operation_id="model_endpoints_test",
)
def test_endpoint(endpoint_id: str, ctx: Ctx):
    """Send a tiny fixed prompt (no workspace data) through the egress guard; report model, latency, tokens (owners)."""
    return to_json(completions.probe_endpoint(ctx, endpoint_id))
