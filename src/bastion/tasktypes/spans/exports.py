"""Span exports: spaCy-style offsets (JSON rows) and CoNLL-2003 BIO on whitespace tokens.

CoNLL-2003 has one token per line — ``token POS chunk NER`` — with ``_`` for
the tags we do not have, a blank line between sequences and ``-DOCSTART-``
before each document (one document per annotation). Tokens are the text split
on whitespace, so a span that ends inside a token (``Bergen,`` for the span
``Bergen``) tags the whole token: that is the format's limit, and the spaCy
rows keep the exact offsets. BIO cannot nest: where spans overlap, the
earliest (then the longest) wins and the others are left out of the CoNLL file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .._export import ExportOptions, ids

_TOKEN = re.compile(r"\S+")


def spacy_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    result = annotation["result"]
    row = {"text": task["data"].get(config.field, ""),
           "entities": [[s["start"], s["end"], s["label"]] for s in result.get("spans", [])]}
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


def conll_document(config, tasks: Iterator[dict], options: ExportOptions) -> Iterator[bytes]:
    buf: list[str] = []
    for task in tasks:
        text = task["data"].get(config.field, "")
        for annotation in task["annotations"]:
            buf.append("-DOCSTART- -X- -X- O\n\n")
            pairs = bio_tags(text, annotation["result"].get("spans", []))
            buf.extend(f"{token} _ _ {tag}\n" for token, tag in pairs)
            buf.append("\n")
        if len(buf) > 5000:
            yield "".join(buf).encode()
            buf = []
    if buf:
        yield "".join(buf).encode()
