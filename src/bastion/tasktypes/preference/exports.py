"""Preference rows: DPO pairs (chosen/rejected) and, for SFT, the chosen response.

Ties make no DPO pair unless ``include_ties`` (then both orders are unknown:
the row keeps the data's order and says ``"tie": true``); pairs whose strength
is below ``min_strength`` are left out. SFT rows use the preferred response
only (ties give none).
"""

from __future__ import annotations

from collections.abc import Iterable

from .._export import ExportOptions, pair_row, sft_row, strong_enough


def dpo_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    result = annotation["result"]
    responses = task["data"][config.responses_field]
    preferred = result.get("preferred")
    if preferred == "tie":
        if options.include_ties:
            yield pair_row(config, task, annotation, responses[0], responses[1], options, tie=True)
        return
    if not strong_enough(result.get("strength"), options) and config.strength:
        return
    yield pair_row(config, task, annotation, responses[preferred], responses[1 - preferred], options)


def sft_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    preferred = annotation["result"].get("preferred")
    if preferred in (0, 1):
        yield sft_row(config, task, annotation, task["data"][config.responses_field][preferred], options)
