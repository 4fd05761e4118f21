"""CoNLL-2003 named-entity files, from the token/tag rows task types make.

One line per token — ``token POS chunk NER`` — with ``_`` for the tags Bastion
does not have, a blank line after each sequence and ``-DOCSTART-`` before each
document: one document per row. The ``conll`` rows a task type makes
(``TaskType.export_rows("conll")``), once per annotation, are the shape of the
Hugging Face ``conll2003`` dataset: ``{"tokens": [...], "tags": [...]}`` with BIO
tags (``B-PERSON``, ``I-PERSON``, ``O``); ``tasktypes/spans/exports.py`` says how
spans become them (whitespace tokens, no nesting).

The trap: a token or tag holding whitespace would break its line into more
fields (or lines); tokens come from splitting on whitespace, and one that has
any is refused. A page of rows encodes by itself the same lines (``pages``: a large
export's pages are encoded in worker processes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .base import Encoding, ExportFormat, PageEncoding
from .jsonrows import JSONL_PAGES
from ..domain.errors import InvalidInput

CHUNK_LINES = 5000
DOCSTART = "-DOCSTART- -X- -X- O\n\n"
_FIELD = re.compile(r"\S+")


def _lines(row: dict, buf: list[str]) -> None:
    tokens, tags = row["tokens"], row["tags"]
    if len(tokens) != len(tags):
        raise InvalidInput(f"conll: a row has {len(tokens)} tokens and {len(tags)} tags")
    buf.append(DOCSTART)
    for token, tag in zip(tokens, tags):
        if not (_FIELD.fullmatch(token) and _FIELD.fullmatch(tag)):
            raise InvalidInput(f"conll: token {token!r} or tag {tag!r} is empty or holds whitespace")
        buf.append(f"{token} _ _ {tag}\n")
    buf.append("\n")


def encode_conll(rows: Iterator[dict], encoding: Encoding) -> Iterator[bytes]:
    buf: list[str] = []
    for row in rows:
        _lines(row, buf)
        if len(buf) > CHUNK_LINES:
            yield "".join(buf).encode()
            buf = []
    if buf:
        yield "".join(buf).encode()


def _conll_page(rows: list[dict], encoding: Encoding, fixed: Any = None) -> bytes:
    buf: list[str] = []
    for row in rows:
        _lines(row, buf)
    return "".join(buf).encode()


CONLL = ExportFormat(
    name="conll",
    media_type="text/plain; charset=utf-8",
    extension="conll",
    encode=encode_conll,
    pages=PageEncoding(encode=_conll_page, join=JSONL_PAGES.join),
    rows=("conll",),
    split_column=False,
    description="CoNLL-2003 BIO tags",
)
