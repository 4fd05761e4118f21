"""The data browser page: a plain GET form of filters over a project's tasks, a page of rows, keyset paging.

One service call (``services/browse.browse``): it checks the filters, finds the page,
opens the tasks (owners see the original data) and audits the read. The URL is the
query: every filter is a readable query parameter (``?q=refund&state=done&meta=lang=fr``),
so a filtered view can be bookmarked and shared with someone who may browse it too.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from .common import render
from ..auth import page_session
from ...services import browse as browse_service

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]

# The query parameters the form sends (``meta`` may repeat); others are ignored.
FIELDS = (
    "q",
    "state",
    "annotator",
    "label",
    "agreement_below",
    "gold",
    "review",
    "meta",
    "import",
    "created_from",
    "created_to",
    "sort",
    "cursor",
)


def _params(request: Request) -> dict[str, Any]:
    """The form's values as the service reads them (a list for ``meta``), empty ones left out."""
    out: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if name not in FIELDS or not value.strip():
            continue
        if name == "meta":
            out.setdefault("meta", []).append(value)
        else:
            out[name] = value
    return out


def _url(project_id: str, params: dict[str, Any], **changes: Any) -> str:
    """This listing's URL with ``changes`` (None removes a parameter), empty values left out."""
    merged = {**params, **changes}
    pairs = [
        (name, item)
        for name, value in merged.items()
        if value not in (None, "", [])
        for item in (value if isinstance(value, list) else [value])
    ]
    return f"/projects/{project_id}/tasks" + (f"?{urlencode(pairs)}" if pairs else "")


@router.get("/projects/{project_id}/tasks")
def browse_page(request: Request, project_id: str, session: Session):
    """The data browser (``task.browse``: owners, managers, reviewers). A refused filter shows the form
    again with its message: 422, or 200 to htmx (which swaps only 2xx answers)."""
    ctx, csrf = session
    params = _params(request)
    page = browse_service.browse(ctx, project_id, params, keep_errors=True)
    status = 422 if page.error and not request.headers.get("hx-request") else 200
    filtered = {k: v for k, v in params.items() if k != "cursor"}
    return render(
        request,
        "tasks.html",
        status_code=status,
        project=page.project,
        page=page,
        form=params,
        rows=page.items,
        cursor=params.get("cursor"),
        first_url=_url(project_id, filtered) if params.get("cursor") else None,
        next_url=_url(project_id, filtered, cursor=page.next_cursor) if page.next_cursor else None,
        clear_url=_url(project_id, {}),
        is_filtered=bool(filtered),
        states=browse_service.STATES,
        reviews=browse_service.REVIEWS,
        sorts=SORT_NAMES,
        imports=[(i.import_id, _import_name(i)) for i in page.imports],
        csrf_token=csrf,
    )


def _import_name(summary) -> str:
    when = dt.datetime.fromtimestamp(summary.first_at / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when} · {summary.tasks:,} tasks"


SORT_NAMES = {
    "id": "oldest first",
    "priority": "priority, highest first",
    "annotations": "annotations, most first",
    "agreement": "agreement, lowest first",
}
