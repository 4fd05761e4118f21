"""Pre-label prompts: the template language shared by the task types that offer pre-labels.

A prompt template is the system message sent to the model before the task's own text. It
may name values with ``{{name}}`` (the names a type offers: ``labels``, ``instructions``…);
a name the type does not offer is refused when the setting is saved, never at run time.
``render`` fills them; ``check_template`` says what is wrong with a template, or None.

The trap: templates are plain substitution — no expressions, no escapes — so a task's text
can never be read as a template (it goes in a message of its own, never through ``render``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MAX_TEMPLATE = 8000
_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def check_template(template: str, names: Iterable[str]) -> str | None:
    """Why ``template`` cannot be used with the ``names`` a type offers, or None."""
    if not template.strip():
        return "must be non-empty text"
    if len(template) > MAX_TEMPLATE:
        return f"at most {MAX_TEMPLATE} characters"
    offered = set(names)
    for match in _NAME.finditer(template):
        if match.group(1) not in offered:
            allowed = ", ".join("{{" + n + "}}" for n in sorted(offered)) or "none"
            return f"{{{{{match.group(1)}}}}} is not a value this task type offers (offered: {allowed})"
    return None


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{{name}}`` replaced by its value (names checked by ``check_template``)."""
    return _NAME.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def first_line(reply: str) -> str:
    """A reply's first non-empty line, trimmed of quotes, list marks and a final full stop."""
    for line in reply.replace("\r\n", "\n").split("\n"):
        text = line.strip().strip("`").strip()
        if text:
            text = text.lstrip("-*• ").strip().strip("\"'").strip()
            return text[:-1].strip() if text.endswith(".") else text
    return ""
