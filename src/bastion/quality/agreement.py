"""Inter-annotator agreement on categorical and scaled ratings.

Input is the long table of ratings — parallel sequences of task ids, annotator ids and
values — coded once by :func:`bastion.quality._ratings.code_ratings` (missing values
dropped, one rating per task and annotator, the last one winning). Every figure is a
:class:`~bastion.quality.scores.Score`: a finite float, or ``None`` with a reason.

Figures and the references they equal (to 1e-9, see ``tests/fixtures/quality``):

- :func:`percent_agreement` — mean over tasks rated at least twice of the share of
  agreeing rating pairs in the task;
- :func:`cohen_kappa` — two raters, unweighted / linear / quadratic weights on the
  *positions* of the categories (scikit-learn ``cohen_kappa_score``, statsmodels);
- :func:`fleiss_kappa` — any number of raters (statsmodels ``fleiss_kappa``);
- :func:`krippendorff_alpha` — nominal, ordinal, interval, ratio, with missing values
  (the ``krippendorff`` package);
- :func:`per_label_agreement`, :func:`pairwise_agreement`, :func:`agreement_report` —
  the breakdowns the quality page shows.

Invariants: all figures are symmetric in the annotators; a task rated once carries no
information about agreement and is ignored; nothing here loops in Python over ratings.

The trap: kappa and alpha are *chance-corrected*. When everyone uses a single category,
observed and expected agreement are both 1 and the statistic is 0/0 — undefined, not 1
and not 0. Those cases come back as ``Score(value=None, reason=...)``. See README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._ratings import Ratings, as_array, code_ratings, missing_mask
from .scores import Score, defined, ratio, undefined
from ..domain.errors import InvalidInput

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None

LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")

NO_PAIRABLE_TASK = "no task has two or more ratings"
SINGLE_CATEGORY = "expected agreement is 1: every rating uses the same category"
ZERO_EXPECTED_DISAGREEMENT = "expected disagreement is 0: the pairable ratings are all the same value"


# --------------------------------------------------------------------------- public API


def percent_agreement(tasks: Any, annotators: Any, values: Any) -> Score:
    """Mean, over tasks with at least two ratings, of the share of agreeing rating pairs."""
    return _percent(_TaskCounts.of(code_ratings(tasks, annotators, values)))


def fleiss_kappa(tasks: Any, annotators: Any, values: Any) -> Score:
    """Fleiss' kappa over the tasks with at least two ratings.

    With the same number of ratings per task this is Fleiss (1971) exactly; with varying
    numbers each task's observed agreement uses its own count and category proportions
    pool all pairable ratings (see README.md).
    """
    return _fleiss(_TaskCounts.of(code_ratings(tasks, annotators, values)))


def krippendorff_alpha(
    tasks: Any,
    annotators: Any,
    values: Any,
    *,
    level: Level = "nominal",
    categories: Any = None,
) -> Score:
    """Krippendorff's alpha at the given level of measurement.

    ``categories`` is the ordered value domain; it is required for ordinal string values
    and optional otherwise (default: the sorted observed values).
    """
    _check_level(level)
    ratings = code_ratings(tasks, annotators, values, categories=categories)
    _check_order(ratings, level, categories)
    return _alpha(_TaskCounts.of(ratings), level)


def cohen_kappa(
    ratings_a: Any,
    ratings_b: Any,
    *,
    weights: Weights = None,
    categories: Any = None,
) -> Score:
    """Cohen's kappa between two annotators' paired ratings of the same tasks.

    Position ``i`` of both sequences is the same task; a pair with a missing value on
    either side is dropped. Weighted variants measure disagreement by the distance between
    category *positions* in ``categories`` (default: sorted union of observed values),
    exactly as scikit-learn and statsmodels do — not by the numeric values themselves.
    """
    if weights not in (None, "linear", "quadratic"):
        raise InvalidInput(f"unknown kappa weights {weights!r}; use None, 'linear' or 'quadratic'")
    raw_a = ratings_a if isinstance(ratings_a, np.ndarray) else np.asarray(list(ratings_a), dtype=object)
    raw_b = ratings_b if isinstance(ratings_b, np.ndarray) else np.asarray(list(ratings_b), dtype=object)
    if raw_a.shape[0] != raw_b.shape[0]:
        raise InvalidInput("both annotators' ratings must have the same length")
    keep = ~(missing_mask(raw_a) | missing_mask(raw_b))
    a = as_array(raw_a[keep])
    b = as_array(raw_b[keep])
    n = int(a.size)
    if n == 0:
        return undefined("no task was rated by both annotators")
    ratings = code_ratings(
        np.concatenate([np.arange(n), np.arange(n)]),
        np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]),
        np.concatenate([a, b]),
        categories=categories,
    )
    # Rows are sorted by (task, annotator): even rows are annotator a, odd rows b.
    codes = ratings.value_codes.reshape(n, 2)
    k = int(ratings.categories.size)
    confusion = np.bincount(codes[:, 0] * k + codes[:, 1], minlength=k * k).reshape(k, k).astype(float)
    return _kappa_from_confusion(confusion, weights)


@dataclass(frozen=True, slots=True)
class LabelAgreement:
    """Agreement on one category against all others."""

    label: Any
    n_ratings: int
    specific_agreement: Score
    kappa: Score

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": _plain(self.label),
            "n_ratings": self.n_ratings,
            "specific_agreement": self.specific_agreement.to_dict(),
            "kappa": self.kappa.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Agreement between two annotators on the tasks they both rated."""

    annotator_a: Any
    annotator_b: Any
    n_tasks: int
    percent_agreement: Score
    kappa: Score

    def to_dict(self) -> dict[str, Any]:
        return {
            "annotator_a": _plain(self.annotator_a),
            "annotator_b": _plain(self.annotator_b),
            "n_tasks": self.n_tasks,
            "percent_agreement": self.percent_agreement.to_dict(),
            "kappa": self.kappa.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Overall, per-label and per-annotator-pair agreement of one long table."""

    level: str
    n_tasks: int
    n_annotators: int
    n_ratings: int
    percent_agreement: Score
    fleiss_kappa: Score
    krippendorff_alpha: Score
    per_label: list[LabelAgreement] = field(default_factory=list)
    per_pair: list[PairAgreement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "n_tasks": self.n_tasks,
            "n_annotators": self.n_annotators,
            "n_ratings": self.n_ratings,
            "percent_agreement": self.percent_agreement.to_dict(),
            "fleiss_kappa": self.fleiss_kappa.to_dict(),
            "krippendorff_alpha": self.krippendorff_alpha.to_dict(),
            "per_label": [row.to_dict() for row in self.per_label],
            "per_pair": [row.to_dict() for row in self.per_pair],
        }


def per_label_agreement(tasks: Any, annotators: Any, values: Any, *, categories: Any = None) -> list[LabelAgreement]:
    """For each category: specific agreement and one-vs-rest Fleiss' kappa.

    Specific agreement of label ``l`` is the chance that, given one rating of a task says
    ``l``, another rating of the same task says ``l`` too (for two raters:
    ``2a / (2a + b + c)``). One-vs-rest kappa is :func:`fleiss_kappa` on the data recoded
    to ``l`` / not ``l``. All labels are computed at once.
    """
    return _per_label(_TaskCounts.of(code_ratings(tasks, annotators, values, categories=categories)))


def pairwise_agreement(tasks: Any, annotators: Any, values: Any) -> list[PairAgreement]:
    """Percent agreement and unweighted Cohen's kappa for every pair of annotators
    that rated at least one task in common, ordered by (annotator_a, annotator_b)."""
    return _per_pair(code_ratings(tasks, annotators, values))


def agreement_report(
    tasks: Any,
    annotators: Any,
    values: Any,
    *,
    level: Level = "nominal",
    categories: Any = None,
    include_pairs: bool = True,
) -> AgreementReport:
    """Everything the quality page shows for one long table, coded once.

    Per-label figures are given for nominal and ordinal data (categories); for interval
    and ratio data the list is empty.
    """
    _check_level(level)
    ratings = code_ratings(tasks, annotators, values, categories=categories)
    _check_order(ratings, level, categories)
    counts = _TaskCounts.of(ratings)
    return AgreementReport(
        level=level,
        n_tasks=int(ratings.tasks.size),
        n_annotators=int(ratings.annotators.size),
        n_ratings=ratings.n_ratings,
        percent_agreement=_percent(counts),
        fleiss_kappa=_fleiss(counts),
        krippendorff_alpha=_alpha(counts, level),
        per_label=_per_label(counts) if level in ("nominal", "ordinal") else [],
        per_pair=_per_pair(ratings) if include_pairs else [],
    )


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True, slots=True)
class _TaskCounts:
    """Sparse task x category count table, restricted to pairable tasks (>= 2 ratings).

    One entry per (task, category) present: ``entry_task`` (dense 0..n_tasks-1 over the
    pairable tasks), ``entry_value`` (category code) and ``entry_count``; ``task_total``
    is the number of ratings of each pairable task.
    """

    categories: np.ndarray
    entry_task: np.ndarray
    entry_value: np.ndarray
    entry_count: np.ndarray
    task_total: np.ndarray

    @property
    def n_tasks(self) -> int:
        return int(self.task_total.size)

    @property
    def n_ratings(self) -> int:
        return int(self.task_total.sum())

    @classmethod
    def of(cls, ratings: Ratings) -> _TaskCounts:
        k = max(int(ratings.categories.size), 1)
        per_task = np.bincount(ratings.task_codes, minlength=int(ratings.tasks.size))
        pairable = per_task >= 2
        rows = pairable[ratings.task_codes]
        dense_task = np.cumsum(pairable) - 1
        keys = dense_task[ratings.task_codes[rows]] * k + ratings.value_codes[rows]
        unique_keys, counts = np.unique(keys, return_counts=True)
        return cls(
            categories=ratings.categories,
            entry_task=unique_keys // k,
            entry_value=unique_keys % k,
            entry_count=counts.astype(np.float64),
            task_total=per_task[pairable].astype(np.float64),
        )


def _percent(counts: _TaskCounts) -> Score:
    if counts.n_tasks == 0:
        return undefined(NO_PAIRABLE_TASK)
    m = counts.task_total
    same = np.bincount(counts.entry_task, counts.entry_count * (counts.entry_count - 1), minlength=counts.n_tasks)
    per_task = same / (m * (m - 1))
    return defined(per_task.mean(), n_tasks=counts.n_tasks, n_ratings=counts.n_ratings)


def _fleiss(counts: _TaskCounts) -> Score:
    if counts.n_tasks == 0:
        return undefined(NO_PAIRABLE_TASK)
    m = counts.task_total
    same = np.bincount(counts.entry_task, counts.entry_count * (counts.entry_count - 1), minlength=counts.n_tasks)
    observed = (same / (m * (m - 1))).mean()
    shares = np.bincount(counts.entry_value, counts.entry_count, minlength=counts.categories.size) / m.sum()
    expected = float(np.sum(shares**2))
    return _chance_corrected(observed, expected, counts.n_tasks, counts.n_ratings)


def _chance_corrected(observed: float, expected: float, n_tasks: int, n_ratings: int) -> Score:
    # 1 - expected underflows to a tiny positive number when one category holds all ratings.
    if 1.0 - expected <= 1e-15:
        return undefined(SINGLE_CATEGORY, n_tasks=n_tasks, n_ratings=n_ratings)
    return defined((observed - expected) / (1.0 - expected), n_tasks=n_tasks, n_ratings=n_ratings)


def _kappa_from_confusion(confusion: np.ndarray, weights: Weights) -> Score:
    n = float(confusion.sum())
    k = confusion.shape[0]
    positions = np.arange(k, dtype=np.float64)
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights == "linear":
        w = np.abs(positions[:, None] - positions[None, :])
    else:
        w = (positions[:, None] - positions[None, :]) ** 2
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / n
    expected_disagreement = float(np.sum(w * expected))
    if expected_disagreement <= 0.0:
        return undefined(SINGLE_CATEGORY, n_tasks=int(n), n_ratings=int(2 * n))
    return defined(1.0 - float(np.sum(w * confusion)) / expected_disagreement, n_tasks=int(n), n_ratings=int(2 * n))


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise InvalidInput(f"unknown level of measurement {level!r}; use one of {', '.join(LEVELS)}")


def _check_order(ratings: Ratings, level: str, categories: Any) -> None:
    # Alphabetical order is almost never the intended order of ordinal words.
    if (
        level == "ordinal"
        and categories is None
        and ratings.categories.size
        and ratings.categories.dtype.kind not in "iufb"
    ):
        raise InvalidInput("ordinal alpha on non-numeric values needs the ordered categories")


def _numeric_domain(categories: np.ndarray, level: str) -> np.ndarray:
    if categories.dtype.kind not in "iufb":
        raise InvalidInput(f"{level} alpha needs numeric values, got {categories.dtype}")
    return categories.astype(np.float64)


def _alpha(counts: _TaskCounts, level: str) -> Score:
    if counts.n_tasks == 0:
        return undefined(NO_PAIRABLE_TASK)
    k = int(counts.categories.size)
    n_v = np.bincount(counts.entry_value, counts.entry_count, minlength=k)
    n = float(n_v.sum())
    present = n_v > 0
    if level == "nominal":
        position = np.arange(k, dtype=np.float64)
    elif level == "ordinal":
        # delta(c, k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2 = (z_k - z_c)^2 with z the
        # mid-cumulative frequency, so ordinal alpha is interval alpha on z.
        position = np.cumsum(n_v) - n_v / 2.0
    else:
        position = _numeric_domain(counts.categories, level)

    # Observed disagreement: sum over pairs of entries of the same task.
    left, right = _entry_pairs(counts.entry_task)
    c_left = counts.entry_count[left]
    c_right = counts.entry_count[right] - (left == right)
    weight = c_left * c_right / (counts.task_total[counts.entry_task[left]] - 1.0)
    delta = _delta(level, position[counts.entry_value[left]], position[counts.entry_value[right]])
    observed = float(np.sum(weight * delta))

    expected = _expected_disagreement(level, position[present], n_v[present])
    if expected <= 0.0:
        return undefined(ZERO_EXPECTED_DISAGREEMENT, n_tasks=counts.n_tasks, n_ratings=counts.n_ratings)
    return defined(1.0 - (n - 1.0) * observed / expected, n_tasks=counts.n_tasks, n_ratings=counts.n_ratings)


def _delta(level: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if level == "nominal":
        return (x != y).astype(np.float64)
    if level in ("interval", "ordinal"):
        return (x - y) ** 2
    total = x + y
    safe = np.where(total == 0, 1.0, total)
    return np.where(total == 0, 0.0, ((x - y) / safe) ** 2)


def _expected_disagreement(level: str, position: np.ndarray, n_v: np.ndarray) -> float:
    """sum over value pairs of n_c * n_k * delta(c, k)."""
    n = float(n_v.sum())
    if level == "nominal":
        return n * n - float(np.sum(n_v**2))
    if level in ("interval", "ordinal"):
        # 2 * n * sum n_c (x_c - mean)^2, centred first to avoid cancellation.
        mean = float(np.sum(n_v * position)) / n
        return 2.0 * n * float(np.sum(n_v * (position - mean) ** 2))
    total = 0.0
    block = max(1, 4_000_000 // max(position.size, 1))
    for start in range(0, position.size, block):  # bounded memory for many distinct values
        x = position[start : start + block, None]
        total += float(np.sum(n_v[start : start + block, None] * n_v[None, :] * _delta("ratio", x, position[None, :])))
    return total


def _entry_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered (i, j) index pairs, i == j included, of entries sharing a group.

    ``group`` must be sorted. Cost is the sum of squared group sizes.
    """
    size = np.bincount(group)
    start = np.cumsum(size) - size
    reps = size[group]
    left = np.repeat(np.arange(group.size), reps)
    offsets = np.arange(left.size) - np.repeat(np.cumsum(reps) - reps, reps)
    right = start[group[left]] + offsets
    return left, right


def _per_label(counts: _TaskCounts) -> list[LabelAgreement]:
    k = int(counts.categories.size)
    m = counts.task_total
    c = counts.entry_count
    m_entry = m[counts.entry_task]
    n_label = np.bincount(counts.entry_value, c, minlength=k)
    same = np.bincount(counts.entry_value, c * (c - 1), minlength=k)
    possible = np.bincount(counts.entry_value, c * (m_entry - 1), minlength=k)

    # One-vs-rest Fleiss: a task without the label agrees perfectly on "not l" (share 1).
    n_tasks = counts.n_tasks
    agree_share = (c * (c - 1) + (m_entry - c) * (m_entry - c - 1)) / (m_entry * (m_entry - 1))
    tasks_with = np.bincount(counts.entry_value, minlength=k)
    observed = (np.bincount(counts.entry_value, agree_share, minlength=k) + (n_tasks - tasks_with)) / max(n_tasks, 1)
    total = float(m.sum())
    p = n_label / total if total else np.zeros(k)
    expected = p**2 + (1.0 - p) ** 2

    rows = []
    for index in range(k):  # one row per category for the report, not per rating
        if n_tasks == 0:
            specific = undefined(NO_PAIRABLE_TASK)
            kappa = undefined(NO_PAIRABLE_TASK)
        else:
            specific = ratio(
                float(same[index]),
                float(possible[index]),
                reason="the label is not used on any task rated twice",
                n_tasks=int(tasks_with[index]),
                n_ratings=int(n_label[index]),
            )
            kappa = _chance_corrected(float(observed[index]), float(expected[index]), n_tasks, counts.n_ratings)
        rows.append(
            LabelAgreement(
                label=_plain(counts.categories[index]),
                n_ratings=int(n_label[index]),
                specific_agreement=specific,
                kappa=kappa,
            )
        )
    return rows


def _per_pair(ratings: Ratings) -> list[PairAgreement]:
    left, right = _entry_pairs(ratings.task_codes)
    keep = left < right  # rows are sorted by annotator within a task: left < right is a < b
    left, right = left[keep], right[keep]
    n_annotators = max(int(ratings.annotators.size), 1)
    k = max(int(ratings.categories.size), 1)
    a = ratings.annotator_codes[left]
    b = ratings.annotator_codes[right]
    va = ratings.value_codes[left]
    vb = ratings.value_codes[right]
    pair_keys, pair_index, pair_n = np.unique(a * n_annotators + b, return_inverse=True, return_counts=True)
    n_pairs = int(pair_keys.size)
    agree = np.bincount(pair_index, (va == vb).astype(np.float64), minlength=n_pairs)
    # Expected agreement sum_v p_a(v) p_b(v) over the pair's common tasks, from sparse marginals.
    keys_a, count_a = np.unique(pair_index * k + va, return_counts=True)
    keys_b, count_b = np.unique(pair_index * k + vb, return_counts=True)
    common, at_a, at_b = np.intersect1d(keys_a, keys_b, assume_unique=True, return_indices=True)
    matched = np.bincount(common // k, count_a[at_a] * count_b[at_b].astype(np.float64), minlength=n_pairs)
    n = pair_n.astype(np.float64)
    observed = agree / n
    expected = matched / (n * n)
    rows = []
    for index in range(n_pairs):  # one row per annotator pair for the report
        tasks_in_common = int(pair_n[index])
        rows.append(
            PairAgreement(
                annotator_a=_plain(ratings.annotators[pair_keys[index] // n_annotators]),
                annotator_b=_plain(ratings.annotators[pair_keys[index] % n_annotators]),
                n_tasks=tasks_in_common,
                percent_agreement=defined(observed[index], n_tasks=tasks_in_common, n_ratings=2 * tasks_in_common),
                kappa=_chance_corrected(
                    float(observed[index]), float(expected[index]), tasks_in_common, 2 * tasks_in_common
                ),
            )
        )
    return rows


def _plain(value: Any) -> Any:
    """A NumPy scalar as the matching Python value, for JSON."""
    return value.item() if isinstance(value, np.generic) else value
