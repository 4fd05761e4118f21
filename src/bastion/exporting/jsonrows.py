"""Rows as JSON: JSON Lines (one row a line) and one JSON array, and the formats written so.

``jsonl`` and ``json`` hold the lossless rows; ``sft``, ``dpo`` and ``spacy`` are
JSON Lines of the rows task types make for those trainers (TRL's SFT and
preference columns, spaCy's offsets: ``tasktypes/_export.py``).

The trap: the first chunk leaves after a few rows (the time to the first byte is
measured), then rows go out in chunks of 500 — one ``write`` per row would cost
more than encoding them. A page of rows encodes the same lines by itself
(:data:`JSONL_PAGES`, :data:`JSON_PAGES`): that is how a large export encodes its
pages in worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from .base import LOSSLESS, Encoding, ExportFormat, PageEncoding

FIRST_CHUNK_ROWS = 50
CHUNK_ROWS = 500


def encode_jsonl(rows: Iterator[dict], encoding: Encoding | None = None) -> Iterator[bytes]:
    """One JSON document a line, each line ended by ``\\n``."""
    dumps = orjson.dumps
    buf: list[bytes] = []
    flush_at = FIRST_CHUNK_ROWS
    for row in rows:
        buf.append(dumps(row))
        if len(buf) >= flush_at:
            yield b"\n".join(buf) + b"\n"
            buf, flush_at = [], CHUNK_ROWS
    if buf:
        yield b"\n".join(buf) + b"\n"


def encode_json_array(rows: Iterator[dict], encoding: Encoding | None = None) -> Iterator[bytes]:
    """One JSON array, a row a line."""
    first = True
    yield b"["
    for chunk in encode_jsonl(rows):
        lines = chunk.rstrip(b"\n").split(b"\n")
        yield (b"" if first else b",\n") + b",\n".join(lines)
        first = False
    yield b"]\n"


def _jsonl_page(rows: list[dict], encoding: Encoding, fixed: Any = None) -> bytes:
    return b"\n".join(map(orjson.dumps, rows)) + b"\n"


def _jsonl_join(parts: Iterator[bytes | None], encoding: Encoding) -> Iterator[bytes]:
    for part in parts:
        if part:
            yield part


def _json_array_page(rows: list[dict], encoding: Encoding, fixed: Any = None) -> bytes:
    return b",\n".join(map(orjson.dumps, rows))


def _json_array_join(parts: Iterator[bytes | None], encoding: Encoding) -> Iterator[bytes]:
    first = True
    yield b"["
    for part in parts:
        if part:
            yield part if first else b",\n" + part
            first = False
    yield b"]\n"


JSONL_PAGES = PageEncoding(encode=_jsonl_page, join=_jsonl_join)
JSON_PAGES = PageEncoding(encode=_json_array_page, join=_json_array_join)

JSONL = ExportFormat(
    name="jsonl",
    media_type="application/x-ndjson",
    extension="jsonl",
    encode=encode_jsonl,
    pages=JSONL_PAGES,
    description="every task with its annotations and metadata, one per line (lossless)",
)
JSON = ExportFormat(
    name="json",
    media_type="application/json",
    extension="json",
    encode=encode_json_array,
    pages=JSON_PAGES,
    description="the same as one JSON array",
)
SFT = ExportFormat(
    name="sft",
    media_type="application/x-ndjson",
    extension="sft.jsonl",
    encode=encode_jsonl,
    pages=JSONL_PAGES,
    rows=("sft",),
    options=("chat", "sft_form", "with_ids"),
    description="TRL SFT rows: {messages} or {prompt, completion}",
)
DPO = ExportFormat(
    name="dpo",
    media_type="application/x-ndjson",
    extension="dpo.jsonl",
    encode=encode_jsonl,
    pages=JSONL_PAGES,
    rows=("dpo",),
    options=("chat", "dpo_min_strength", "include_ties", "with_ids"),
    description="TRL preference rows {prompt, chosen, rejected}",
)
SPACY = ExportFormat(
    name="spacy",
    media_type="application/x-ndjson",
    extension="spacy.jsonl",
    encode=encode_jsonl,
    pages=JSONL_PAGES,
    rows=("spacy",),
    options=("with_ids",),
    description="spaCy-style {text, entities: [[start, end, label]]}",
)

__all__ = [
    "DPO",
    "JSON",
    "JSONL",
    "JSONL_PAGES",
    "JSON_PAGES",
    "LOSSLESS",
    "SFT",
    "SPACY",
    "encode_json_array",
    "encode_jsonl",
]
