"""Import bodies: a file, an iterable of dicts, a pandas DataFrame or a ``datasets.Dataset``, streamed.

Every source becomes an ``ImportBody``: a content type and a way to produce the body as
chunks of bytes, sent with chunked transfer encoding, so that memory stays flat in the
number of tasks. Files are sent as they are (JSON Lines, a JSON array, CSV, Parquet by
suffix); everything else is encoded as JSON Lines, ``CHUNK_TASKS`` tasks a chunk, which the
server imports while the body is still arriving.

Rows of a table (a DataFrame's or a Dataset's) become tasks by the rule the server applies
to CSV and Parquet files: a ``data`` column holding objects is the task's data, the columns
``external_id``, ``priority``, ``meta`` and ``predictions`` are those keys of the task, and
every other column is a field of the data. Dicts from an iterable are task lines as the API
takes them (``{"data": {…}, "external_id"?, …}``) and are sent unchanged.

The trap: an iterator can be read once. A body made from one can be sent again (a retry)
only if sending never took a task from it; ``can_resend`` says so, and the clients check it
before each retry. Files, lists, DataFrames and Datasets can always be read again.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CHUNK_TASKS = 2000
FILE_CHUNK_BYTES = 1 << 20
TASK_KEYS = ("external_id", "priority", "meta", "predictions")
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "json": "application/json",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}
SUFFIXES = ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv"), (".parquet", "parquet"))


@dataclass
class ImportBody:
    """An import's body: its content type and its chunks, made afresh for each send."""

    content_type: str
    make_chunks: Callable[[], Iterator[bytes]]
    one_shot: bool = False
    started: bool = False

    def chunks(self) -> Iterator[bytes]:
        for chunk in self.make_chunks():
            self.started = True
            yield chunk

    @property
    def can_resend(self) -> bool:
        return not (self.one_shot and self.started)


def file_format(path: Path, explicit: str | None) -> str:
    """jsonl, json, csv or parquet: as given, else by the file's suffix (as ``bastion import`` decides)."""
    if explicit is not None:
        if explicit not in MEDIA_TYPES:
            raise ValueError(f"format {explicit!r} is not one of {', '.join(MEDIA_TYPES)}")
        return explicit
    lower = path.name.lower()
    return next((fmt for suffix, fmt in SUFFIXES if lower.endswith(suffix)), "jsonl")


def file_body(path: str | os.PathLike[str], fmt: str | None) -> ImportBody:
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")

    def chunks() -> Iterator[bytes]:
        with source.open("rb") as fh:
            yield from iter(lambda: fh.read(FILE_CHUNK_BYTES), b"")

    return ImportBody(MEDIA_TYPES[file_format(source, fmt)], chunks)


def _json_default(value: Any) -> Any:
    """What orjson cannot encode by itself, from pandas and numpy: timestamps, NA, arrays, scalars."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if value is getattr(sys.modules.get("pandas"), "NA", object()):
        return None
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_DUMPS_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def encode_lines(tasks: Iterable[Any], chunk_tasks: int = CHUNK_TASKS) -> Iterator[bytes]:
    """JSON Lines, ``chunk_tasks`` tasks a chunk."""
    dumps = orjson.dumps
    buf: list[bytes] = []
    for task in tasks:
        buf.append(dumps(task, default=_json_default, option=_DUMPS_OPTIONS))
        if len(buf) >= chunk_tasks:
            yield b"".join(buf)
            buf = []
    if buf:
        yield b"".join(buf)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def table_row_task(row: Mapping[str, Any]) -> dict[str, Any]:
    """A table's row as a task line (the rule in the module docstring)."""
    task: dict[str, Any] = {"data": {}}
    for key, value in row.items():
        if key == "data" and isinstance(value, Mapping):
            task["data"].update(value)
        elif key in TASK_KEYS:
            if _missing(value):
                continue
            if key == "priority" and isinstance(value, float) and value.is_integer():
                value = int(value)
            task[key] = value
        else:
            task["data"][key] = None if _missing(value) else value
    return task


def rows_body(rows: Iterable[Mapping[str, Any]], chunk_tasks: int) -> ImportBody:
    one_shot = iter(rows) is rows
    return ImportBody(MEDIA_TYPES["jsonl"], lambda: encode_lines(rows, chunk_tasks), one_shot=one_shot)


def dataframe_body(frame: Any, chunk_tasks: int) -> ImportBody:
    def tasks() -> Iterator[dict[str, Any]]:
        for start in range(0, len(frame), chunk_tasks):
            for row in frame.iloc[start : start + chunk_tasks].to_dict(orient="records"):
                yield table_row_task(row)

    return ImportBody(MEDIA_TYPES["jsonl"], lambda: encode_lines(tasks(), chunk_tasks))


def dataset_body(dataset: Any, chunk_tasks: int) -> ImportBody:
    def tasks() -> Iterator[dict[str, Any]]:
        for batch in dataset.iter(batch_size=chunk_tasks):
            columns = list(batch)
            for values in zip(*(batch[c] for c in columns)):
                yield table_row_task(dict(zip(columns, values)))

    return ImportBody(MEDIA_TYPES["jsonl"], lambda: encode_lines(tasks(), chunk_tasks))


def _is_instance(value: Any, module: str, name: str) -> bool:
    """``isinstance`` against a class of an optional library, without importing it: a value
    of that class can only exist if the library is already loaded."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return cls is not None and isinstance(value, cls)


def import_body(source: Any, fmt: str | None = None, chunk_tasks: int = CHUNK_TASKS) -> ImportBody:
    """The body for any importable source: a path, a DataFrame, a Dataset, or an iterable of dicts."""
    if isinstance(source, (str, os.PathLike)):
        return file_body(source, fmt)
    if fmt is not None:
        raise ValueError("format applies to files only; other sources are sent as JSON Lines")
    if _is_instance(source, "pandas", "DataFrame"):
        return dataframe_body(source, chunk_tasks)
    if _is_instance(source, "datasets", "Dataset"):
        return dataset_body(source, chunk_tasks)
    if isinstance(source, (bytes, bytearray, Mapping)) or not isinstance(source, Iterable):
        raise TypeError(
            f"cannot import from a {type(source).__name__}: give a file path, an iterable of dicts, "
            "a pandas DataFrame or a datasets.Dataset"
        )
    return rows_body(source, chunk_tasks)
