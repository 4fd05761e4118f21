"""Rows as Apache Parquet: the lossless rows, or SFT/DPO rows, one row group per 5,000 rows.

Bytes leave as each row group is written (a file object that hands them on),
so an export of a million rows never builds the file in memory. The columns are
those of the first rows: in lossless rows the free-form JSON parts (``data``,
``meta``, ``predictions``, each ``result``) are JSON text, because their shapes
differ between projects; training rows keep TRL's columns (a conversation is a
list of ``{role, content}`` structs). A later row that does not fit the columns
is refused with what to do about it — the trap is a mix of prompt strings and
conversations, which ``--chat conversational`` makes one shape.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import orjson

from .base import LOSSLESS, Encoding, ExportFormat
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

    annotation = pa.struct(
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
    fields = []
    for key in first:
        if key == "annotations":
            fields.append((key, pa.list_(annotation)))
        elif key == "annotation":
            fields.append((key, annotation))
        else:
            fields.append((key, _parquet_type(key, None)))
    return pa.schema(fields)


def write_parquet(rows: Iterator[dict], lossless: bool) -> Iterator[bytes]:
    """Parquet, one row group per ``ROW_GROUP`` rows, bytes yielded as each group is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = _Sink()
    writer = None
    schema_ = None
    batch: list[dict] = []
    count = 0

    def flush() -> bytes:
        nonlocal writer, schema_
        if schema_ is None:
            first = batch[0]
            schema_ = (
                _lossless_schema(first) if lossless else pa.schema([(k, _parquet_type(k, v)) for k, v in first.items()])
            )
            writer = pq.ParquetWriter(sink, schema_, compression="zstd")
        try:
            table = pa.Table.from_pylist(batch, schema=schema_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
            raise InvalidInput(
                f"parquet: row {count - len(batch) + 1}… does not fit the columns of the first rows ({exc}); "
                "a mix of prompt strings and conversations needs --chat conversational"
            ) from exc
        writer.write_table(table)
        batch.clear()
        return sink.drain()

    for row in rows:
        batch.append(_lossless_row(row) if lossless else row)
        count += 1
        if len(batch) >= ROW_GROUP:
            yield flush()
    if batch:
        yield flush()
    if writer is None:  # no rows: an empty file still has the lossless columns
        schema_ = _lossless_schema({"id": "", "external_id": None}) if lossless else pa.schema([])
        writer = pq.ParquetWriter(sink, schema_)
    writer.close()
    yield sink.drain()


def encode_parquet(rows: Iterator[dict], encoding: Encoding) -> Iterator[bytes]:
    return write_parquet(rows, lossless=encoding.kind == LOSSLESS)


PARQUET = ExportFormat(
    name="parquet",
    media_type="application/vnd.apache.parquet",
    extension="parquet",
    encode=encode_parquet,
    rows=(LOSSLESS, "sft", "dpo"),
    options=("chat", "sft_form", "dpo_min_strength", "include_ties", "with_ids"),
    description="the rows chosen by --rows as Apache Parquet",
)
