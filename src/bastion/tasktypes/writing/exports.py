"""Writing rows: the prompt and the expert's answer, in TRL's SFT forms."""

from __future__ import annotations

from collections.abc import Iterable

from .._export import ExportOptions, sft_row


def sft_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    yield sft_row(config, task, annotation, annotation["result"]["text"], options)
