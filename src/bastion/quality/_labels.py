"""Shared plumbing of the categorical aggregators: the coded label table and the result.

Every aggregator turns the long table (task, annotator, label) into a
:class:`LabelTable` once — rows sorted by task, so a per-task sum is one
``np.add.reduceat`` — and returns a :class:`CategoricalAggregation`.

Conventions shared by all methods (README.md has the details):

- classes are the sorted distinct labels; ``posteriors[:, k]`` is class ``k``;
- the aggregated label is the first class of highest posterior in that sorted order
  (the deterministic tie rule; crowd-kit's depends on its frame's column order, which
  follows label frequency, so tied tasks may differ from it);
- ``skills`` is each annotator's *expected accuracy* under the fitted posteriors: the
  mean, over the annotator's labels, of the posterior probability of the label given.
  Method-specific parameters (confusion matrices, abilities, ...) are in ``parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bastion.quality._ratings import code_ratings, group_starts

EPS = 1e-10  # probability floor, as in crowd-kit, so that logs stay finite


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

    def per_task_sum(self, rows: np.ndarray) -> np.ndarray:
        """Sum row-aligned values (1-D or 2-D) over each task's rows."""
        return np.add.reduceat(rows, self.task_starts, axis=0)

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
    posteriors: np.ndarray  # (n_tasks, n_classes), rows sum to 1
    annotators: np.ndarray
    skills: np.ndarray  # expected accuracy per annotator, in [0, 1]
    n_iterations: int
    converged: bool
    parameters: dict[str, np.ndarray] = field(default_factory=dict)

    def task_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per task: task, label, confidence."""
        return [
            {"task": task, "label": label, "confidence": confidence}
            for task, label, confidence in zip(
                self.tasks.tolist(), self.labels.tolist(), self.confidence.tolist(), strict=True
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
) -> CategoricalAggregation:
    """Labels, confidence and expected-accuracy skills from final posteriors."""
    if table.n == 0:
        return empty_result(method, table)
    winner = np.argmax(posteriors, axis=1)  # first maximum: the documented tie rule
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
        posteriors=np.zeros((0, table.n_classes)),
        annotators=table.annotators,
        skills=np.zeros(table.n_workers),
        n_iterations=0,
        converged=True,
    )


def single_class_result(method: str, table: LabelTable) -> CategoricalAggregation:
    """Only one class was ever given: every task gets it with certainty."""
    return finish(method, table, np.ones((table.n_tasks, 1)), n_iterations=0, converged=True)


def softmax_rows(log_scores: np.ndarray) -> np.ndarray:
    shifted = log_scores - log_scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted
