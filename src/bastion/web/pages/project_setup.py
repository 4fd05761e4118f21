"""Project set-up pages: a new project (from a template or from scratch), a project's settings,
and the config editor's check as you type (errors by field path, the widget's live preview).

Owners and managers (``project.manage``: the access module decides, as for the API).
The check is a POST carrying the CSRF token that changes nothing (htmx sends it, debounced,
as the config is typed); it answers a fragment: the problems, and the preview as an
out-of-band swap when the config is valid — an invalid one leaves the last good preview.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from ._forms import redirect_after_post, refused_status
from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import Conflict, InvalidInput
from ...domain.projects import Project
from ...domain.validation import problems_of
from ...services import configs, projects, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
CONFIG_TEXT = Form("", max_length=configs.MAX_CONFIG_CHARS)


@router.post("/workspaces/{workspace_id}/config-check")
def config_check(
    request: Request,
    workspace_id: str,
    session: Session,
    csrf_token: str = Form("", max_length=200),
    config: str = CONFIG_TEXT,
):
    """The editor's check: its problems with their paths, and the preview (a fragment; changes nothing)."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    check = configs.check_config(ctx, workspace_id, config)
    return render(request, "_config_check.html", check=check, oob=True)


# -- a new project -------------------------------------------------------------------


@router.get("/workspaces/{workspace_id}/projects/new")
def new_project_page(
    request: Request, workspace_id: str, session: Session, template: str | None = Query(None, max_length=60)
):
    ctx, csrf = session
    editor = configs.new_project_editor(ctx, workspace_id, template or None)
    return render(request, "project_new.html", editor=editor, project_name="", csrf_token=csrf)


@router.post("/workspaces/{workspace_id}/projects/new")
def create_project(
    request: Request,
    workspace_id: str,
    session: Session,
    csrf_token: str = Form("", max_length=200),
    name: str = Form("", max_length=400),
    config: str = CONFIG_TEXT,
    template: str = Form("", max_length=60),
):
    """Create the project (nothing is made unless the name and config are valid), then open it."""
    ctx, csrf = session
    require_form_csrf(csrf, csrf_token)
    try:
        project = configs.create_project(ctx, workspace_id, name=name, text=config)
    except InvalidInput as exc:
        editor = configs.new_project_editor(ctx, workspace_id, template or None)
        check = configs.check_config(ctx, workspace_id, config)
        problems = problems_of(exc)
        if not any(p["path"] == "name" for p in problems):
            problems = check.problems or problems
        return render(
            request,
            "project_new.html",
            status_code=refused_status(request),
            editor=editor,
            project_name=name,
            text=config,
            check=check,
            problems=problems,
            csrf_token=csrf,
        )
    return redirect_after_post(request, f"/projects/{project.id}")


# -- a project's settings -------------------------------------------------------------

# The settings form's fields: the name of each is its path in the project's settings, so an
# error (``settings.quality.gold_rate: …``) lands beside the field it names.
OPTIONAL = ("max_tasks_per_person", "max_tasks_per_day", "quality.pause_below")


def _skills(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def _credentials(text: str) -> list[dict[str, str]]:
    """'nda: Acme NDA; clearance' -> [{"kind": "nda", "name": "Acme NDA"}, {"kind": "clearance"}]."""
    out: list[dict[str, str]] = []
    for part in text.replace("\n", ";").split(";"):
        kind, _, name = part.partition(":")
        if kind.strip() or name.strip():
            out.append({"kind": kind.strip().lower(), **({"name": name.strip()} if name.strip() else {})})
    return out


def _settings_from_form(form: FormData) -> dict[str, Any]:
    """The posted settings as ``parse_settings`` reads them (numbers stay text: it names what is wrong)."""

    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    def optional(name: str) -> str | None:
        return text(name) or None

    settings: dict[str, Any] = {
        "overlap": text("overlap"),
        "lease_seconds": text("lease_seconds"),
        "priority": text("priority"),
        "max_tasks_per_person": optional("max_tasks_per_person"),
        "max_tasks_per_day": optional("max_tasks_per_day"),
        "required_skills": {"all": _skills(text("required_skills.all")), "any": _skills(text("required_skills.any"))},
        "required_credentials": _credentials(text("required_credentials")),
        "quality": {
            "gold_rate": text("quality.gold_rate"),
            "gold_feedback": form.get("quality.gold_feedback") == "on",
            "pause_below": optional("quality.pause_below"),
            "pause_after": text("quality.pause_after"),
            "review": text("quality.review"),
            "review_fraction": text("quality.review_fraction"),
        },
        "qualification": None,
    }
    if text("idle_after_s"):  # left empty (or a form from before it): the project keeps its own
        settings["idle_after_s"] = text("idle_after_s")
    if text("qualification.grants"):
        settings["qualification"] = {
            "grants": text("qualification.grants"),
            "pass_score": text("qualification.pass_score"),
            "retake_after_days": text("qualification.retake_after_days"),
        }
    return settings


def _values_of(project: Project) -> dict[str, str]:
    """The settings form's values, as text, from a project's settings."""
    s = project.settings

    def shown(value: Any) -> str:
        return "" if value is None else str(value)

    q = s.qualification
    return {
        "name": project.name,
        "overlap": shown(s.overlap),
        "lease_seconds": shown(s.lease_seconds),
        "idle_after_s": shown(s.idle_after_s),
        "priority": shown(s.priority),
        "max_tasks_per_person": shown(s.max_tasks_per_person),
        "max_tasks_per_day": shown(s.max_tasks_per_day),
        "required_skills.all": ", ".join(s.required_skills.all),
        "required_skills.any": ", ".join(s.required_skills.any),
        "required_credentials": "; ".join(f"{r.kind}: {r.name}" if r.name else r.kind for r in s.required_credentials),
        "quality.gold_rate": shown(s.quality.gold_rate),
        "quality.gold_feedback": "on" if s.quality.gold_feedback else "",
        "quality.pause_below": shown(s.quality.pause_below),
        "quality.pause_after": shown(s.quality.pause_after),
        "quality.review": s.quality.review,
        "quality.review_fraction": shown(s.quality.review_fraction),
        "qualification.grants": q.grants if q else "",
        "qualification.pass_score": shown(q.pass_score if q else 0.8),
        "qualification.retake_after_days": shown(q.retake_after_days if q else 7),
    }


def _field_errors(problems: list[dict[str, str]]) -> dict[str, str]:
    """Problems by form field (``settings.`` dropped from their paths)."""
    out: dict[str, str] = {}
    for p in problems:
        field = p["path"].removeprefix("settings.")
        if field.startswith("required_credentials"):  # one field holds the whole list
            field = "required_credentials"
        out.setdefault(field, p["message"])
    return out


def _settings_page(
    request: Request,
    ctx,
    csrf: str,
    project_id: str,
    *,
    saved: str | None = None,
    form: str | None = None,
    posted: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
    status: int = 200,
):
    """The settings page; after a refused post, ``form`` names the form refused and ``posted`` its text."""
    project = projects.get_project(ctx, project_id, Action.PROJECT_MANAGE)
    allowed = workspaces.allowed_actions(ctx, project.workspace_id)
    values = _values_of(project)
    text = configs.editor_text(project)
    sections = {key: configs.config_text(project.config[key]) if key in project.config else "" for key in SECTIONS}
    if form == "settings" and posted is not None:
        values = {**values, **posted}
    elif form == "config" and posted is not None:
        text = posted["config"]
    elif form in SECTIONS and posted is not None:
        sections[form] = posted["text"]
    check = configs.check_config(ctx, project.workspace_id, text)
    return render(
        request,
        "project_settings.html",
        status_code=status,
        project=project,
        allowed=allowed,
        Action=Action,
        values=values,
        text=text,
        check=check,
        sections=sections,
        saved=saved,
        form=form,
        problems=problems or [],
        field_errors=_field_errors(problems or []) if form == "settings" else {},
        csrf_token=csrf,
    )


SECTIONS = ("redaction", "leak_tracing")
SAVED = {"settings": "Settings saved.", "config": "Config saved.", "redaction": "Redaction saved."}
SAVED["leak_tracing"] = "Leak tracing saved."


@router.get("/projects/{project_id}/settings")
def settings_page(request: Request, project_id: str, session: Session, saved: str | None = Query(None, max_length=20)):
    ctx, csrf = session
    return _settings_page(request, ctx, csrf, project_id, saved=SAVED.get(saved or ""))


@router.post("/projects/{project_id}/settings")
async def settings_change(request: Request, project_id: str, session: Session):
    """One of the settings page's forms (``form``: settings, config, redaction or leak_tracing): one
    service call, one transaction — a refused change writes nothing and shows why, field by field."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    which = str(form.get("form", ""))

    def work():
        posted: dict[str, str] = {}
        try:
            if which == "settings":
                posted = {key: str(value) for key, value in form.items() if key not in ("csrf_token", "form")}
                posted.setdefault("quality.gold_feedback", "")
                projects.update_project(
                    ctx, project_id, name=str(form.get("name", "")), settings=_settings_from_form(form)
                )
            elif which == "config":
                posted = {"config": str(form.get("config", ""))}
                configs.save_config(ctx, project_id, posted["config"])
            elif which in SECTIONS:
                posted = {"text": str(form.get("text", ""))}
                configs.save_section(ctx, project_id, which, posted["text"])
            else:
                raise InvalidInput(f"form: {which!r} is not a form of this page")
        except (InvalidInput, Conflict) as exc:
            return _settings_page(
                request,
                ctx,
                csrf,
                project_id,
                form=which,
                posted=posted,
                problems=problems_of(exc),
                status=refused_status(request),
            )
        return redirect_after_post(request, f"/projects/{project_id}/settings?saved={which}")

    return await run_in_threadpool(work)
