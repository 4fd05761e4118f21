"""Ranking quality: rank correlation between annotators, and Bradley–Terry per task (NumPy: loaded on first use)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from .._quality import pairs_by_task
from ..base import Rating
from ...quality import bradley_terry, rank_correlation


def agreement(ratings: Sequence[Rating]) -> dict[str, Any]:
    """Kendall's τ-b and Spearman's ρ between every two annotators on the tasks both ranked."""
    taus, rhos, per_pair = [], [], []
    for (ua, ub), items in pairs_by_task(ratings).items():
        pair_tau = []
        for _task, ra, rb in items:
            corr = rank_correlation(ra["ranks"], rb["ranks"])
            if corr.kendall_tau_b.value is not None:
                pair_tau.append(corr.kendall_tau_b.value)
                taus.append(corr.kendall_tau_b.value)
            if corr.spearman_rho.value is not None:
                rhos.append(corr.spearman_rho.value)
        per_pair.append(
            {
                "annotator_a": ua,
                "annotator_b": ub,
                "n_tasks": len(items),
                "mean_kendall_tau": round(statistics.fmean(pair_tau), 4) if pair_tau else None,
            }
        )
    mean_tau = round(statistics.fmean(taus), 4) if taus else None
    return {
        "kind": "ranking",
        "mean_kendall_tau": mean_tau,
        "mean_spearman_rho": round(statistics.fmean(rhos), 4) if rhos else None,
        "per_pair": per_pair,
        "summary": f"mean Kendall τ-b = {mean_tau:.2f}" if mean_tau is not None else "no task ranked by two people yet",
    }


def bradley_terry_orders(ratings: Sequence[Rating]) -> dict[str, dict[str, Any]]:
    """Per task, every ranking expanded to its pairs (a tie is half a win each) and fitted by Bradley–Terry:
    ``{"order": [best response index, …], "scores": [per response], "n", "method": "bt"}``."""
    by_task: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_task[rating.task].append(rating)
    out = {}
    for task, items in by_task.items():
        ranks = [rating.result["ranks"] for rating in items]
        n_items = len(ranks[0])
        first, second, outcome, who = [], [], [], []
        for rating, r in zip(items, ranks, strict=True):
            for i, j in combinations(range(n_items), 2):
                first.append(i)
                second.append(j)
                outcome.append("A" if r[i] < r[j] else "B" if r[i] > r[j] else "tie")
                who.append(rating.user)
        fit = bradley_terry(who, first, second, outcome)
        scores = dict(zip(fit.candidates.tolist(), fit.scores.tolist(), strict=True))
        order = [int(c) for c in fit.ranking().tolist()]
        out[task] = {
            "order": order,
            "scores": [round(float(scores.get(i, 0.0)), 6) for i in range(n_items)],
            "n": len(items),
            "method": "bt",
        }
    return out
