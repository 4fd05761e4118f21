"""Rank correlation between two annotators' rankings of the same candidates.

Inputs are paired scores: position ``i`` of both sequences belongs to the same candidate,
and a smaller (or larger — only the order matters) number means a better place. Ties
are allowed.

- Kendall's tau-b: ``(concordant - discordant) / sqrt((n0 - n1)(n0 - n2))`` where ``n0``
  is the number of pairs and ``n1``/``n2`` the pairs tied in the first/second ranking
  (scipy ``kendalltau``, variant b). Discordant pairs are counted as inversions with a
  vectorised bottom-up merge, O(n log² n) — no Python loop over candidates.
- Spearman's rho: Pearson correlation of the average ranks (scipy ``spearmanr``).

Both are undefined (``None``) when a ranking is constant or fewer than two candidates
are ranked by both. The trap: tau-a (no tie correction) and tau-b differ as soon as
there are ties; rankings with ties are common when annotators bucket candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._ratings import missing_mask
from .scores import Score, defined, undefined
from ..domain.errors import InvalidInput

TOO_FEW = "fewer than two candidates are ranked by both"
CONSTANT = "a ranking puts every candidate in the same place"


@dataclass(frozen=True, slots=True)
class RankCorrelation:
    kendall_tau_b: Score
    spearman_rho: Score

    def to_dict(self) -> dict[str, Any]:
        return {"kendall_tau_b": self.kendall_tau_b.to_dict(), "spearman_rho": self.spearman_rho.to_dict()}


def rank_correlation(ranks_a: Any, ranks_b: Any) -> RankCorrelation:
    """Kendall's tau-b and Spearman's rho of two paired rankings (missing pairs dropped)."""
    x, y = _paired(ranks_a, ranks_b)
    return RankCorrelation(kendall_tau_b=_kendall_tau_b(x, y), spearman_rho=_spearman_rho(x, y))


def positions_from_orders(order_a: Any, order_b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Turn two orderings (best first) of candidate ids into paired positions.

    Only candidates present in both orderings are kept, in sorted id order.
    """
    a = np.asarray(list(order_a))
    b = np.asarray(list(order_b))
    if np.unique(a).size != a.size or np.unique(b).size != b.size:
        raise InvalidInput("an ordering lists each candidate once")
    _, at_a, at_b = np.intersect1d(a, b, return_indices=True)
    return at_a.astype(np.float64), at_b.astype(np.float64)


def _paired(ranks_a: Any, ranks_b: Any) -> tuple[np.ndarray, np.ndarray]:
    raw_a = ranks_a if isinstance(ranks_a, np.ndarray) else np.asarray(list(ranks_a), dtype=object)
    raw_b = ranks_b if isinstance(ranks_b, np.ndarray) else np.asarray(list(ranks_b), dtype=object)
    if raw_a.shape != raw_b.shape or raw_a.ndim != 1:
        raise InvalidInput("both rankings must be flat and of the same length")
    keep = ~(missing_mask(raw_a) | missing_mask(raw_b))
    try:
        x = np.asarray(raw_a[keep].tolist(), dtype=np.float64)
        y = np.asarray(raw_b[keep].tolist(), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("ranks must be numbers") from exc
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InvalidInput("ranks must be finite numbers")
    return x, y


def _tied_pairs(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    counts = counts.astype(np.float64)
    return float(np.sum(counts * (counts - 1) / 2))


def _kendall_tau_b(x: np.ndarray, y: np.ndarray) -> Score:
    n = x.size
    if n < 2:
        return undefined(TOO_FEW, n_tasks=n)
    n0 = n * (n - 1) / 2
    n1 = _tied_pairs(x)
    n2 = _tied_pairs(y)
    if n1 == n0 or n2 == n0:
        return undefined(CONSTANT, n_tasks=n)
    n3 = _tied_pairs(np.stack([x, y], axis=1).view([("x", np.float64), ("y", np.float64)]).ravel())
    order = np.lexsort((y, x))
    _, y_dense = np.unique(y[order], return_inverse=True)
    discordant = float(_count_inversions(y_dense.ravel().astype(np.int64)))
    # Pairs tied in x are sorted by y, so they add no inversion; pairs tied in y are not
    # inversions because inversions are strict.
    score = n0 - n1 - n2 + n3 - 2.0 * discordant
    return defined(score / np.sqrt((n0 - n1) * (n0 - n2)), n_tasks=n, n_ratings=2 * n)


def _count_inversions(values: np.ndarray) -> int:
    """Number of pairs i < j with values[i] > values[j]; values are dense ranks >= 0."""
    n = values.size
    span = int(values.max()) + 1 if n else 1
    current = values.copy()
    width = 1
    inversions = 0
    position = np.arange(n)
    while width < n:
        # Blocks of ``width`` are sorted. Pair block 2m (left) with block 2m + 1 (right).
        block = position // width
        pair = block // 2
        is_left = (block % 2) == 0
        left_keys = pair[is_left] * span + current[is_left]
        right_values = current[~is_left]
        right_pair = pair[~is_left]
        # For each right element: how many left elements of the same pair are greater.
        upto = np.searchsorted(left_keys, right_pair * span + right_values, side="right")
        left_end = np.searchsorted(left_keys, (right_pair + 1) * span, side="left")
        inversions += int(np.sum(left_end - upto))
        # Merge: sort within each pair of blocks.
        merged = np.sort(pair * span + current, kind="stable")
        current = merged - pair * span
        width *= 2
    return inversions


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    new_group = np.concatenate(([True], sorted_values[1:] != sorted_values[:-1]))
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.concatenate((starts[1:], [values.size]))
    average = (starts + ends - 1) / 2.0 + 1.0
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def _spearman_rho(x: np.ndarray, y: np.ndarray) -> Score:
    n = x.size
    if n < 2:
        return undefined(TOO_FEW, n_tasks=n)
    rx = _average_ranks(x)
    ry = _average_ranks(y)
    dx = rx - rx.mean()
    dy = ry - ry.mean()
    sxx = float(np.dot(dx, dx))
    syy = float(np.dot(dy, dy))
    if sxx == 0.0 or syy == 0.0:
        return undefined(CONSTANT, n_tasks=n)
    rho = float(np.dot(dx, dy)) / np.sqrt(sxx * syy)
    return defined(min(1.0, max(-1.0, rho)), n_tasks=n, n_ratings=2 * n)
