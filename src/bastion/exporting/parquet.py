"""Rows as Apache Parquet: the lossless rows, or SFT/DPO rows, one row group per 5,000 rows.

Bytes leave as each row group is written (a file object that hands them on),
so an export of a million rows never builds the file in memory. The columns are
those of the first rows: in lossless rows the free-form JSON parts (``data``,
``meta``, ``predictions``, each ``result``) are JSON text, because their shapes
differ between projects; training rows keep TRL's columns (a conversation is a
list of ``{role, content}`` structs). A later row that does not fit the columns
is refused with what to do about it — the trap is a mix of prompt strings and
conversations, which ``--chat conversational`` makes one shape.

Each row group is built column by column (:func:`batch_of`: a list of values per
column, the annotations a list array over one struct array of all of them) rather
than from a list of dicts. A page of rows builds its batch by itself, given the
columns the first rows fixed (``pages``), so a large export builds its batches in
worker processes; the exporting process cuts them into the same row groups of
``ROW_GROUP`` rows and writes them, so the file is the same byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from .base import LOSSLESS, Encoding, ExportFormat, PageEncoding
from ..domain.errors import InvalidInput

ROW_GROUP = 5000
JSON_COLUMNS = ("data", "meta", "predictions", "result")


class _Sink(io.RawIOBase):
    """A write-only file that hands its bytes to the stream as they are written."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _parquet_type(key: str, value: Any):
    import pyarrow as pa  # a heavy import, delayed on purpose: only Parquet exports need it

    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    if key in ("prompt", "chosen", "rejected", "completion", "messages"):
        return messages if isinstance(value, list) else pa.string()
    if key in ("tie", "done"):
        return pa.bool_()
    if key in ("priority", "annotation_count", "created_at", "lead_time_ms"):
        return pa.int64()
    return pa.string()


def _lossless_row(row: dict) -> dict:
    """Lossless rows for Parquet: free-form JSON parts become JSON text columns."""
    out: dict[str, Any] = {
        k: (orjson.dumps(v).decode() if k in JSON_COLUMNS and v is not None else v) for k, v in row.items()
    }
    if "annotations" in out:
        out["annotations"] = [_lossless_row(a) for a in out["annotations"]]
    if "annotation" in out:
        out["annotation"] = _lossless_row(out["annotation"])
    return out


def _lossless_schema(first: dict):
    import pyarrow as pa

    fields = []
    for key in first:
        if key == "annotations":
            fields.append((key, pa.list_(_annotation_type())))
        elif key == "annotation":
            fields.append((key, _annotation_type()))
        else:
            fields.append((key, _parquet_type(key, None)))
    return pa.schema(fields)


def _annotation_type():
    import pyarrow as pa

    return pa.struct(
        [
            ("id", pa.string()),
            ("task_id", pa.string()),
            ("project_id", pa.string()),
            ("user_id", pa.string()),
            ("result", pa.string()),
            ("lead_time_ms", pa.int64()),
            ("created_at", pa.int64()),
        ]
    )


def columns_of(rows: list[dict], lossless: bool):
    """The columns the first of ``rows`` decide (a ``pyarrow.Schema``): every later row must fit them."""
    import pyarrow as pa

    first = rows[0]
    return _lossless_schema(first) if lossless else pa.schema([(k, _parquet_type(k, v)) for k, v in first.items()])


def _json_text(values: list) -> list:
    dumps = orjson.dumps
    return [None if v is None else dumps(v).decode() for v in values]


def _structs(items: list, struct_type):
    """A struct array of annotation dicts, built a column at a time (keys the struct lacks are left out)."""
    import pyarrow as pa

    children = []
    for f in struct_type:
        values = [item.get(f.name) for item in items]
        if f.name in JSON_COLUMNS:
            values = _json_text(values)
        children.append(pa.array(values, type=f.type))
    return pa.StructArray.from_arrays(children, fields=list(struct_type))


def _column(rows: list[dict], f, lossless: bool):
    """One column of a batch, from the rows' values under its name (None where a row lacks it)."""
    import pyarrow as pa

    key = f.name
    values = [row.get(key) for row in rows]
    if lossless:
        if key in JSON_COLUMNS:
            return pa.array(_json_text(values), type=f.type)
        if key == "annotations" and all(type(v) is list and all(type(a) is dict for a in v) for v in values):
            offsets = [0]
            flat: list[dict] = []
            for v in values:
                flat.extend(v or ())  # (all lists: checked above)
                offsets.append(len(flat))
            return pa.ListArray.from_arrays(
                pa.array(offsets, pa.int32()), _structs(flat, f.type.value_type), type=f.type
            )
        if key == "annotation" and all(type(v) is dict for v in values):
            return _structs(values, f.type)
        if key in ("annotations", "annotation"):  # not the export's own shapes: the general conversion
            values = [_lossless_part(v) for v in values]
    return pa.array(values, type=f.type)


def _lossless_part(value: Any) -> Any:
    if isinstance(value, dict):
        return _lossless_row(value)
    if isinstance(value, list):
        return [_lossless_row(a) if isinstance(a, dict) else a for a in value]
    return value


def batch_of(rows: list[dict], schema, lossless: bool):
    """The rows as one ``pyarrow.RecordBatch`` of ``schema``, built column by column (no dict per row).

    ``pyarrow`` errors (a value that does not fit its column) go up to the caller."""
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([_column(rows, f, lossless) for f in schema], schema=schema)


def _misfit(first_row: int, exc: Exception) -> InvalidInput:
    return InvalidInput(
        f"parquet: row {first_row}… does not fit the columns of the first rows ({exc}); "
        "a mix of prompt strings and conversations needs --chat conversational"
    )


def _is_misfit(exc: Exception) -> bool:
    import pyarrow as pa

    return isinstance(exc, (pa.ArrowInvalid, pa.ArrowTypeError, KeyError))


class _Writing:
    """A Parquet file being written to a sink: batches in, one row group per ``ROW_GROUP`` rows out."""

    def __init__(self, schema, compression: str | None = "zstd") -> None:
        import pyarrow.parquet as pq

        self.schema = schema
        self.sink = _Sink()
        self.writer = (
            pq.ParquetWriter(self.sink, schema, compression=compression)
            if compression
            else pq.ParquetWriter(self.sink, schema)  # the library's default (a file without rows)
        )
        self.held: list = []
        self.held_rows = 0

    def add(self, batch) -> bytes:
        """Hold ``batch``; write every full row group held. The bytes written (maybe none)."""
        import pyarrow as pa

        self.held.append(batch)
        self.held_rows += batch.num_rows
        if self.held_rows < ROW_GROUP:
            return b""
        table = pa.Table.from_batches(self.held, schema=self.schema)
        start = 0
        while self.held_rows - start >= ROW_GROUP:
            self.writer.write_table(table.slice(start, ROW_GROUP).combine_chunks())
            start += ROW_GROUP
        rest = table.slice(start)
        self.held = rest.to_batches() if rest.num_rows else []
        self.held_rows = rest.num_rows
        return self.sink.drain()

    def close(self) -> bytes:
        """Write what is held (the last, shorter row group) and the footer. The last bytes."""
        import pyarrow as pa

        if self.held_rows:
            self.writer.write_table(pa.Table.from_batches(self.held, schema=self.schema).combine_chunks())
        self.held, self.held_rows = [], 0
        self.writer.close()
        return self.sink.drain()


def _empty(lossless: bool) -> bytes:
    """A file without rows: the lossless columns (of a task), or none."""
    import pyarrow as pa

    writing = _Writing(_lossless_schema({"id": "", "external_id": None}) if lossless else pa.schema([]), None)
    return writing.close()


def write_parquet(rows: Iterator[dict], lossless: bool) -> Iterator[bytes]:
    """Parquet, one row group per ``ROW_GROUP`` rows, bytes yielded as each group is written."""
    writing: _Writing | None = None
    batch: list[dict] = []
    count = 0

    def flush() -> bytes:
        nonlocal writing
        if writing is None:
            writing = _Writing(columns_of(batch, lossless))
        try:
            built = batch_of(batch, writing.schema, lossless)
        except Exception as exc:
            if not _is_misfit(exc):
                raise
            raise _misfit(count - len(batch) + 1, exc) from exc
        batch.clear()
        return writing.add(built)

    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= ROW_GROUP:
            out = flush()
            if out:
                yield out
    if batch:
        out = flush()
        if out:
            yield out
    if writing is None:
        yield _empty(lossless)
        return
    yield writing.close()


@dataclass(frozen=True, slots=True)
class _Misfit:
    """A page whose rows do not fit the columns (raised in order, where the page's bytes would be)."""

    message: str


def _parquet_fix(rows: list[dict], encoding: Encoding):
    return columns_of(rows, encoding.kind == LOSSLESS)


def _parquet_page(rows: list[dict], encoding: Encoding, schema) -> Any:
    try:
        return batch_of(rows, schema, encoding.kind == LOSSLESS)
    except Exception as exc:
        if not _is_misfit(exc):
            raise
        return _Misfit(str(exc))


def _parquet_join(parts: Iterator[Any], encoding: Encoding) -> Iterator[bytes]:
    writing: _Writing | None = None
    count = 0
    for part in parts:
        if part is None:
            continue
        if isinstance(part, _Misfit):
            raise _misfit(count + 1, ValueError(part.message))
        if writing is None:
            writing = _Writing(part.schema)
        count += part.num_rows
        out = writing.add(part)
        if out:
            yield out
    if writing is None:
        yield _empty(encoding.kind == LOSSLESS)
        return
    yield writing.close()


def encode_parquet(rows: Iterator[dict], encoding: Encoding) -> Iterator[bytes]:
    return write_parquet(rows, lossless=encoding.kind == LOSSLESS)


PARQUET = ExportFormat(
    name="parquet",
    media_type="application/vnd.apache.parquet",
    extension="parquet",
    encode=encode_parquet,
    pages=PageEncoding(encode=_parquet_page, join=_parquet_join, fix=_parquet_fix),
    rows=(LOSSLESS, "sft", "dpo"),
    options=("chat", "sft_form", "dpo_min_strength", "include_ties", "with_ids"),
    description="the rows chosen by --rows as Apache Parquet",
)
