"""A third party's export format for Bastion: fastText's supervised training file.

It is shipped the way a distribution would ship it — this package and its
``bastion_fasttext-1.0.dist-info`` (an ``entry_points.txt`` naming this module in
the ``bastion`` group) — and found through that entry point; nothing in Bastion
names it. One line per annotation of a classification project::

    __label__positive __label__urgent the task's text on one line

The format encodes Bastion's lossless rows (every task type has them), narrowed
to classification projects; the text is the data field the project's config
labels (``encoding.config.field``), whitespace folded so a line stays a line.
"""

from __future__ import annotations

from collections.abc import Iterator

from bastion.exporting import Encoding, ExportFormat
from bastion.plugins import hookimpl


def _label(value: str) -> str:
    return "__label__" + "_".join(value.split())


def encode_fasttext(rows: Iterator[dict], encoding: Encoding) -> Iterator[bytes]:
    field = encoding.config.field
    lines: list[str] = []
    for row in rows:
        text = " ".join(str(row["data"].get(field, "")).split())
        annotations = [row["annotation"]] if "annotation" in row else row["annotations"]
        for annotation in annotations:
            result = annotation["result"]
            labels = result.get("labels") or [result["label"]]
            lines.append(" ".join(_label(label) for label in labels) + " " + text + "\n")
        if len(lines) >= 500:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


FASTTEXT = ExportFormat(
    name="fasttext",
    media_type="text/plain; charset=utf-8",
    extension="fasttext.txt",
    encode=encode_fasttext,
    task_types=("classification",),
    split_column=False,
    description="fastText supervised training lines: __label__LABEL text, one per annotation",
)


@hookimpl
def bastion_export_formats():
    return [FASTTEXT]
