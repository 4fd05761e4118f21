"""Label aggregation: one answer per task from several annotators' labels.

Methods (all take the long table ``tasks, annotators, labels`` and return a
:class:`~bastion.quality._labels.CategoricalAggregation`):

- :func:`majority_vote` — vote shares; ties go to the class that sorts first.
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

from bastion.quality._labels import (
    EPS,
    CategoricalAggregation,
    LabelTable,
    code_labels,
    empty_result,
    finish,
    single_class_result,
    softmax_rows,
)
from bastion.quality.bradley_terry import BradleyTerryResult, bradley_terry, pairs_from_rankings
from bastion.quality.glad import glad
from bastion.quality.mace import mace

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


def majority_vote(tasks: Any, annotators: Any, labels: Any) -> CategoricalAggregation:
    """Vote shares per task; the confidence is the winning share.

    Tie rule: among classes with the most votes, the one that sorts first wins, so
    the same inputs always give the same answer.
    """
    table, _ = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("majority_vote", table)
    return finish("majority_vote", table, table.vote_shares(), n_iterations=0, converged=True)


def dawid_skene(
    tasks: Any,
    annotators: Any,
    labels: Any,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
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
    return _DawidSkene(table).fit(max_iterations, tolerance)


def one_coin_dawid_skene(
    tasks: Any,
    annotators: Any,
    labels: Any,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
) -> CategoricalAggregation:
    """Dawid–Skene where annotator w is right with probability ``s_w`` and otherwise
    picks one of the other K - 1 classes uniformly. ``parameters["accuracy"]`` is ``s``."""
    table, _ = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("one_coin_dawid_skene", table)
    if table.n_classes == 1:
        return single_class_result("one_coin_dawid_skene", table)
    return _OneCoin(table).fit(max_iterations, tolerance)


class _DawidSkene:
    """EM state for the full model. Rows are grouped twice: by task (E-step) and by
    (annotator, given label) (M-step), each group summed with one reduceat."""

    def __init__(self, table: LabelTable) -> None:
        self.table = table
        k = table.n_classes
        self.cell = table.worker * k + table.label  # (annotator, given label) cell per row
        order = np.argsort(self.cell, kind="stable")
        sorted_cell = self.cell[order]
        self.cell_starts = np.concatenate(([0], np.flatnonzero(sorted_cell[1:] != sorted_cell[:-1]) + 1))
        self.cell_ids = sorted_cell[self.cell_starts]
        self.task_by_cell = table.task[order]

    def fit(self, max_iterations: int, tolerance: float) -> CategoricalAggregation:
        table = self.table
        posteriors = table.vote_shares()
        priors = posteriors.mean(axis=0)
        confusion, counts = self.m_step(posteriors)
        loss = -np.inf
        iterations = 0
        converged = False
        for iterations in range(1, max_iterations + 1):
            priors = np.maximum(priors, EPS)
            posteriors = self.e_step(confusion, priors)
            priors = posteriors.mean(axis=0)
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
            posteriors,
            n_iterations=iterations,
            converged=converged,
            parameters={"confusion": confusion.reshape(table.n_workers, k, k), "priors": priors},
        )

    def m_step(self, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Confusion rows per (annotator, given label) cell, normalised per true class."""
        table = self.table
        k = table.n_classes
        counts = np.zeros((table.n_workers * k, k))
        counts[self.cell_ids] = np.add.reduceat(posteriors[self.task_by_cell], self.cell_starts, axis=0)
        confusion = np.zeros_like(counts)
        # Only cells an annotator used exist (as in crowd-kit); the floor applies to them.
        confusion[self.cell_ids] = np.maximum(counts[self.cell_ids], EPS)
        confusion = confusion.reshape(table.n_workers, k, k)
        confusion /= confusion.sum(axis=1, keepdims=True)
        return confusion.reshape(table.n_workers * k, k), counts

    def e_step(self, confusion: np.ndarray, priors: np.ndarray) -> np.ndarray:
        log_confusion = np.zeros_like(confusion)
        log_confusion[self.cell_ids] = np.log(confusion[self.cell_ids])
        log_scores = self.table.per_task_sum(log_confusion[self.cell]) + np.log(priors)
        return softmax_rows(log_scores)

    def lower_bound(self, posteriors: np.ndarray, priors: np.ndarray, confusion: np.ndarray, counts: np.ndarray) -> float:
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
    actually given gets the difference added."""

    def __init__(self, table: LabelTable) -> None:
        self.table = table
        self.per_worker = np.bincount(table.worker, minlength=table.n_workers).astype(np.float64)
        self.task_class = table.task * table.n_classes + table.label

    def fit(self, max_iterations: int, tolerance: float) -> CategoricalAggregation:
        table = self.table
        posteriors = table.vote_shares()
        priors = posteriors.mean(axis=0)
        accuracy = self.m_step(posteriors)
        loss = -np.inf
        iterations = 0
        converged = False
        for iterations in range(1, max_iterations + 1):
            priors = np.maximum(priors, EPS)
            posteriors = self.e_step(accuracy, priors)
            priors = posteriors.mean(axis=0)
            accuracy = self.m_step(posteriors)
            new_loss = self.lower_bound(posteriors, np.maximum(priors, EPS), accuracy)
            if new_loss - loss < tolerance:
                converged = True
                break
            loss = new_loss
        return finish(
            "one_coin_dawid_skene",
            table,
            posteriors,
            n_iterations=iterations,
            converged=converged,
            parameters={"accuracy": accuracy, "priors": priors},
        )

    def m_step(self, posteriors: np.ndarray) -> np.ndarray:
        table = self.table
        given = posteriors[table.task, table.label]
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
        base = np.bincount(table.task, log_wrong[table.worker], minlength=table.n_tasks)
        bonus = np.bincount(
            self.task_class, (log_right - log_wrong)[table.worker], minlength=table.n_tasks * k
        ).reshape(table.n_tasks, k)
        return softmax_rows(bonus + base[:, None] + np.log(priors))

    def lower_bound(self, posteriors: np.ndarray, priors: np.ndarray, accuracy: np.ndarray) -> float:
        table = self.table
        log_right, log_wrong = self.log_right_wrong(accuracy)
        given = posteriors[table.task, table.label]
        joint = float(np.sum(given * log_right[table.worker] + (1 - given) * log_wrong[table.worker]))
        per_task = np.diff(np.append(table.task_starts, table.n)).astype(np.float64)
        joint += float(np.sum((per_task @ posteriors) * np.log(priors)))
        floored = np.maximum(posteriors, EPS)
        entropy = -float(np.sum(floored * np.log(floored)))
        return (joint + entropy) / table.n
