"""Rendering a task type's widget (``services.labelling.Widget``) into a page.

``render_widget(widget)`` is a Jinja global: the type's ``widget.html`` with what it
reads (``task``, ``config``, ``view``, and ``prefix``, ``mode``, ``differs``), inside
one wrapper (``_widget.html``) that every widget script finds its instances by:
``<div class="widget" data-widget="<type>" data-mode="label|read|correct">``. A
``read`` or ``correct`` widget sits in a disabled ``fieldset.widget-lock`` — inert,
its fields not posted, no key captured (a ``read`` one's field names take its prefix,
so that radios of several copies do not uncheck each other) — which a page unlocks to correct
(static/review.js); ``window.BastionWidgets`` (static/bastion.js) tells scripts
which instance is live. The page adds ``/static/tasktypes/<type>/widget.js`` once.
"""

from __future__ import annotations

import re

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

# A field's name attribute (fields only: the text the widget shows is escaped, and markdown carries no fields).
_FIELD_NAME = re.compile(r'(<(?:input|select|textarea|button)\b[^>]*?\sname=")')


@pass_context
def render_widget(context: Context, widget) -> Markup:
    """The widget's HTML (``widget``: a ``services.labelling.Widget``), in the page's language."""
    env = context.environment
    lang = context.get("lang")
    inner = env.get_template(widget.template).render(
        lang=lang,
        task=widget.task,
        config=widget.config,
        view=widget.view,
        prefix=widget.prefix,
        mode=widget.mode,
        differs=widget.differs,
    )
    if widget.mode == "read":
        # Radios group by name across a page (outside a form, or in the same one): read-only copies of a
        # widget would uncheck each other. Nothing of theirs is posted, so their names take the prefix.
        inner = _FIELD_NAME.sub(lambda m: m.group(1) + widget.prefix, inner)
    return Markup(env.get_template("_widget.html").render(w=widget, inner=Markup(inner), lang=lang))


__all__ = ["render_widget"]
