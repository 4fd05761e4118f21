"""Field paths in task data (``messages[].content``, ``meta.*``), as redaction and leak
tracing select the text fields they cover: one syntax, one matcher for both."""

from __future__ import annotations

import re

_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_\-]*|\*)(?:\[\])*"
_PATH = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")


def check_paths(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A pydantic validator's body: every path well formed, or a ValueError naming it."""
    for path in value or ():
        if not _PATH.match(path):
            raise ValueError(f"field path {path!r} must look like 'messages[].content' or 'meta.*'")
    return value


def selected(fields: tuple[str, ...] | None, exclude_fields: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    """Is the field at ``segments`` covered: not excluded, and listed (``fields=None``: every field)?"""
    if any(prefix_matches(p, segments) for p in exclude_fields):
        return False
    return fields is None or any(prefix_matches(p, segments) for p in fields)


def prefix_matches(pattern: str, segments: tuple[str, ...]) -> bool:
    """Does ``pattern`` select the field at ``segments`` (or a field above it)?

    A pattern segment without ``[]`` matches the key whatever list nesting it has
    (``messages`` covers ``messages[]``); with ``[]`` the nesting must agree.
    """
    wanted = pattern.split(".")
    if len(wanted) > len(segments):
        return False
    for want, have in zip(wanted, segments, strict=False):
        want_key, want_brackets = _split_brackets(want)
        have_key, have_brackets = _split_brackets(have)
        if want_key not in ("*", have_key):
            return False
        if want_brackets and want_brackets != have_brackets:
            return False
    return True


def _split_brackets(segment: str) -> tuple[str, int]:
    key = segment.rstrip("[]")
    return key, (len(segment) - len(key)) // 2
