"""Project pages: overview with counts, import by upload, export links, and labelling (the data browser:
``pages/browse.py``).

An import from the page is Post/Redirect/Get: the form carries a random key (made as the page is
shown); the POST imports under it as the API's ``Idempotency-Key`` does (services/import_keys.py:
the report kept sealed, for the person, 24 hours) and answers 303 to ``/projects/{p}?import=KEY``,
which shows that report. A reload shows it again and imports nothing; the same form sent twice
(the back button) answers the first import's report.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse

from .common import render
from ..auth import page_session, require_form_csrf
from ..i18n import N_, translate
from ..uploads import read_upload
from ...access import Action, FirstAccessRequired
from ...domain.errors import BastionError, Conflict, GuidelinesUnacknowledged, InvalidAnswer, InvalidInput
from ...services import annotations as annotations_service
from ...services import (
    content,
    import_keys,
    imports,
    labelling,
    own_annotations,
    projects,
    qualification,
    queue,
    workspaces,
)
from ...sources import detect_format, iter_bytes

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _project_page(request: Request, ctx, csrf: str, project_id: str, report=None, error=None, status=200):
    project = projects.get_project(ctx, project_id)
    allowed = workspaces.allowed_actions(ctx, project.workspace_id)
    results = qualification.results(ctx, project_id) if project.settings.qualification else None
    # The person's own work here (the project's counts say how complete it is, not what they did).
    progress = own_annotations.my_progress(ctx, project_id) if Action.TASK_WORK in allowed else None
    return render(
        request,
        "project.html",
        status_code=status,
        project=project,
        allowed=allowed,
        Action=Action,
        csrf_token=csrf,
        report=report,
        error=error,
        qualification_results=results,
        import_key=secrets.token_urlsafe(18),  # this form's import, whatever sends it again (module docstring)
        progress=progress,
    )


_IMPORT_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


@router.get("/projects/{project_id}")
def project_page(
    request: Request,
    project_id: str,
    session: Session,
    import_key: str | None = Query(None, alias="import", max_length=64, pattern=r"^[A-Za-z0-9_-]{16,64}$"),
):
    """The project; ``?import=KEY``: with the report of your import made under that key (the import
    form's redirect lands here)."""
    ctx, csrf = session
    if import_key is None:
        return _project_page(request, ctx, csrf, project_id)
    past = import_keys.find_import(ctx, project_id, import_key)
    if past is None:
        gone = "this import's report is no longer kept (24 hours) or is not yours: the project's counts are current"
        return _project_page(request, ctx, csrf, project_id, error=gone)
    return _project_page(request, ctx, csrf, project_id, report=past.report)


@router.post("/projects/{project_id}/import")
async def import_upload(request: Request, project_id: str, session: Session):
    # The file is read into memory by read_upload, never spooled to disk (an UploadFile or Form
    # parameter would spool parts over 1 MiB to a temporary file, in clear): see web/uploads.py.
    ctx, csrf = session
    upload = await read_upload(request, "file", request.app.state.rt.settings.max_body_bytes)
    require_form_csrf(csrf, upload.fields.get("csrf_token", ""))
    body, strict = upload.content, upload.flag("strict")
    fmt = detect_format(upload.filename or "upload.jsonl")
    key = upload.fields.get("import_key", "")
    if not _IMPORT_KEY.fullmatch(key):
        key = secrets.token_urlsafe(18)  # a form without one (an older page): this import is its own
    digest = hashlib.sha256(f"page|{fmt}|{strict}|".encode() + body).digest()

    def work() -> str:
        nonlocal key
        past = import_keys.find_import(ctx, project_id, key)
        if past is not None:
            try:
                import_keys.replay_import(ctx, project_id, past, digest)
                return key  # this form was sent before with this file: its report, nothing imported again
            except Conflict:
                key = secrets.token_urlsafe(18)  # the form again with another file: a new import
        report = imports.import_tasks(ctx, project_id, lambda: iter_bytes(body, fmt), strict=strict)
        import_keys.remember_import(ctx, project_id, key, digest, report.as_dict())
        return key

    def opened(key: str) -> str:
        # The page the redirect lands on reads the project's content; a GET may not bind, so this
        # deliberate POST opens the workspace for the importer, as showing the page here used to.
        projects.get_project(ctx, project_id)
        return key

    try:
        used = await run_in_threadpool(lambda: opened(work()))
    except InvalidInput as exc:
        return await run_in_threadpool(_project_page, request, ctx, csrf, project_id, None, exc.message, 422)
    return RedirectResponse(f"/projects/{project_id}?import={used}#import-report", status_code=303)


# -- labelling ---------------------------------------------------------------
#
# GET /projects/{p}/label shows, and changes nothing: the task the person holds, or a
# Start button. A link from another site opens it with the session cookie, so it must
# not lease (a lease binds the person to this client). Leasing is a form POST with the
# CSRF token: Start (POST …/next), and each submit or skip, which leases the next task
# (htmx swaps it in; without script, a 303 back to the GET shows it).


def _label_view(
    request: Request,
    ctx,
    csrf: str,
    project_id: str,
    *,
    lease: bool,
    error: str | None = None,
    status: int = 200,
    finished: bool = False,
    event: str | None = None,
    notice: str | None = None,
    shown: labelling.LabellingView | None = None,
):
    """The labelling view. ``lease``: in a POST, lease (or renew) the next task; else show what is held
    (the page's GET: with the person's progress). ``shown``: already made by the POST's own call.

    ``event`` (submitted, skipped, undone, asked) tells the page's script what the POST did, so the
    progress the GET showed counts on without the submit path counting anything."""
    try:
        # Leasing binds on a first access (a POST); showing what is held never does.
        if shown is None:
            shown = labelling.labelling_view(ctx, project_id, lease=lease, with_progress=not lease)
    except FirstAccessRequired:
        if lease:
            raise
        # Not opened yet: the name and the Start button only (Start binds, deliberately).
        return render(
            request,
            "label.html",
            status_code=status,
            project=projects.get_project_summary(ctx, project_id),
            config=None,
            task=None,
            finished=False,
            csrf_token=csrf,
            error=error,
            first_access=True,
            widget=None,
            widget_script=None,
            view={},
            idle_after_s=None,
            overlay=None,
            progress=None,
            unseen_answers=0,
            event=None,
            notice=None,
            guidelines=None,
        )
    context = dict(
        project=shown.project,
        config=shown.config,
        task=shown.task,
        csrf_token=csrf,
        error=error,
        finished=lease or finished,
        first_access=False,
        widget=shown.shown,  # a services.labelling.Widget (render_widget draws it)
        widget_script=shown.widget_script,
        view=shown.widget_context,
        idle_after_s=shown.project.settings.idle_after_s,
        overlay=shown.overlay,
        progress=shown.progress,
        unseen_answers=shown.unseen_answers,
        event=None if error else event,
        notice=notice,
        guidelines=shown.guidelines,
    )
    name = "_task.html" if request.headers.get("hx-request") else "label.html"
    return render(request, name, status_code=status, **context)


@router.get("/projects/{project_id}/label")
def label_page(request: Request, project_id: str, session: Session, finished: bool = False):
    """The task you hold in this project, or a Start button (read-only: nothing is leased or bound).

    ``finished``: the last submit found nothing more for you (says "All done" instead of Start).
    """
    ctx, csrf = session
    return _label_view(request, ctx, csrf, project_id, lease=False, finished=finished)


@router.post("/projects/{project_id}/next")
def start_labelling(request: Request, project_id: str, session: Session, csrf_token: str = Form("", max_length=200)):
    """Start: lease your next task (the first one binds you to this client), then show it."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    return _after_post(request, ctx, csrf, project_id)


def _after_post(
    request: Request,
    ctx,
    csrf,
    project_id: str,
    error: str | None = None,
    *,
    event: str | None = None,
    shown: labelling.LabellingView | None = None,
    notice: str | None = None,
):
    if request.headers.get("hx-request"):
        return _label_view(
            request, ctx, csrf, project_id, lease=True, error=error, status=200, event=event, shown=shown, notice=notice
        )
    if shown is not None:  # the POST's own call showed the task already: the GET shows what is held
        return RedirectResponse(f"/projects/{project_id}/label", status_code=303)
    if error:
        return _label_view(request, ctx, csrf, project_id, lease=True, error=error, status=422)
    try:
        leased = queue.next_task(ctx, project_id)  # lease the next one here, in the POST; the GET only shows it
    except GuidelinesUnacknowledged:  # the GET shows the new guidelines and the button to acknowledge them
        # Start is a deliberate POST: it opens the client's data for a first access (the refused lease did not),
        # so the GET may show the guidelines.
        content.open_workspace(ctx, projects.get_project_summary(ctx, project_id).workspace_id)
        return RedirectResponse(f"/projects/{project_id}/label", status_code=303)
    return RedirectResponse(f"/projects/{project_id}/label" + ("" if leased else "?finished=1"), status_code=303)


def _form_count(form: FormData, name: str) -> int | None:
    """A count the labelling page's script (static/activetime.js) posts; empty or absent: not measured."""
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name}: an integer") from None


def _time_fields(form: FormData) -> dict[str, int | None]:
    """Active time and pastes as the page measured them (docs/workforce.md, "Time"); the service checks them."""
    return {name: _form_count(form, name) for name in ("lead_time_ms", "paste_count", "pasted_chars")}


@router.post("/projects/{project_id}/label")
async def submit_label(request: Request, project_id: str, session: Session):
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    task_id = str(form.get("task_id", ""))

    def work():
        project = projects.project_for_work(ctx, project_id, Action.TASK_WORK)
        tt = ctx.rt.task_types.get(project.task_type)
        config = tt.parse_config(project.config)
        try:
            result = tt.result_from_form(config, form)
            annotations_service.submit_annotation(ctx, task_id, result, **_time_fields(form))
        except InvalidAnswer as exc:
            return _after_post(request, ctx, csrf, project_id, error=exc.message)
        except InvalidInput as exc:
            if not exc.message.startswith(("lead_time_ms:", "paste_count:", "pasted_chars:")):
                raise
            return _after_post(request, ctx, csrf, project_id, error=exc.message)
        except BastionError as exc:
            if exc.code in ("conflict",):
                return _after_post(request, ctx, csrf, project_id, error=exc.message)
            raise
        return _after_post(request, ctx, csrf, project_id, event="submitted")

    return await run_in_threadpool(work)


@router.post("/projects/{project_id}/skip")
def skip(
    request: Request,
    project_id: str,
    session: Session,
    task_id: str = Form(..., max_length=60),
    csrf_token: str = Form("", max_length=200),
):
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    queue.skip_task(ctx, task_id)
    return _after_post(request, ctx, csrf, project_id, event="skipped")


# The labelling page is translated (web/i18n.py): what this module tells an annotator there is marked for the
# catalogues, and so are the services' refusals of undo and of a question with a fixed wording (in their words:
# services/own_annotations.py, services/questions.py). A refusal with values in it is shown as it is.
ASKED = N_("Your question went to the project's managers: their answer will be on your list of annotations.")
ASKED_GIVEN_BACK = N_(
    "Your question went to the project's managers: their answer will be on your list of annotations. "
    "The task went back to the queue."
)
REFUSALS = frozenset(
    {
        N_("you have no annotation here to take back"),
        N_("this annotation was reviewed a moment ago: it can no longer change"),
        N_("a reviewer has this annotation open: it can change again once they are done"),
        N_("annotations in a qualification test are final"),
        N_("the expected answer was shown to you after this annotation: it is final"),
        N_("text: write a few words"),
        N_("this task is not leased to you: there is nothing to give back"),
    }
)


def _refusal(request: Request, message: str) -> str:
    """A service's refusal on the labelling page, in the person's language where the catalogues have it."""
    return translate(request, message) if message in REFUSALS else message


@router.post("/projects/{project_id}/undo")
def undo(request: Request, project_id: str, session: Session, csrf_token: str = Form("", max_length=200)):
    """Undo (Backspace): take back your last annotation here; its task is shown again, your result in the widget."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    try:
        shown = labelling.undo_view(ctx, project_id)
    except Conflict as exc:  # nothing to undo, or it can no longer change (reviewed, final)
        return _after_post(request, ctx, csrf, project_id, error=_refusal(request, exc.message))
    return _after_post(request, ctx, csrf, project_id, event="undone", shown=shown)


@router.post("/projects/{project_id}/ask")
def ask(
    request: Request,
    project_id: str,
    session: Session,
    task_id: str = Form(..., max_length=60),
    text: str = Form("", max_length=20_000),
    keep: str = Form("yes", max_length=10),
    csrf_token: str = Form("", max_length=200),
):
    """Ask the project's managers about the task in front of you; keep it, or give it back."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    keep_lease = keep != "no"
    try:
        shown = labelling.ask_view(ctx, project_id, task_id, text, keep_lease=keep_lease)
    except (InvalidInput, Conflict) as exc:
        return _after_post(request, ctx, csrf, project_id, error=_refusal(request, exc.message))
    notice = translate(request, ASKED if keep_lease else ASKED_GIVEN_BACK)
    return _after_post(
        request, ctx, csrf, project_id, event="asked" if keep_lease else "skipped", shown=shown, notice=notice
    )
