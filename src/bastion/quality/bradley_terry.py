"""Bradley–Terry scores from pairwise preferences (and rankings expanded to pairs).

Each candidate ``i`` has a positive score ``p_i`` (scores sum to 1) and
``P(i preferred to j) = p_i / (p_i + p_j)``. The maximum-likelihood scores are found
with Hunter's (2004) MM iteration::

    p_i <- W_i / sum_j n_ij / (p_i + p_j),   then normalise,

where ``W_i`` is the number of comparisons ``i`` won and ``n_ij`` the number of
comparisons between ``i`` and ``j``. A tie counts as half a win for each side. Each
iteration is two ``bincount`` calls over the distinct compared pairs.

Invariants: scores are finite, non-negative and sum to 1; relabelling candidates
permutes the scores. The maximum-likelihood estimate exists only when every candidate
both wins and loses along some chain of comparisons (the comparison graph is strongly
connected): a candidate that never wins converges to 0, and one that never loses
pulls everyone else down — ``converged`` is then usually False.

The trap: crowd-kit 1.4.2's ``BradleyTerry`` aliases its "previous" and "new" score
arrays, so its stopping test compares an array with itself and it always stops after
two MM steps; do not use it as a reference for converged scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._ratings import group_starts
from ..domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class BradleyTerryResult:
    candidates: np.ndarray  # sorted candidate ids
    scores: np.ndarray  # aligned with candidates, sums to 1
    annotators: np.ndarray
    skills: np.ndarray  # share of each annotator's decided comparisons the scores agree with
    n_iterations: int
    converged: bool

    def ranking(self) -> np.ndarray:
        """Candidates best first (ties by candidate id)."""
        return self.candidates[np.lexsort((np.arange(self.scores.size), -self.scores))]

    def annotator_records(self) -> list[dict[str, Any]]:
        return [
            {"annotator": a, "skill": s} for a, s in zip(self.annotators.tolist(), self.skills.tolist(), strict=True)
        ]


def bradley_terry(
    annotators: Any,
    first: Any,
    second: Any,
    outcomes: Any,
    *,
    max_iterations: int = 10_000,
    tolerance: float = 1e-10,
) -> BradleyTerryResult:
    """Fit scores to comparisons ``first`` vs ``second`` with canonical ``outcomes`` in
    {"A", "B", "tie"} ("A": ``first`` preferred). Stops when no score moves by more than
    ``tolerance`` times the largest score."""
    annotator_ids = np.asarray(list(annotators) if not isinstance(annotators, np.ndarray) else annotators)
    left = np.asarray(list(first) if not isinstance(first, np.ndarray) else first)
    right = np.asarray(list(second) if not isinstance(second, np.ndarray) else second)
    outcome = np.asarray(list(outcomes) if not isinstance(outcomes, np.ndarray) else outcomes).astype(str)
    if not (annotator_ids.shape == left.shape == right.shape == outcome.shape):
        raise InvalidInput("annotators, first, second and outcomes must have the same length")
    if np.any(~np.isin(outcome, ("A", "B", "tie"))):
        raise InvalidInput("an outcome is 'A', 'B' or 'tie'")
    if left.size and np.any(left == right):
        raise InvalidInput("a comparison needs two different candidates")
    if left.size == 0:
        empty = np.zeros(0)
        return BradleyTerryResult(np.asarray([]), empty, np.asarray([]), empty, 0, True)

    candidates, codes = np.unique(np.concatenate([left, right]), return_inverse=True)
    codes = codes.ravel()
    n = int(candidates.size)
    i, j = codes[: left.size], codes[left.size :]
    win_i = np.where(outcome == "A", 1.0, np.where(outcome == "B", 0.0, 0.5))
    wins = np.bincount(i, win_i, minlength=n) + np.bincount(j, 1.0 - win_i, minlength=n)

    # Distinct unordered pairs with their comparison counts.
    low, high = np.minimum(i, j), np.maximum(i, j)
    pair_keys, pair_counts = np.unique(low * n + high, return_counts=True)
    pa, pb = pair_keys // n, pair_keys % n
    counts = pair_counts.astype(np.float64)

    scores = np.full(n, 1.0 / n)
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007  (the count is read after the loop)
        total = scores[pa] + scores[pb]
        inverse = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
        denominator = np.bincount(pa, inverse, minlength=n) + np.bincount(pb, inverse, minlength=n)
        updated = np.divide(wins, denominator, out=np.zeros(n), where=denominator > 0)
        updated /= updated.sum()
        change = float(np.max(np.abs(updated - scores)))
        scores = updated
        if change <= tolerance * float(scores.max()):
            converged = True
            break

    annotator_values, annotator_codes = np.unique(annotator_ids, return_inverse=True)
    annotator_codes = annotator_codes.ravel()
    decided = outcome != "tie"
    preferred_first = scores[i] > scores[j]
    preferred_second = scores[i] < scores[j]
    agrees = np.where(outcome == "A", preferred_first, preferred_second) & decided
    n_decided = np.bincount(annotator_codes, decided.astype(np.float64), minlength=annotator_values.size)
    skills = np.bincount(annotator_codes, agrees.astype(np.float64), minlength=annotator_values.size)
    skills = np.divide(skills, n_decided, out=np.zeros_like(skills), where=n_decided > 0)
    return BradleyTerryResult(candidates, scores, annotator_values, skills, iterations, converged)


def pairs_from_rankings(rankings: Any, annotators: Any, candidates: Any, positions: Any) -> dict[str, np.ndarray]:
    """Expand rankings, given in long form, into pairwise comparisons.

    Row ``r`` says that in ranking ``rankings[r]`` (by ``annotators[r]``) candidate
    ``candidates[r]`` is at ``positions[r]`` (smaller is better). Every two candidates
    of one ranking make one comparison: the better placed is "A" (first); equal
    positions make a "tie". Returns columns for :func:`bradley_terry`.
    """
    ranking_ids = np.asarray(list(rankings) if not isinstance(rankings, np.ndarray) else rankings)
    annotator_ids = np.asarray(list(annotators) if not isinstance(annotators, np.ndarray) else annotators)
    candidate_ids = np.asarray(list(candidates) if not isinstance(candidates, np.ndarray) else candidates)
    place = np.asarray(list(positions) if not isinstance(positions, np.ndarray) else positions, dtype=np.float64)
    if not (ranking_ids.shape == annotator_ids.shape == candidate_ids.shape == place.shape):
        raise InvalidInput("rankings, annotators, candidates and positions must have the same length")
    _, ranking_codes = np.unique(ranking_ids, return_inverse=True)
    ranking_codes = ranking_codes.ravel()
    order = np.lexsort((place, ranking_codes))
    group = ranking_codes[order]
    starts = group_starts(group)
    size = np.diff(np.append(starts, group.size))
    # Pair every row with the rows after it in its ranking.
    within = np.arange(group.size) - np.repeat(starts, size)
    after = np.repeat(size, size) - within - 1
    left = np.repeat(np.arange(group.size), after)
    offset = np.arange(left.size) - np.repeat(np.cumsum(after) - after, after) + 1
    right = left + offset
    left, right = order[left], order[right]
    outcome = np.where(place[left] < place[right], "A", "tie")
    return {
        "annotators": annotator_ids[left],
        "first": candidate_ids[left],
        "second": candidate_ids[right],
        "outcomes": outcome,
    }
