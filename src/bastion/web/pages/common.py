"""Shared page machinery: the Jinja environment (autoescaped), rendering, error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from ...tasktypes import installed
from ..markdown import render_markdown

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATE_DIR),
                # Task type widgets: "tasktypes/<name>/widget.html"
                PrefixLoader(
                    {"tasktypes": PrefixLoader({tt.name: FileSystemLoader(tt.template_dir) for tt in installed()})}
                ),
            ]
        ),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status_code: int = 200, **context):
    context.setdefault("actor", getattr(request.state, "actor", None))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, status: int, message: str):
    return render(request, "error.html", status_code=status, status=status, message=message)
