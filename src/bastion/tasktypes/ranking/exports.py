"""Ranking rows: every ordered pair becomes a DPO pair; the top response an SFT answer.

A ranking of n responses without ties gives n(n-1)/2 pairs (better, worse).
Tied responses make no pair unless ``include_ties`` (then one row per tied
pair, ``"tie": true``). Strength filters do not apply: a ranking says which is
better, not by how much. SFT rows take the response ranked 1 (none when
several share the first place).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from .._export import ExportOptions, pair_row, sft_row


def dpo_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    ranks = annotation["result"]["ranks"]
    responses = task["data"][config.responses_field]
    by_rank = sorted(range(len(ranks)), key=lambda i: (ranks[i], i))
    for a, b in combinations(by_rank, 2):
        if ranks[a] == ranks[b]:
            if options.include_ties:
                yield pair_row(config, task, annotation, responses[a], responses[b], options, tie=True)
            continue
        yield pair_row(config, task, annotation, responses[a], responses[b], options)


def sft_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    ranks = annotation["result"]["ranks"]
    best = [i for i, r in enumerate(ranks) if r == 1]
    if len(best) == 1:
        yield sft_row(config, task, annotation, task["data"][config.responses_field][best[0]], options)
