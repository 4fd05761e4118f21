"""Span exports: spaCy-style offsets (JSON rows) and CoNLL-2003 BIO on whitespace tokens.

The ``conll`` rows are one document per annotation, ``{"tokens", "tags"}``
(``exporting/conll.py`` writes a ``token _ _ TAG`` line for each). Tokens are
the text split on whitespace, so a span that ends inside a token (``Bergen,``
for the span ``Bergen``) tags the whole token: that is the format's limit, and
the spaCy rows keep the exact offsets. BIO cannot nest: where spans overlap, the
earliest (then the longest) wins and the others are left out of the CoNLL file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .._export import ExportOptions, ids

_TOKEN = re.compile(r"\S+")


def spacy_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    result = annotation["result"]
    row = {
        "text": task["data"].get(config.field, ""),
        "entities": [[s["start"], s["end"], s["label"]] for s in result.get("spans", [])],
    }
    if result.get("relations"):
        row["relations"] = [[r["from"], r["to"], r["label"]] for r in result["relations"]]
    row.update(ids(task, annotation, options))
    return [row]


def bio_tags(text: str, spans: list[dict]) -> list[tuple[str, str]]:
    """(token, tag) pairs for whitespace tokens; overlapping spans resolved first-longest."""
    chosen: list[tuple[int, int, str]] = []
    for s in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        if chosen and s["start"] < chosen[-1][1]:
            continue
        chosen.append((s["start"], s["end"], s["label"]))
    out: list[tuple[str, str]] = []
    k = 0
    inside: tuple[int, int, str] | None = None
    for m in _TOKEN.finditer(text):
        a, b = m.start(), m.end()
        while k < len(chosen) and chosen[k][1] <= a:
            k += 1
        tag = "O"
        if k < len(chosen) and chosen[k][0] < b:
            span = chosen[k]
            tag = ("I-" if inside == span else "B-") + span[2]
            inside = span
        else:
            inside = None
        out.append((m.group(), tag))
    return out


def conll_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    """One CoNLL document per annotation: ``{"tokens", "tags"}`` (``exporting/conll.py`` writes the lines)."""
    pairs = bio_tags(task["data"].get(config.field, ""), annotation["result"].get("spans", []))
    return [{"tokens": [token for token, _ in pairs], "tags": [tag for _, tag in pairs]}]
