"""MACE: Multi-Annotator Competence Estimation (Hovy et al. 2013).

Each annotator ``w`` either knows the answer (probability ``1 - spam_w``) and gives the
true class, or spams: draws a label from a personal distribution ``theta_w``. True
classes are uniform. Fitted by EM, by default with the variational-Bayes M-step
(Beta(0.5, 0.5) prior on spamming, symmetric Dirichlet(10) on ``theta``), 50 iterations,
as crowd-kit 1.4.2 does.

Per label with ``a = spam_w * theta_w[y]`` and ``b = a + (1 - spam_w)``::

    log P(labels of t, true = c) = sum_labels log a + sum_{labels with y = c} log(b / a) - log K

so the E-step is O(labels), with ``a`` and ``b`` looked up from the small (annotator,
label) table; the posterior that a label was given knowingly is
``q[t, y] * (1 - spam_w) / b``, and one ``bincount`` per step gathers the counts.

Seeding: restart ``r`` draws its initial parameters from ``RandomState(seed + r)`` as
``1 + 1.5 * U[0, 1)`` and normalises them, rows in order of the annotators' first
appearance in the input and columns in order of the labels' first appearance — exactly
crowd-kit's initial state for restart 0. crowd-kit reuses the same seed for every
restart, so its ten default restarts are ten identical runs; ``n_restarts=1`` here gives
its result at a tenth of the work. With ``n_restarts > 1`` the restarts really differ and
the run with the highest marginal likelihood wins.

The trap: the VB M-step returns ``exp(digamma(.))`` weights that do *not* sum to 1 —
that is the variational estimate, not a bug; do not renormalise them.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._labels import (
    CategoricalAggregation,
    LabelTable,
    code_labels,
    empty_result,
    finish,
)
from ..domain.errors import InvalidInput


def mace(
    tasks: Any,
    annotators: Any,
    labels: Any,
    *,
    n_iterations: int = 50,
    n_restarts: int = 1,
    method: Literal["vb", "em"] = "vb",
    seed: int = 0,
    spam_prior: tuple[float, float] = (0.5, 0.5),
    strategy_prior: float = 10.0,
    default_noise: float = 0.5,
    tie_seed: str = "",
) -> CategoricalAggregation:
    """MACE aggregation. ``parameters``: ``competence`` (P(knows) per annotator, the
    normalised non-spamming weight) and ``strategy`` (per annotator spamming
    distribution over ``classes``)."""
    if method not in ("vb", "em"):
        raise InvalidInput(f"unknown MACE method {method!r}; use 'vb' or 'em'")
    if n_restarts < 1 or n_iterations < 0:
        raise InvalidInput("MACE needs n_restarts >= 1 and n_iterations >= 0")
    table, source_rows = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("mace", table)
    model = _Mace(table, source_rows, method, spam_prior, strategy_prior, default_noise)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for restart in range(n_restarts):
        spam, theta = model.initial(seed + restart)
        log_likelihood, counts = model.e_step(spam, theta)
        for _ in range(n_iterations):
            spam, theta = model.m_step(*counts)
            log_likelihood, counts = model.e_step(spam, theta)
        if best is None or log_likelihood > best[0]:
            best = (log_likelihood, spam, theta)
    assert best is not None
    _, spam, theta = best
    posteriors = model.posteriors(spam, theta)
    competence = spam[:, 1] / spam.sum(axis=1)
    return finish(
        "mace",
        table,
        posteriors,
        n_iterations=n_iterations,
        converged=True,
        parameters={"competence": competence, "strategy": theta / theta.sum(axis=1, keepdims=True)},
        tie_seed=tie_seed,
    )


def digamma(x: np.ndarray) -> np.ndarray:
    """Digamma for positive arguments: recurrence up to 10, then the asymptotic series
    (error below 1e-14)."""
    x = np.array(x, dtype=np.float64)
    result = np.zeros_like(x)
    small = x < 10.0
    while np.any(small):
        result[small] -= 1.0 / x[small]
        x[small] += 1.0
        small = x < 10.0
    inverse_square = 1.0 / (x * x)
    series = inverse_square * (
        1.0 / 12
        - inverse_square
        * (1.0 / 120 - inverse_square * (1.0 / 252 - inverse_square * (1.0 / 240 - inverse_square / 132)))
    )
    return result + np.log(x) - 0.5 / x - series


class _Mace:
    def __init__(
        self,
        table: LabelTable,
        source_rows: np.ndarray,
        method: str,
        spam_prior: tuple[float, float],
        strategy_prior: float,
        default_noise: float,
    ) -> None:
        self.table = table
        self.method = method
        k = table.n_classes
        self.class_task = table.label * table.n_tasks + table.task
        self.cell = table.worker * k + table.label
        self.cell_count = (
            np.bincount(self.cell, minlength=table.n_workers * k).reshape(table.n_workers, k).astype(float)
        )
        self.worker_count = self.cell_count.sum(axis=1)
        self.worker_rank = table.first_appearance_rank(table.worker, table.n_workers, source_rows)
        self.class_rank = table.first_appearance_rank(table.label, k, source_rows)
        self.spam_prior = np.array([spam_prior[0], spam_prior[1]], dtype=np.float64)
        self.strategy_prior = float(strategy_prior)
        self.default_noise = float(default_noise)
        self.smoothing = 0.01 / k

    def initial(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        table = self.table
        low, width = 1.0, 1.0 + self.default_noise
        spam_draw = low + width * np.random.RandomState(seed).random_sample((table.n_workers, 2))
        theta_draw = low + width * np.random.RandomState(seed).random_sample((table.n_workers, table.n_classes))
        spam = spam_draw[self.worker_rank]
        theta = theta_draw[self.worker_rank][:, self.class_rank]
        return spam / spam.sum(axis=1, keepdims=True), theta / theta.sum(axis=1, keepdims=True)

    def log_gold(self, spam: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint log-probability of each task's labels and each true class, class-major
        (K, n_tasks), and the per-cell chance that a label given there was known.

        Every per-label quantity depends only on the (annotator, label) cell, so logs are
        taken on the small cell table and gathered, never per label.
        """
        table = self.table
        spams = spam[:, 0:1] * theta  # P(label y | spamming) weight, per cell
        either = spams + spam[:, 1:2]  # P(label y | true class y)
        log_spams = np.log(spams).ravel()
        log_ratio = (np.log(either) - np.log(spams)).ravel()
        base = np.add.reduceat(log_spams[self.cell], table.task_starts)
        log_gold = np.bincount(
            self.class_task, log_ratio[self.cell], minlength=table.n_classes * table.n_tasks
        ).reshape(table.n_classes, table.n_tasks)
        log_gold += base - np.log(table.n_classes)
        return log_gold, (spam[:, 1:2] / either).ravel()

    def posteriors(self, spam: np.ndarray, theta: np.ndarray) -> np.ndarray:
        log_gold, _ = self.log_gold(spam, theta)
        shifted = np.exp(log_gold - log_gold.max(axis=0))
        shifted /= shifted.sum(axis=0)
        return np.ascontiguousarray(shifted.T)

    def e_step(self, spam: np.ndarray, theta: np.ndarray) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        table = self.table
        k = table.n_classes
        log_gold, known_share = self.log_gold(spam, theta)
        top = log_gold.max(axis=0)
        log_instance = top + np.log(np.exp(log_gold - top).sum(axis=0))
        # crowd-kit adds 1e-8 to each task's marginal before the log; keep that definition.
        log_likelihood = float(np.sum(np.log(np.exp(log_instance) + 1e-8)))
        posterior_given = np.exp(log_gold.ravel()[self.class_task] - log_instance[table.task])
        knowing = posterior_given * known_share[self.cell]
        # One bincount gives both counts: a label is either known or spammed.
        knowing_per_cell = np.bincount(self.cell, knowing, minlength=table.n_workers * k).reshape(table.n_workers, k)
        strategy_counts = self.cell_count - knowing_per_cell
        knowing_per_worker = knowing_per_cell.sum(axis=1)
        knowing_counts = np.stack([self.worker_count - knowing_per_worker, knowing_per_worker], axis=1)
        return log_likelihood, (knowing_counts, strategy_counts)

    def m_step(self, knowing_counts: np.ndarray, strategy_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.method == "vb":
            return (
                _variational_normalise(knowing_counts, self.spam_prior[None, :]),
                _variational_normalise(strategy_counts, self.strategy_prior),
            )
        return _smoothed_normalise(knowing_counts, self.smoothing), _smoothed_normalise(strategy_counts, self.smoothing)


def _variational_normalise(counts: np.ndarray, prior: np.ndarray | float) -> np.ndarray:
    total = counts + prior
    return np.exp(digamma(total) - digamma(total.sum(axis=1, keepdims=True)))


def _smoothed_normalise(counts: np.ndarray, smoothing: float) -> np.ndarray:
    total = counts + smoothing
    return total / total.sum(axis=1, keepdims=True)
