"""Field paths in task data (``messages[].content``, ``meta.*``), as redaction and leak
tracing select the text fields they cover: one syntax, one matcher, one walker for both.

:func:`walk_strings` is the one walk over nested task data (and results): every
string with its concrete path and the segments :func:`selected` matches;
:func:`replace_strings` puts strings back by concrete path. The trap: the two
ends must name strings the same way, or a replacement lands on the wrong field."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

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


def walk_strings(value: Any) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """``(concrete path, segments, string)`` for every string in a JSON value, in document order.

    The concrete path names one string (``messages[3].content``: what offset maps,
    variant slots and redaction findings are keyed by); the segments are what a
    field path is matched against (``("messages[]", "content")``: see
    :func:`selected`). A list's items take their key's segment with ``[]`` added.
    Tuples are walked like lists.
    """
    stack: list[tuple[Any, str, tuple[str, ...]]] = [(value, "", ())]
    while stack:
        current, concrete, segments = stack.pop()
        if isinstance(current, str):
            yield concrete, segments, current
        elif isinstance(current, Mapping):
            children = [
                (inner, f"{concrete}.{key}" if concrete else str(key), (*segments, str(key)))
                for key, inner in current.items()
            ]
            stack.extend(reversed(children))
        elif isinstance(current, list | tuple):
            inner_segments = (*segments[:-1], segments[-1] + "[]") if segments else ("[]",)
            stack.extend((current[i], f"{concrete}[{i}]", inner_segments) for i in range(len(current) - 1, -1, -1))


def replace_strings(value: Any, replacements: Mapping[str, str]) -> Any:
    """A copy of a JSON value with the strings at the given concrete paths replaced.

    Containers are rebuilt (a mapping as a dict, a tuple stays a tuple), so the
    copy shares no container with ``value``; the paths are those of :func:`walk_strings`.
    """

    def visit(current: Any, concrete: str) -> Any:
        if isinstance(current, Mapping):
            return {key: visit(inner, f"{concrete}.{key}" if concrete else str(key)) for key, inner in current.items()}
        if isinstance(current, list | tuple):
            out = [visit(inner, f"{concrete}[{i}]") for i, inner in enumerate(current)]
            return out if isinstance(current, list) else tuple(out)
        if isinstance(current, str):
            return replacements.get(concrete, current)
        return current

    return visit(value, "")


def join_path(prefix: str, path: str) -> str:
    """A concrete path inside the value at ``prefix`` (``predictions[0]`` + ``notes`` -> ``predictions[0].notes``)."""
    if not prefix or not path:
        return prefix or path
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"
