"""Readers of imported items: JSON Lines, a JSON array, CSV and Parquet.

Each reader yields ``(line, item)`` where ``item`` is the decoded object or a
``BadLine`` saying why that line could not be read. Readers stream: memory stays
flat in the number of items (a JSON array is the exception — it is one value and
is bounded by the request size limit; use JSON Lines for big files).

CSV: the header names the fields of ``data``; the columns ``external_id`` and
``priority`` are taken as those keys instead. Parquet: each row's columns the
same way, or a ``data`` column holding a JSON object (struct) per row.

An item holding the NUL character anywhere (a value or a key) is a bad line naming
where: PostgreSQL cannot store it, and it is text nobody means (domain/text.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from .domain.text import MESSAGE as NUL_MESSAGE
from .domain.text import find_nul

SPECIAL_COLUMNS = ("external_id", "priority")


@dataclass(frozen=True, slots=True)
class BadLine:
    error: str


Item = tuple[int, Any]


# JSON can only carry a NUL as this escape (a raw one is invalid JSON), so text without
# it needs no walk: items are checked only when their bytes hold it (domain/text.py).
_NUL_ESCAPE = b"\\u0000"


def _refuse_nul(item: Any) -> Any:
    """The item, or a BadLine naming where it holds a NUL."""
    where = find_nul(item)
    return item if where is None else BadLine(f"{where or 'item'}: {NUL_MESSAGE}")


def iter_jsonl(lines: Iterable[bytes], start: int = 1) -> Iterator[Item]:
    for number, raw in enumerate(lines, start=start):
        text = raw.strip()
        if not text:
            continue
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield number, BadLine(f"not valid JSON: {exc}")
            continue
        yield number, _refuse_nul(item) if _NUL_ESCAPE in text else item


def iter_json_document(body: bytes) -> Iterator[Item]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        yield 1, BadLine(f"not valid JSON: {exc}")
        return
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        yield 1, BadLine("expected a JSON array of items (or JSON Lines)")
        return
    if _NUL_ESCAPE in body:
        value = [_refuse_nul(item) for item in value]
    yield from enumerate(value, start=1)


def _row_item(row: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"data": {}}
    for key, value in row.items():
        if key in SPECIAL_COLUMNS:
            if value not in (None, ""):
                item[key] = int(value) if key == "priority" and str(value).lstrip("-").isdigit() else value
        elif key == "data" and isinstance(value, dict):
            item["data"].update(value)
        elif key == "meta" and isinstance(value, dict):
            item["meta"] = value
        else:
            item["data"][key] = value
    return item


def iter_csv(text_lines: Iterable[str]) -> Iterator[Item]:
    reader = csv.DictReader(text_lines)
    if reader.fieldnames is None:
        return
    if len(set(reader.fieldnames)) != len(reader.fieldnames):
        yield 1, BadLine("the CSV header repeats a column name")
        return
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, BadLine("more fields than the header names")
            continue
        yield line, _refuse_nul(_row_item(row))


def iter_parquet(path: Path | IO[bytes], batch_rows: int = 10_000) -> Iterator[Item]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        yield 1, BadLine(f"not a readable Parquet file: {exc}")
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            number += 1
            yield number, _refuse_nul(_row_item(row))


def detect_format(name: str, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    lower = name.lower()
    for suffix, fmt in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "json"),
        (".csv", "csv"),
        (".parquet", "parquet"),
    ):
        if lower.endswith(suffix):
            return fmt
    return "jsonl"


def iter_file(path: Path, fmt: str) -> Iterator[Item]:
    """Stream items from a file on disk."""
    if fmt == "jsonl":
        with path.open("rb") as fh:
            yield from iter_jsonl(fh)
    elif fmt == "json":
        yield from iter_json_document(path.read_bytes())
    elif fmt == "csv":
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            yield from iter_csv(fh)
    elif fmt == "parquet":
        yield from iter_parquet(path)
    else:
        raise ValueError(f"unknown format {fmt!r} (jsonl, json, csv, parquet)")


def iter_bytes(body: bytes, fmt: str) -> Iterator[Item]:
    """Items from an in-memory body (an upload)."""
    if fmt == "jsonl":
        yield from iter_jsonl(body.splitlines())
    elif fmt == "json":
        yield from iter_json_document(body)
    elif fmt == "csv":
        yield from iter_csv(io.StringIO(body.decode("utf-8-sig"), newline=""))
    elif fmt == "parquet":
        yield from iter_parquet(io.BytesIO(body))
    else:
        raise ValueError(f"unknown format {fmt!r} (jsonl, json, csv, parquet)")
