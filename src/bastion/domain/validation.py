"""Validation errors as people read them: pydantic's errors named by their field path.

``labels[2].hotkey: …`` rather than pydantic's location tuples and union-member tags;
the same wording for task-type configs, project settings and the API's request bodies.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


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
