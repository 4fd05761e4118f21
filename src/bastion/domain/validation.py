"""Validation errors as people read them: pydantic's errors named by their field path.

``labels[2].hotkey: …`` rather than pydantic's location tuples and union-member tags;
the same wording for task-type configs, project settings and the API's request bodies.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from .errors import BastionError

# "labels[2].hotkey: message": a model validator's message that names its own path.
_NAMED = re.compile(r"^((?:[A-Za-z_][\w-]*|\(root\))(?:\[\d+\]|\.[A-Za-z_][\w-]*)*): (.+)$", re.S)
MAX_PROBLEMS = 50


def error_path(loc: tuple[Any, ...], root: str = "") -> str:
    """('labels', 2, 'hotkey') -> 'labels[2].hotkey' (pydantic's union tags dropped)."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part.startswith(("str", "function-", "tagged-union")) or "[" in part):
            continue  # pydantic's names for union members, not a user's key
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def describe_validation_error(exc: ValidationError, root: str = "") -> str:
    """The first five errors, each as ``path: message`` under ``root`` (and how many more)."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        loc = tuple(err["loc"])
        parts.append(f"{error_path(loc, root)}: {msg}" if loc or root else msg)
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown key"
    return msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg


def validation_problems(exc: ValidationError, root: str = "") -> list[dict[str, str]]:
    """Every error (up to ``MAX_PROBLEMS``) as ``{"path", "message"}``: what ``describe_validation_error``
    joins into one line, kept apart so that a form can show each beside its field.

    A model validator's error has no location of its own; its message names the path
    (``labels[2].hotkey: …``), which is split off here.
    """
    out = []
    for err in exc.errors(include_url=False)[:MAX_PROBLEMS]:
        loc = tuple(err["loc"])
        message = _message(err)
        path = error_path(loc, root) if loc or root else ""
        named = _NAMED.match(message)
        # A validator's message that names its own path: from the top (a model validator, no
        # location), or from its field down (a field validator: "checklist[2]: empty item").
        if named and (not loc or re.split(r"[.\[]", named.group(1))[0] == loc[-1]):
            inner, message = named.group(1), named.group(2)
            above = error_path(loc[:-1], root) if loc[:-1] or root else ""
            path = f"{above}.{inner}" if above else inner
        out.append({"path": path, "message": message})
    return out


def problems_of(error: BastionError) -> list[dict[str, str]]:
    """An input error as ``{"path", "message"}`` items: its ``details`` when it carries them (config
    sections, settings and task-type configs do), else its message, split at its leading path."""
    details = error.details
    if isinstance(details, list) and details and all(isinstance(d, dict) and "message" in d for d in details):
        return [{"path": str(d.get("path", "")), "message": str(d["message"])} for d in details]
    named = _NAMED.match(error.message)
    if named:
        return [{"path": named.group(1), "message": named.group(2)}]
    return [{"path": "", "message": error.message}]
