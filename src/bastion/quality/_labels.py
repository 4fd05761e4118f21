"""Shared plumbing of the categorical aggregators: the coded label table and the result.

Every aggregator turns the long table (task, annotator, label) into a
:class:`LabelTable` once — rows sorted by task, so a per-task sum is one
``np.add.reduceat`` — and returns a :class:`CategoricalAggregation`.

Conventions shared by all methods (README.md has the details):

- classes are the sorted distinct labels; ``posteriors[:, k]`` is class ``k``;
- the aggregated label is the class of highest posterior; where several share it (within
  ``TIE_TOLERANCE``) one of them is **drawn per task** by a keyed hash of ``tie_seed`` and
  the task id (:func:`pick_winners`): every tied class is equally likely, yet the same
  inputs and seed always give the same answer, and ``tied`` marks those tasks. (Taking the
  first in sorted order instead hands every tie to one label: on a real three-way-tied
  dataset, 93% of the ties went to label "1".) crowd-kit's rule depends on its frame's
  column order, so tied tasks may differ from it; posteriors do not;
- ``skills`` is each annotator's *expected accuracy* under the fitted posteriors: the
  mean, over the annotator's labels, of the posterior probability of the label given.
  Method-specific parameters (confusion matrices, abilities, ...) are in ``parameters``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._ratings import code_ratings, group_starts

EPS = 1e-10  # probability floor, as in crowd-kit, so that logs stay finite
# Posteriors this close to a task's highest are tied with it (EM's symmetric fixed points
# differ in the last bits; majority-vote shares tie exactly).
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class LabelTable:
    task: np.ndarray  # int64 codes, sorted ascending
    worker: np.ndarray  # int64 codes
    label: np.ndarray  # int64 codes into classes
    tasks: np.ndarray
    annotators: np.ndarray
    classes: np.ndarray
    task_starts: np.ndarray  # first row of each task

    @property
    def n(self) -> int:
        return int(self.task.size)

    @property
    def n_tasks(self) -> int:
        return int(self.tasks.size)

    @property
    def n_workers(self) -> int:
        return int(self.annotators.size)

    @property
    def n_classes(self) -> int:
        return int(self.classes.size)

    def vote_shares(self) -> np.ndarray:
        k = self.n_classes
        counts = np.bincount(self.task * k + self.label, minlength=self.n_tasks * k).reshape(self.n_tasks, k)
        return counts / counts.sum(axis=1, keepdims=True)

    def first_appearance_rank(self, codes: np.ndarray, n_codes: int, input_order: np.ndarray) -> np.ndarray:
        """Rank of each code by the input row where it first appears."""
        first = np.full(n_codes, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, codes, input_order)
        rank = np.empty(n_codes, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(n_codes)
        return rank


def code_labels(tasks: Any, annotators: Any, labels: Any) -> tuple[LabelTable, np.ndarray]:
    """Code the long table; also return each kept row's position in the input."""
    ratings = code_ratings(tasks, annotators, labels)
    table = LabelTable(
        task=ratings.task_codes,
        worker=ratings.annotator_codes,
        label=ratings.value_codes,
        tasks=ratings.tasks,
        annotators=ratings.annotators,
        classes=ratings.categories,
        task_starts=group_starts(ratings.task_codes),
    )
    return table, ratings.source_rows


@dataclass(frozen=True, slots=True)
class CategoricalAggregation:
    """Aggregated labels of one long table; arrays are aligned with ``tasks`` / ``annotators``."""

    method: str
    tasks: np.ndarray
    classes: np.ndarray
    labels: np.ndarray  # aggregated label per task (values from ``classes``)
    confidence: np.ndarray  # posterior probability of that label
    tied: np.ndarray  # bool per task: the label was drawn among classes of equal posterior
    posteriors: np.ndarray  # (n_tasks, n_classes), rows sum to 1
    annotators: np.ndarray
    skills: np.ndarray  # expected accuracy per annotator, in [0, 1]
    n_iterations: int
    converged: bool
    parameters: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_tied(self) -> int:
        """How many tasks had their label drawn among tied classes."""
        return int(np.count_nonzero(self.tied))

    def task_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per task: task, label, confidence, tie (drawn among equals)."""
        return [
            {"task": task, "label": label, "confidence": confidence, "tie": tie}
            for task, label, confidence, tie in zip(
                self.tasks.tolist(), self.labels.tolist(), self.confidence.tolist(), self.tied.tolist(), strict=True
            )
        ]

    def annotator_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per annotator: annotator, skill."""
        return [
            {"annotator": annotator, "skill": skill}
            for annotator, skill in zip(self.annotators.tolist(), self.skills.tolist(), strict=True)
        ]


def finish(
    method: str,
    table: LabelTable,
    posteriors: np.ndarray,
    *,
    n_iterations: int,
    converged: bool,
    parameters: dict[str, np.ndarray] | None = None,
    tie_seed: str = "",
) -> CategoricalAggregation:
    """Labels, confidence and expected-accuracy skills from final posteriors."""
    if table.n == 0:
        return empty_result(method, table)
    winner, tied = pick_winners(posteriors, table.tasks, tie_seed)
    confidence = posteriors[np.arange(table.n_tasks), winner]
    given = posteriors[table.task, table.label]
    per_worker = np.bincount(table.worker, minlength=table.n_workers)
    skills = np.bincount(table.worker, given, minlength=table.n_workers) / np.maximum(per_worker, 1)
    return CategoricalAggregation(
        method=method,
        tasks=table.tasks,
        classes=table.classes,
        labels=table.classes[winner],
        confidence=confidence,
        tied=tied,
        posteriors=posteriors,
        annotators=table.annotators,
        skills=np.clip(skills, 0.0, 1.0),
        n_iterations=n_iterations,
        converged=converged,
        parameters=parameters or {},
    )


def empty_result(method: str, table: LabelTable) -> CategoricalAggregation:
    return CategoricalAggregation(
        method=method,
        tasks=table.tasks,
        classes=table.classes,
        labels=table.classes[:0],
        confidence=np.zeros(0),
        tied=np.zeros(0, dtype=bool),
        posteriors=np.zeros((0, table.n_classes)),
        annotators=table.annotators,
        skills=np.zeros(table.n_workers),
        n_iterations=0,
        converged=True,
    )


def single_class_result(method: str, table: LabelTable) -> CategoricalAggregation:
    """Only one class was ever given: every task gets it with certainty."""
    return finish(method, table, np.ones((table.n_tasks, 1)), n_iterations=0, converged=True)


def pick_winners(posteriors: np.ndarray, tasks: np.ndarray, tie_seed: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The winning class of each task, and whether it was drawn among tied classes.

    A task whose highest posterior is shared by ``n`` classes gets the ``h mod n``-th of
    them (in class order), ``h`` a 64-bit BLAKE2b of the task id keyed by ``tie_seed``:
    uniform over the tied classes, independent between tasks, and the same on every run.
    Only tied tasks are hashed, so untied data costs one comparison per cell.
    """
    top = posteriors.max(axis=1, keepdims=True)
    candidates = posteriors >= top - TIE_TOLERANCE
    winner = np.argmax(posteriors, axis=1)
    n_candidates = candidates.sum(axis=1)
    tied = n_candidates > 1
    if tied.any():
        rows = np.flatnonzero(tied)
        key = hashlib.blake2b(tie_seed.encode(), digest_size=32).digest()
        draws = np.array(
            [
                int.from_bytes(hashlib.blake2b(str(task).encode(), key=key, digest_size=8).digest(), "big") % int(n)
                for task, n in zip(tasks[rows].tolist(), n_candidates[rows].tolist(), strict=True)
            ],
            dtype=np.int64,
        )
        among = candidates[rows]
        rank = np.cumsum(among, axis=1) - 1  # position of each candidate among its task's candidates
        winner[rows] = np.argmax(among & (rank == draws[:, None]), axis=1)
    return winner, tied


def softmax_rows(log_scores: np.ndarray) -> np.ndarray:
    shifted = log_scores - log_scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted
