"""/api/v1 audit: the log, its signed checkpoints, proofs, and the public key to check them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import StreamingResponse

from .common import COMMON_ERRORS, Ctx, to_json
from ...services import audit

router = APIRouter(tags=["audit"], responses=COMMON_ERRORS)


class PublicKeyOut(BaseModel):
    verifier_key: str
    algorithm: str
    format: str


class CheckpointOut(BaseModel):
    note: str
    origin: str
    size: int
    root: str
    timestamp: str


class EntriesOut(BaseModel):
    items: list[dict[str, Any]]
    next_after: int | None


class InclusionOut(BaseModel):
    seq: int
    tree_size: int
    entry: dict[str, Any]
    proof: list[str]


class ConsistencyOut(BaseModel):
    old_size: int
    new_size: int
    proof: list[str]


@router.get("/audit/public-key", response_model=PublicKeyOut, responses={})
def audit_public_key(request: Request):
    """The deployment's checkpoint-signing key (public material, no sign-in needed)."""
    key = audit.public_key(request.app.state.rt)
    return to_json(
        {
            "verifier_key": key,
            "algorithm": "Ed25519",
            "format": "C2SP signed-note verifier key: <name>+<key id>+<base64(0x01 || key)>",
        }
    )


@router.get("/workspaces/{workspace_id}/audit", response_model=EntriesOut)
def list_audit(workspace_id: str, ctx: Ctx, after: int = Query(-1, ge=-1), limit: int = Query(100, ge=1, le=5000)):
    """Audit entries in sequence order, after the given seq (owners, auditors)."""
    return to_json(audit.list_entries(ctx, workspace_id, after=after, limit=limit))


@router.get(
    "/workspaces/{workspace_id}/audit/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The log as JSON Lines (each line a canonical entry).",
            "content": {"application/x-ndjson": {}},
        }
    },
)
def export_audit(workspace_id: str, ctx: Ctx):
    """The whole log as JSON Lines, for `bastion audit verify --file`."""
    lines = audit.iter_export(ctx, workspace_id)
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="audit-{workspace_id}.jsonl"'},
    )


@router.get("/workspaces/{workspace_id}/audit/checkpoint", response_model=CheckpointOut)
def latest_checkpoint(workspace_id: str, ctx: Ctx):
    """The latest signed tree head (signed now if the log has grown). Save it to check later."""
    return to_json(audit.latest_checkpoint(ctx, workspace_id))


@router.get("/workspaces/{workspace_id}/audit/checkpoints", response_model=list[CheckpointOut])
def list_audit_checkpoints(workspace_id: str, ctx: Ctx):
    """Every signed checkpoint, oldest first (they locate an edited entry)."""
    return to_json(audit.list_checkpoints(ctx, workspace_id))


@router.get("/workspaces/{workspace_id}/audit/proof/inclusion", response_model=InclusionOut)
def inclusion_proof(
    workspace_id: str, ctx: Ctx, seq: int = Query(..., ge=0), tree_size: int | None = Query(None, ge=1)
):
    """Proof that entry ``seq`` is in the tree of ``tree_size`` entries (default: all)."""
    return to_json(audit.inclusion(ctx, workspace_id, seq, tree_size))


@router.get("/workspaces/{workspace_id}/audit/proof/consistency", response_model=ConsistencyOut)
def consistency_proof(
    workspace_id: str, ctx: Ctx, old_size: int = Query(..., ge=1), new_size: int | None = Query(None, ge=1)
):
    """Proof that the tree of ``new_size`` entries extends the one of ``old_size``."""
    return to_json(audit.consistency(ctx, workspace_id, old_size, new_size))


class TombstoneOut(BaseModel):
    workspace_id: str
    deleted_at: int
    deleted_by: str
    final_checkpoint: CheckpointOut


@router.get("/audit/tombstones/{workspace_id}", response_model=TombstoneOut)
def tombstone(workspace_id: str, ctx: Ctx):
    """A deleted workspace's record: when, by whom, and the final signed checkpoint of its log."""
    from ...services import workspaces

    return to_json(workspaces.get_tombstone(ctx, workspace_id))
