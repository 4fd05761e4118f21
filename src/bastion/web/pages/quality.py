"""Quality pages: the project's quality dashboard and the reviewer's queue.

GET /projects/{p}/review shows, and changes nothing: the annotation the reviewer
holds, or a Start button. Leasing is a form POST with the CSRF token (Start, and
each decision, which leases the next one), as on the labelling page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action, FirstAccessRequired
from ...domain.errors import BastionError, InvalidAnswer
from ...services import labelling, projects, quality, reviews

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def bar_chart(values: list[int], labels: list[str], *, width: int = 600, height: int = 120) -> dict:
    """A small server-side SVG bar chart with its axes (no script, no inline style): the bars, the
    y axis's ticks (0, half, the top: whole numbers) and the x axis's (``labels``, a few of them)."""
    left, top_pad, bottom = 40, 8, 40  # room for the y ticks, the top tick's label, the x ticks and title
    peak = max(values, default=0)
    top = max(peak, 1)
    step = width / max(len(values), 1)
    base = top_pad + height

    def y_of(value: float) -> float:
        return round(base - height * value / top, 1)

    chart_bars = [
        {
            "x": round(left + i * step + 1, 1),
            "y": y_of(value),
            "w": round(max(step - 2, 1), 1),
            "h": round(base - y_of(value), 1),
            "value": value,
            "label": labels[i],
        }
        for i, value in enumerate(values)
    ]
    y_ticks = [{"y": y_of(v), "label": str(v)} for v in sorted({0, top // 2, top})]
    shown = {0, len(values) // 2, len(values) - 1} if values else set()
    x_ticks = [
        {"x": round(left + (i + 0.5) * step, 1), "label": labels[i]} for i in sorted(shown) if 0 <= i < len(values)
    ]
    return {
        "bars": chart_bars,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "left": left,
        "right": left + width,
        "base": base,
        "top": top_pad,
        "width": left + width + 10,
        "height": base + bottom,
        "total": sum(values),
        "peak": peak,
    }


@router.get("/projects/{project_id}/quality")
def quality_page(request: Request, project_id: str, session: Session, method: str | None = None):
    ctx, csrf = session
    project = projects.project_for_work(ctx, project_id, Action.QUALITY_READ)
    if method not in quality.aggregation_methods(project.task_type):
        method = None  # the type's default
    report = quality.quality_report(ctx, project_id, method=method)
    days = report["throughput"]["last_30_days"]
    confusion = report.get("aggregation", {}).get("confusion")
    heat = None
    if confusion:
        peak = max((v for row in confusion["matrix"] for v in row), default=0) or 1
        heat = [[(v, min(9, int(9 * v / peak))) for v in row] for row in confusion["matrix"]]
    task_type = ctx.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    return render(
        request,
        "quality.html",
        project=project,
        report=report,
        method=method,
        csrf_token=csrf,
        chart=bar_chart(
            [d["annotations"] for d in days],
            ["today" if d["days_ago"] == 0 else f"{d['days_ago']} days ago" for d in days],
        ),
        heat=heat,
        value_name=lambda value: task_type.value_name(config, value),
    )


@router.get("/projects/{project_id}/review")
def review_page(request: Request, project_id: str, session: Session, finished: bool = False):
    """The annotation you hold for review, or a Start button (read-only: nothing is leased or bound)."""
    ctx, csrf = session
    try:
        view = reviews.review_view(ctx, project_id, lease=False)
    except FirstAccessRequired:
        summary = projects.get_project_summary(ctx, project_id)
        return _review_view(request, reviews.ReviewView(summary, None), csrf, first_access=True)
    return _review_view(request, view, csrf, finished=finished)


@router.post("/projects/{project_id}/review/next")
def review_start(request: Request, project_id: str, session: Session, csrf_token: str = Form("", max_length=200)):
    """Start: lease the next annotation waiting for review (the first one binds you to this client)."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    if request.headers.get("hx-request"):
        return _review_view(request, reviews.review_view(ctx, project_id, lease=True), csrf, finished=True)
    item = reviews.review_next(ctx, project_id)
    return RedirectResponse(f"/projects/{project_id}/review" + ("" if item else "?finished=1"), status_code=303)


def _review_view(
    request,
    view: reviews.ReviewView,
    csrf,
    error=None,
    status=200,
    *,
    finished=False,
    first_access=False,
    decision: str = "",
    comment: str = "",
):
    name = "_review.html" if request.headers.get("hx-request") else "review.html"
    held = view.item is not None
    return render(
        request,
        name,
        status_code=status,
        project=view.project,
        item=view.item,
        compared=view.compared,
        widget_script=labelling.widget_script(view.project.task_type),
        csrf_token=csrf,
        error=error,
        finished=finished,
        first_access=first_access,
        # a refused decision is shown again as the reviewer left it (on the same annotation only)
        decision="correct" if view.correcting else decision if held else "",
        comment=comment if held else "",
    )


def _error_status(request: Request) -> int:
    """The status of a refused review: 200 to htmx, which swaps only 2xx answers (so the fragment
    with its error shows, as on the labelling page), 422 to a plain form post."""
    return 200 if request.headers.get("hx-request") else 422


@router.post("/projects/{project_id}/review")
async def review_submit(request: Request, project_id: str, session: Session):
    """Accept, reject (with a comment) or correct — the correction posted by the annotation's own widget
    (the task type's ``result_from_form``), never typed as JSON."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))

    def work():
        annotation_id = str(form.get("annotation_id", ""))
        decision = str(form.get("decision", ""))
        comment = str(form.get("comment", ""))

        def refused(message: str, draft=None):
            view = reviews.review_view(
                ctx, project_id, lease=True, draft=(annotation_id, draft) if draft is not None else None
            )
            same = view.item is not None and view.item["annotation"]["id"] == annotation_id
            return _review_view(
                request,
                view,
                csrf,
                error=message,
                status=_error_status(request),
                finished=True,
                decision=decision if same else "",
                comment=comment if same else "",
            )

        correction = None
        if decision == "correct":
            try:
                correction = reviews.correction_from_form(ctx, project_id, form)
            except InvalidAnswer as exc:
                return refused(f"correction: {exc.message}")
        try:
            reviews.review_annotation(ctx, annotation_id, decision, comment=comment or None, correction=correction)
        except BastionError as exc:
            if exc.code in ("not_found", "forbidden"):
                raise
            return refused(exc.message, correction)
        if request.headers.get("hx-request"):  # the next one is leased here, in the POST
            return _review_view(request, reviews.review_view(ctx, project_id, lease=True), csrf, finished=True)
        item = reviews.review_next(ctx, project_id)
        return RedirectResponse(f"/projects/{project_id}/review" + ("" if item else "?finished=1"), status_code=303)

    return await run_in_threadpool(work)
