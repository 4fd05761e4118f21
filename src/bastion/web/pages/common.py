"""Shared page machinery: the Jinja environment (autoescaped), rendering, error pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    TemplateNotFound,
    select_autoescape,
)

from ..markdown import render_markdown
from ...domain.errors import InvalidConfig
from ...tasktypes import installed

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"


class TaskTypeWidgets(BaseLoader):
    """``<name>/widget.html`` from the folder of the installed task type ``name``, looked up when the template
    is loaded — the registry as it is then (plugins included), not as it was when this module was imported."""

    def get_source(self, environment, template):
        name, _, rest = template.partition("/")
        try:
            folder = installed().get(name).template_dir
        except InvalidConfig:
            raise TemplateNotFound(template) from None
        return FileSystemLoader(folder).get_source(environment, rest)


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATE_DIR),
                PrefixLoader({"tasktypes": TaskTypeWidgets()}),  # task type widgets: "tasktypes/<name>/widget.html"
            ]
        ),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    env.filters["when"] = when
    return env


def when(epoch_ms: int | None) -> str:
    """An instant (epoch milliseconds) as people read it: ``2025-06-01 14:03 UTC``."""
    if epoch_ms is None:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status_code: int = 200, **context):
    """A template as a response; the header's person and sign-out form come from the request's
    session (``page_session`` put them there), so a page or error page that names neither still has them."""
    context.setdefault("actor", getattr(request.state, "actor", None))
    context.setdefault("csrf_token", getattr(request.state, "csrf", None))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, status: int, message: str):
    return render(request, "error.html", status_code=status, status=status, message=message)


def first_access_page(request: Request, workspace_id: str):
    """A page view that would be the person's first look at a workspace's content: offer the Open button.

    The view itself may not bind them (a link from another site could have brought
    them here); the button's form POST does (``POST /workspaces/{ws}/open``).
    """
    from ...services import workspaces
    from ...services.context import Context

    ctx = Context(request.app.state.rt, request.state.actor, may_bind=False)
    workspace = workspaces.get_workspace(ctx, workspace_id)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    # 200: an ordinary page offering a choice (the JSON API answers 403 first_access).
    return render(request, "first_access.html", ws=workspace, next=here, csrf_token=request.state.csrf)
