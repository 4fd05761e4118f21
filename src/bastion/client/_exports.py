"""Export answers read back as rows (dicts), DataFrames and ``datasets.Dataset`` objects.

What a row is depends on the format's encoding, read from the answer's media type:

* JSON Lines (``jsonl``, ``sft``, ``dpo``, ``spacy``, and plugins' JSON Lines formats): one
  row a line, decoded as the bytes arrive.
* a JSON array (``json``): its elements. The array is one value, so it is read whole; use
  ``jsonl`` for big projects.
* COCO (``coco``, one JSON document): one row per image, the image's fields with its boxes
  under ``annotations`` (each with its category's ``name`` as ``category``).
* CoNLL (``conll``): one row per sequence, ``{"tokens": [...], "tags": [...]}`` — the shape
  of Hugging Face's ``conll2003``.
* Parquet (``parquet``): its rows. A Parquet file is read from its end (the footer), so
  the answer is spooled to a temporary file first.

The trap: pyarrow, pandas and datasets are imported only when a conversion needs them, so
that ``import bastion.client`` stays light and works without them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, Self

import orjson

from .errors import missing

PARQUET = "application/vnd.apache.parquet"
PARQUET_BATCH_ROWS = 10_000


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def decoding(fmt: str, content_type: str) -> str:
    """How rows are read from an answer: ``lines``, ``json``, ``conll`` or ``parquet``."""
    media = media_type(content_type)
    if media in ("application/x-ndjson", "application/jsonl", "application/jsonlines"):
        return "lines"
    if media == "application/json":
        return "json"
    if media == PARQUET:
        return "parquet"
    if fmt == "conll":
        return "conll"
    raise ValueError(f"the {fmt!r} export ({media}) has no row form the client reads; write it to a file instead")


class RowReader:
    """Rows from an export answer fed chunk by chunk (``feed``), the last ones at ``finish``.

    The same reader serves the sync and the async client: they differ only in how chunks arrive.
    """

    def __init__(self, fmt: str, content_type: str) -> None:
        self.how = decoding(fmt, content_type)
        self.rest = b""
        self.parts: list[bytes] = []
        self.tokens: list[str] = []
        self.tags: list[str] = []
        # Closed by __exit__ (use the reader in a with block), or after the last Parquet row is read.
        self.file: IO[bytes] | None = tempfile.TemporaryFile() if self.how == "parquet" else None  # noqa: SIM115

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()  # the spooled Parquet answer, deleted on close

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        if self.file is not None:
            self.file.write(chunk)
            return []
        if self.how == "json":
            self.parts.append(chunk)
            return []
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        return self._lines(lines)

    def finish(self) -> Iterator[dict[str, Any]]:
        if self.file is not None:
            return parquet_rows(self._rewound())
        if self.how == "json":
            return document_rows(b"".join(self.parts))
        rows = self._lines([self.rest, b""])
        self.rest = b""
        return iter(rows)

    def table(self) -> Any:
        """A Parquet export as a pyarrow Table (after every chunk was fed)."""
        return parquet_table(self._rewound())

    def _rewound(self) -> IO[bytes]:
        assert self.file is not None
        self.file.seek(0)
        return self.file

    def _lines(self, lines: list[bytes]) -> list[dict[str, Any]]:
        if self.how == "lines":
            return [orjson.loads(line) for line in lines if line.strip()]
        out = []
        for raw in lines:  # CoNLL-2003: the first field of a line is the token, the last its tag
            fields = raw.decode().split()
            if not fields:
                if self.tokens:
                    out.append({"tokens": self.tokens, "tags": self.tags})
                    self.tokens, self.tags = [], []
            elif fields[0] != "-DOCSTART-":
                self.tokens.append(fields[0])
                self.tags.append(fields[-1])
        return out


def reader_for(fmt: str, headers: Mapping[str, str]) -> RowReader:
    """The reader of an export answer with these headers."""
    return RowReader(fmt, headers.get("content-type", ""))


def document_rows(body: bytes) -> Iterator[dict[str, Any]]:
    """A JSON array's elements, or a COCO document's images with their boxes."""
    value = orjson.loads(body)
    if isinstance(value, list):
        yield from value
        return
    if isinstance(value, dict) and {"images", "annotations", "categories"} <= value.keys():
        names = {c["id"]: c["name"] for c in value["categories"]}
        boxes: dict[Any, list[dict[str, Any]]] = {}
        for box in value["annotations"]:
            boxes.setdefault(box["image_id"], []).append({**box, "category": names.get(box["category_id"])})
        for image in value["images"]:
            yield {**image, "annotations": boxes.get(image["id"], [])}
        return
    yield value


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq  # deferred: heavy, and needed only for Parquet
    except ImportError as exc:
        raise missing("pyarrow", "reading a Parquet export") from exc
    return pq


def parquet_rows(fh: IO[bytes]) -> Iterator[dict[str, Any]]:
    with fh:
        for batch in _pyarrow_parquet().ParquetFile(fh).iter_batches(batch_size=PARQUET_BATCH_ROWS):
            yield from batch.to_pylist()


def parquet_table(fh: IO[bytes]) -> Any:
    with fh:
        return _pyarrow_parquet().read_table(fh)


def iter_rows(reader: RowReader, chunks: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    for chunk in chunks:
        yield from reader.feed(chunk)
    yield from reader.finish()


def pandas() -> Any:
    try:
        import pandas as pd  # deferred: an optional dependency of the client
    except ImportError as exc:
        raise missing("pandas", "an export as a DataFrame") from exc
    return pd


def datasets() -> Any:
    try:
        import datasets as hf  # deferred: an optional dependency of the client
    except ImportError as exc:
        raise missing("datasets", "an export as a datasets.Dataset") from exc
    return hf


def to_dataframe(reader: RowReader, fed: list[dict[str, Any]]) -> Any:
    """A DataFrame of an export whose every chunk was fed to ``reader`` (``fed``: the rows that gave).
    A Parquet export keeps its column types."""
    pd = pandas()
    if reader.how == "parquet":
        return reader.table().to_pandas()
    return pd.DataFrame.from_records([*fed, *reader.finish()])


def to_dataset(reader: RowReader, fed: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of an export, as ``to_dataframe``."""
    hf = datasets()
    if reader.how == "parquet":
        return hf.Dataset(reader.table())
    return hf.Dataset.from_list([*fed, *reader.finish()])
