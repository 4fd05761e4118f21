"""Label aggregation: one answer per task from several annotators' labels.

Methods (all take the long table ``tasks, annotators, labels`` and return a
:class:`~bastion.quality._labels.CategoricalAggregation`):

- :func:`majority_vote` — vote shares; a tie is drawn per task (keyed by ``tie_seed``).
- :func:`dawid_skene` — EM over a full K x K confusion matrix per annotator
  (Dawid & Skene 1979).
- :func:`one_coin_dawid_skene` — one accuracy per annotator, errors spread evenly over
  the other classes (Zhang et al. 2016).
- :func:`glad` — annotator ability x task easiness (Whitehill et al. 2009), in
  :mod:`bastion.quality.glad`.
- :func:`mace` — annotators who either know the answer or spam from a personal
  distribution (Hovy et al. 2013), in :mod:`bastion.quality.mace`.
- :func:`bradley_terry` — scores from pairwise preferences, in
  :mod:`bastion.quality.bradley_terry`.

They follow Toloka crowd-kit 1.4.2 step for step — majority-vote initialisation, the
1e-10 probability floor, the evidence lower bound per label as the stopping rule — so
their posteriors match it (see ``tests/fixtures/quality``), but every step is a handful
of NumPy reductions over the rows sorted by task, with no Python loop over labels.

Invariants: posteriors are finite and each row sums to 1; results do not depend on the
order of the input rows (apart from documented crowd-kit-compatible seeding in MACE).

The trap: EM finds a *local* optimum. Initialising from majority vote is what makes
Dawid–Skene land on the sensible one (a uniform start can converge to a permuted
labelling); keep that initialisation when changing the code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._labels import (
    EPS,
    CategoricalAggregation,
    LabelTable,
    code_labels,
    empty_result,
    finish,
    single_class_result,
)
from .bradley_terry import BradleyTerryResult, bradley_terry, pairs_from_rankings
from .glad import glad
from .mace import mace

__all__ = [
    "BradleyTerryResult",
    "CategoricalAggregation",
    "bradley_terry",
    "dawid_skene",
    "glad",
    "mace",
    "majority_vote",
    "one_coin_dawid_skene",
    "pairs_from_rankings",
]


def majority_vote(tasks: Any, annotators: Any, labels: Any, *, tie_seed: str = "") -> CategoricalAggregation:
    """Vote shares per task; the confidence is the winning share.

    Tie rule: among classes with the most votes, one is drawn per task by a hash of the
    task id keyed by ``tie_seed`` (``_labels.pick_winners``) — every tied class equally
    likely, and the same inputs and seed always give the same answer; ``tied`` marks them.
    """
    table, _ = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("majority_vote", table)
    return finish("majority_vote", table, table.vote_shares(), n_iterations=0, converged=True, tie_seed=tie_seed)


def dawid_skene(
    tasks: Any,
    annotators: Any,
    labels: Any,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    tie_seed: str = "",
) -> CategoricalAggregation:
    """Dawid–Skene with full confusion matrices, initialised from majority vote.

    Stops when the evidence lower bound per label improves by less than ``tolerance``.
    ``parameters["confusion"][w, y, c]`` is P(annotator w answers y | true class c) and
    ``parameters["priors"]`` the class priors.
    """
    table, _ = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("dawid_skene", table)
    if table.n_classes == 1:
        return single_class_result("dawid_skene", table)
    return _DawidSkene(table).fit(max_iterations, tolerance, tie_seed)


def one_coin_dawid_skene(
    tasks: Any,
    annotators: Any,
    labels: Any,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    tie_seed: str = "",
) -> CategoricalAggregation:
    """Dawid–Skene where annotator w is right with probability ``s_w`` and otherwise
    picks one of the other K - 1 classes uniformly. ``parameters["accuracy"]`` is ``s``."""
    table, _ = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("one_coin_dawid_skene", table)
    if table.n_classes == 1:
        return single_class_result("one_coin_dawid_skene", table)
    return _OneCoin(table).fit(max_iterations, tolerance, tie_seed)


class _DawidSkene:
    """EM state for the full model.

    Posteriors are held class-major, shape (K, n_tasks), so that reductions over classes
    run along contiguous rows and each step is K vectorised passes over the labels: the
    E-step sums each label's log-confusion per task (reduceat over the task-sorted rows),
    the M-step scatters posteriors into the small (annotator, given label) x K table.
    """

    def __init__(self, table: LabelTable) -> None:
        self.table = table
        k = table.n_classes
        self.cell = table.worker * k + table.label  # (annotator, given label) cell per row
        self.cell_ids = np.flatnonzero(np.bincount(self.cell, minlength=table.n_workers * k))

    def fit(self, max_iterations: int, tolerance: float, tie_seed: str) -> CategoricalAggregation:
        table = self.table
        posteriors = np.ascontiguousarray(table.vote_shares().T)
        priors = posteriors.mean(axis=1)
        confusion, counts = self.m_step(posteriors)
        loss = -np.inf
        iterations = 0
        converged = False
        for iterations in range(1, max_iterations + 1):  # noqa: B007  (the count is read after the loop)
            priors = np.maximum(priors, EPS)
            posteriors = self.e_step(confusion, priors)
            priors = posteriors.mean(axis=1)
            confusion, counts = self.m_step(posteriors)
            new_loss = self.lower_bound(posteriors, np.maximum(priors, EPS), confusion, counts)
            if new_loss - loss < tolerance:
                converged = True
                break
            loss = new_loss
        k = table.n_classes
        return finish(
            "dawid_skene",
            table,
            np.ascontiguousarray(posteriors.T),
            n_iterations=iterations,
            converged=converged,
            parameters={"confusion": confusion.reshape(table.n_workers, k, k), "priors": priors},
            tie_seed=tie_seed,
        )

    def m_step(self, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Confusion rows per (annotator, given label) cell, normalised per true class."""
        table = self.table
        k = table.n_classes
        n_cells = table.n_workers * k
        counts = np.empty((n_cells, k))
        for c in range(k):  # K passes over the labels, each one bincount
            counts[:, c] = np.bincount(self.cell, posteriors[c][table.task], minlength=n_cells)
        confusion = np.zeros_like(counts)
        # Only cells an annotator used exist (as in crowd-kit); the floor applies to them.
        confusion[self.cell_ids] = np.maximum(counts[self.cell_ids], EPS)
        confusion = confusion.reshape(table.n_workers, k, k)  # type: ignore[assignment]  # 2-D to 3-D
        confusion /= confusion.sum(axis=1, keepdims=True)
        return confusion.reshape(n_cells, k), counts

    def e_step(self, confusion: np.ndarray, priors: np.ndarray) -> np.ndarray:
        table = self.table
        k = table.n_classes
        log_confusion = np.zeros_like(confusion)
        log_confusion[self.cell_ids] = np.log(confusion[self.cell_ids])
        log_confusion = np.ascontiguousarray(log_confusion.T)
        scores = np.empty((k, table.n_tasks))
        for c in range(k):
            scores[c] = np.add.reduceat(log_confusion[c][self.cell], table.task_starts) + np.log(priors[c])
        scores -= scores.max(axis=0)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=0)
        return scores

    def lower_bound(
        self, posteriors: np.ndarray, priors: np.ndarray, confusion: np.ndarray, counts: np.ndarray
    ) -> float:
        """Expected complete-data log-likelihood plus posterior entropy, per label.

        As in crowd-kit, the class prior enters once per *label*, not once per task.
        """
        cells = self.cell_ids
        joint = float(np.sum(counts[cells] * np.log(confusion[cells])))
        joint += float(np.sum(counts.sum(axis=0) * np.log(priors)))
        floored = np.maximum(posteriors, EPS)
        entropy = -float(np.sum(floored * np.log(floored)))
        return (joint + entropy) / self.table.n


class _OneCoin:
    """EM state for the one-coin model. With one accuracy per annotator the E-step is
    O(rows), not O(rows x K): every class gets the "wrong" log-probability, and the class
    actually given gets the difference added. Posteriors are class-major (K, n_tasks)."""

    def __init__(self, table: LabelTable) -> None:
        self.table = table
        self.per_worker = np.bincount(table.worker, minlength=table.n_workers).astype(np.float64)
        self.class_task = table.label * table.n_tasks + table.task
        self.per_task = np.diff(np.append(table.task_starts, table.n)).astype(np.float64)

    def fit(self, max_iterations: int, tolerance: float, tie_seed: str) -> CategoricalAggregation:
        table = self.table
        posteriors = np.ascontiguousarray(table.vote_shares().T)
        priors = posteriors.mean(axis=1)
        accuracy = self.m_step(posteriors)
        loss = -np.inf
        iterations = 0
        converged = False
        for iterations in range(1, max_iterations + 1):  # noqa: B007  (the count is read after the loop)
            priors = np.maximum(priors, EPS)
            posteriors = self.e_step(accuracy, priors)
            priors = posteriors.mean(axis=1)
            accuracy = self.m_step(posteriors)
            new_loss = self.lower_bound(posteriors, np.maximum(priors, EPS), accuracy)
            if new_loss - loss < tolerance:
                converged = True
                break
            loss = new_loss
        return finish(
            "one_coin_dawid_skene",
            table,
            np.ascontiguousarray(posteriors.T),
            n_iterations=iterations,
            converged=converged,
            parameters={"accuracy": accuracy, "priors": priors},
            tie_seed=tie_seed,
        )

    def m_step(self, posteriors: np.ndarray) -> np.ndarray:
        table = self.table
        given = posteriors.ravel()[self.class_task]
        return np.bincount(table.worker, given, minlength=table.n_workers) / np.maximum(self.per_worker, 1)

    def log_right_wrong(self, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.table.n_classes
        right = np.clip(accuracy, EPS, 1 - EPS)
        wrong = np.clip((1 - accuracy) / (k - 1), EPS, 1 - EPS)
        return np.log(right), np.log(wrong)

    def e_step(self, accuracy: np.ndarray, priors: np.ndarray) -> np.ndarray:
        table = self.table
        k = table.n_classes
        log_right, log_wrong = self.log_right_wrong(accuracy)
        base = np.add.reduceat(log_wrong[table.worker], table.task_starts)
        scores = np.bincount(
            self.class_task, (log_right - log_wrong)[table.worker], minlength=k * table.n_tasks
        ).reshape(k, table.n_tasks)
        scores += base
        scores += np.log(priors)[:, None]
        scores -= scores.max(axis=0)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=0)  # type: ignore[misc]  # numpy stubs: in-place division of an int array
        return scores

    def lower_bound(self, posteriors: np.ndarray, priors: np.ndarray, accuracy: np.ndarray) -> float:
        table = self.table
        log_right, log_wrong = self.log_right_wrong(accuracy)
        given = posteriors.ravel()[self.class_task]
        joint = float(np.sum(given * log_right[table.worker] + (1 - given) * log_wrong[table.worker]))
        joint += float(np.sum((posteriors @ self.per_task) * np.log(priors)))
        floored = np.maximum(posteriors, EPS)
        entropy = -float(np.sum(floored * np.log(floored)))
        return (joint + entropy) / table.n
