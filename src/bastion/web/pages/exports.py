"""The export page: every format that applies to the project, with its options, a download that
starts at once and its progress (services/export_downloads.py says how, and what a restart does).

- ``GET  /projects/{p}/export`` — a form per format, and the project's recent exports;
- ``POST /projects/{p}/export`` — checks the form (errors shown in place: 200 to htmx, 422 to a
  plain post) and answers the download link (a ticket) with its progress, polled every second;
- ``GET  /projects/{p}/exports/download?ticket=…`` — the file, streamed;
- ``GET  /projects/{p}/exports/{export_id}/progress`` — the progress fragment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from .common import render
from ..api.projects import export_response
from ..auth import page_session, require_form_csrf
from ...domain.errors import InvalidInput
from ...services import export_downloads, exports, projects

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
_FLAGS = ("annotated_only", "accepted_only", "include_ties", "with_ids", "reidentify")
_TEXTS = {  # form field -> (ExportRequest field, most characters)
    "format": ("fmt", 16),
    "rows": ("rows", 16),
    "per": ("per", 12),
    "split": ("split", 200),
    "part": ("part", 40),
    "chat": ("chat", 20),
    "sft_form": ("sft_form", 20),
    "dpo_min_strength": ("min_strength", 12),
    "aggregate": ("aggregate", 40),
    "approval": ("approval", 60),
    "break_glass": ("break_glass", 2000),
}


def human_bytes(n: int) -> str:
    """A size as people read it: 812 bytes, 3.4 kB, 12.0 MB (powers of 1000, as browsers show downloads)."""
    if n < 1000:
        return f"{n} bytes"
    value, unit = n / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


HELPERS: dict[str, Any] = {"size": human_bytes, "when": when}


def request_of(form: FormData) -> exports.ExportRequest:
    """The export the form asks for; InvalidInput naming the field at fault."""
    chosen: dict = {}
    for name, (attr, most) in _TEXTS.items():
        value = str(form.get(name, "")).strip()
        if len(value) > most:
            raise InvalidInput(f"{name}: at most {most} characters")
        if value:
            chosen[attr] = value
    for name in _FLAGS:
        chosen[name] = str(form.get(name, "")) in ("1", "true", "on")
    seed = str(form.get("seed", "")).strip()
    if seed:
        try:
            chosen["seed"] = int(seed)
        except ValueError:
            raise InvalidInput(f"seed: {seed[:20]!r} is not a whole number") from None
        if not -(2**31) <= chosen["seed"] < 2**31:
            raise InvalidInput("seed: a whole number of at most ten digits")
    if "fmt" not in chosen:
        raise InvalidInput("format: choose an export format")
    return exports.ExportRequest(**chosen)


def _page(request: Request, ctx, csrf: str, project_id: str, *, run=None, error=None, status: int = 200):
    choices = export_downloads.export_choices(ctx, project_id)
    return render(
        request, "export.html", status_code=status, c=choices, csrf_token=csrf, run=run, error=error, **HELPERS
    )


@router.get("/projects/{project_id}/export")
def export_page(request: Request, project_id: str, session: Session):
    """Every format that applies to the project, with its options (those who may export it)."""
    ctx, csrf = session
    return _page(request, ctx, csrf, project_id)


@router.post("/projects/{project_id}/export")
async def prepare_export(request: Request, project_id: str, session: Session):
    """Check the chosen export and answer its download link and progress (nothing is exported yet)."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    htmx = bool(request.headers.get("hx-request"))

    def work():
        try:
            prepared = export_downloads.prepare_download(ctx, project_id, request_of(form))
        except InvalidInput as exc:
            if htmx:
                return render(
                    request, "_export_run.html", run=None, error=exc.message, project_id=project_id, **HELPERS
                )
            return _page(request, ctx, csrf, project_id, error=exc.message, status=422)
        if htmx:
            return render(request, "_export_run.html", run=prepared, error=None, project_id=project_id, **HELPERS)
        return _page(request, ctx, csrf, project_id, run=prepared)

    return await run_in_threadpool(work)


@router.get("/projects/{project_id}/exports/download")
def download_export(request: Request, project_id: str, session: Session, ticket: str = Query("", max_length=8000)):
    """The export a ticket from the form describes, streamed as a download (recorded and audited)."""
    ctx, _csrf = session
    return export_response(export_downloads.start_download(ctx, project_id, ticket))


@router.get("/projects/{project_id}/exports/{export_id}/progress")
def export_progress(
    request: Request,
    project_id: str,
    export_id: str,
    session: Session,
    seen: int = Query(-1, ge=-1),
    since: int = Query(0, ge=0),
    polls: int = Query(0, ge=0, le=100_000),
):
    """Where the export stands: polled every second by the page until it is complete or has stopped."""
    ctx, _csrf = session
    progress = export_downloads.export_progress(ctx, project_id, export_id, seen=seen, seen_since=since)
    # htmx polls the fragment; a link (its "progress" link, a bookmark) opens it as a page.
    page = not request.headers.get("hx-request")
    return render(
        request,
        "export_status.html" if page else "_export_progress.html",
        project=projects.get_project_summary(ctx, project_id) if page else None,
        project_id=project_id,
        export_id=export_id,
        p=progress,
        polls=polls + 1,
        **HELPERS,
    )
