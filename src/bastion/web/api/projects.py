"""/api/v1 projects: create, read, change, delete, export (and each export's signed manifest)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any, Literal

import anyio
from fastapi import APIRouter, FastAPI, Query
from starlette.responses import Response, StreamingResponse

from .approvals import ApprovalQuery, BreakGlassQuery
from .common import COMMON_ERRORS, Ctx, created, error_docs, to_json
from .models import (
    CountsOut,
    ProjectFromLabelStudioIn,
    ProjectFromLabelStudioOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    ProjectSettingsOut,
)
from .quality import methods_schema
from ...domain.projects import Project
from ...exporting import LOSSLESS
from ...services import exports, migration
from ...services import projects as svc
from ...services.runtime import Runtime

router = APIRouter(tags=["projects"], responses=COMMON_ERRORS)


def project_out(p: Project) -> ProjectOut:
    c = p.counts
    return ProjectOut(
        id=p.id,
        workspace_id=p.workspace_id,
        name=p.name,
        task_type=p.task_type,
        config=p.config,
        settings=ProjectSettingsOut(**p.settings.model_dump()),
        counts=CountsOut(tasks=c.tasks, done=c.done, remaining=c.remaining, annotations=c.annotations, skips=c.skips),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.get("/workspaces/{workspace_id}/projects", response_model=list[ProjectOut])
def list_projects(workspace_id: str, ctx: Ctx):
    return [project_out(p) for p in svc.list_projects(ctx, workspace_id)]


@router.post("/workspaces/{workspace_id}/projects", response_model=ProjectOut, status_code=201)
def create_project(workspace_id: str, body: ProjectIn, ctx: Ctx):
    """Create a project; the config is validated against its task type."""
    settings = body.settings.model_dump(exclude_unset=True) if body.settings else None
    project = project_out(svc.create_project(ctx, workspace_id, name=body.name, config=body.config, settings=settings))
    return created(project.model_dump(mode="json"), f"/projects/{project.id}")


@router.post(
    "/workspaces/{workspace_id}/projects/from-label-studio", response_model=ProjectFromLabelStudioOut, status_code=201
)
def create_project_from_label_studio(workspace_id: str, body: ProjectFromLabelStudioIn, ctx: Ctx):
    """Create a project from a Label Studio labelling config (XML); answers it and what could not be converted."""
    settings = body.settings.model_dump(exclude_unset=True) if body.settings else None
    made, unconverted = migration.create_project_from_label_studio(
        ctx, workspace_id, name=body.name, label_config=body.label_config, settings=settings
    )
    project = project_out(made)
    answer = ProjectFromLabelStudioOut(project=project, unconverted=unconverted)
    return created(answer.model_dump(mode="json"), f"/projects/{project.id}")


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: str, ctx: Ctx):
    return project_out(svc.get_project(ctx, project_id))


@router.patch("/projects/{project_id}", response_model=ProjectOut, responses=error_docs(409))
def update_project(project_id: str, body: ProjectPatch, ctx: Ctx):
    settings = body.settings.model_dump(exclude_unset=True) if body.settings else None
    return project_out(svc.update_project(ctx, project_id, name=body.name, config=body.config, settings=settings))


@router.delete("/projects/{project_id}", status_code=204, response_class=Response)
def delete_project(project_id: str, ctx: Ctx):
    """Delete a project: its data key is destroyed (crypto-shredding), then its rows."""
    svc.delete_project(ctx, project_id)
    return Response(status_code=204)


EXPORT_PATH = "/projects/{project_id}/export"


@router.get(
    EXPORT_PATH,
    response_class=StreamingResponse,
    responses={200: {"description": "The dataset, streamed (its media type is the format's)."}},
)
def export_project(
    project_id: str,
    ctx: Ctx,
    format: str = Query(
        "jsonl",
        max_length=16,
        description=(
            "Export format: one registered on this server (built in or a plugin's) that the project's task type"
            " has rows for; the others are refused before the first byte."
        ),
    ),
    annotated_only: bool = Query(False, description="Only tasks with at least one annotation."),
    per: Literal["annotation", "task"] | None = Query(
        None, description="One row per annotation, or per task with all its annotations."
    ),
    rows: str = Query(
        "jsonl",
        max_length=16,
        description=("With a format that encodes several kinds of rows (parquet: jsonl, sft or dpo): which rows."),
    ),
    split: str | None = Query(None, max_length=200, description="Parts besides train, e.g. validation=0.1."),
    seed: int = Query(0, description="Seed of the split."),
    part: str | None = Query(None, max_length=40, description="Only this part of the split."),
    chat: Literal["auto", "conversational", "standard"] = Query("auto", description="Prompts as turns or strings."),
    sft_form: Literal["messages", "prompt-completion"] = Query("messages", description="SFT row form."),
    dpo_min_strength: Literal["slight", "clear", "strong"] | None = Query(
        None, description="Leave out preference pairs weaker than this."
    ),
    include_ties: bool = Query(False, description="Keep ties as DPO rows marked tie."),
    with_ids: bool = Query(False, description="Add task_id, annotation_id and external_id."),
    accepted_only: bool = Query(False, description="Only accepted or corrected annotations."),
    aggregate: str | None = Query(
        None,
        max_length=40,
        json_schema_extra=methods_schema,
        description=(
            "Add each task's aggregated answer by a method that fits the project's task type (one row per task "
            "with per=task)."
        ),
    ),
    reidentify: bool = Query(False, description="Owners: redacted values restored (audited with the export)."),
    approval: ApprovalQuery = None,
    break_glass: BreakGlassQuery = None,
):
    """Stream the project's tasks with their annotations, or training-ready rows."""
    request = exports.ExportRequest(
        fmt=format,
        annotated_only=annotated_only,
        per=per,
        rows=rows,
        split=split,
        seed=seed,
        part=part,
        chat=chat,
        sft_form=sft_form,
        min_strength=dpo_min_strength,
        include_ties=include_ties,
        with_ids=with_ids,
        accepted_only=accepted_only,
        aggregate=aggregate,
        reidentify=reidentify,
        approval=approval,
        break_glass=break_glass,
    )
    return export_response(exports.start_export(ctx, project_id, request=request))


def export_response(export: exports.Export) -> StreamingResponse:
    """An export streamed as its file (the API's and the export page's downloads)."""
    manifest = f"/api/v1/exports/{export.id}/manifest"
    return StreamingResponse(
        _closing(export.stream()),
        media_type=export.format.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Bastion-Export-Id": export.id,
            "Link": f'<{manifest}>; rel="describedby"',
        },
    )


async def _closing(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Each chunk made in a worker thread; a stream the client left is closed at once (no manifest)."""
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)


@router.get("/exports/{export_id}/manifest", response_model=dict[str, Any], responses=error_docs(409))
def export_manifest(export_id: str, ctx: Ctx):
    """An export's signed manifest (its datasheet), stored after its last byte; 409 before that,
    or when the stream stopped early. Check it with `bastion export verify`."""
    return to_json(exports.get_manifest(ctx, export_id))


def describe_export_formats(app: FastAPI, rt: Runtime) -> None:
    """The OpenAPI document lists the export formats this server has (plugins' included), each with
    the task types it applies to, and the media types an export can answer with."""
    make_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = make_document()  # FastAPI keeps it as app.openapi_schema
        operation = next(item for path, item in document["paths"].items() if path.endswith(EXPORT_PATH))["get"]
        formats, task_types = list(rt.export_formats), list(rt.task_types)

        def applies(fmt) -> str:
            names = [t.name for t in task_types if fmt.kinds_for(t)]
            return "every task type" if len(names) == len(task_types) else ", ".join(names) or "no task type"

        described = "; ".join(f"`{fmt.name}` ({applies(fmt)}): {fmt.description}" for fmt in formats)
        several = "; ".join(
            f"`{fmt.name}`: " + ", ".join("jsonl" if k == LOSSLESS else k for k in fmt.rows)
            for fmt in formats
            if len(fmt.rows) > 1
        )
        for parameter in operation["parameters"]:
            if parameter["name"] == "format":
                parameter["schema"]["enum"] = [fmt.name for fmt in formats]
                parameter["description"] += f" On this server: {described}."
            elif parameter["name"] == "rows" and several:
                parameter["description"] += f" On this server: {several}."
        media_types = dict.fromkeys(fmt.media_type.split(";")[0].strip() for fmt in formats)
        operation["responses"]["200"]["content"] = {media: {} for media in media_types}
        return document

    app.openapi = openapi  # type: ignore[method-assign]
