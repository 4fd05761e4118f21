"""GLAD: Generative model of Labels, Abilities and Difficulties (Whitehill et al. 2009).

Annotator ``w`` has ability ``alpha_w`` (any real number; negative means adversarial)
and task ``t`` has log-easiness ``beta_t``. The probability that ``w`` gives the true
class on ``t`` is ``sigma(alpha_w * exp(beta_t))``; a wrong answer is one of the other
K - 1 classes, uniformly. Priors: alpha ~ N(1, 1), beta ~ N(1, 1), uniform classes.

EM, following crowd-kit 1.4.2's formulation (same parameterisation, priors, objective
``Q`` and stopping rule: stop when ``Q`` per (label x class) improves by less than
``tolerance``). The E-step is O(rows). The M-step differs in *how* it maximises ``Q``:
crowd-kit runs SciPy's conjugate gradient over all parameters; here ``Q`` is maximised
by alternating vectorised Newton steps on all abilities, then all easinesses — each
block separates into independent one-dimensional problems — until the gradient's
largest component is below ``m_step_tolerance`` (crowd-kit's gtol) or
``m_step_max_iterations`` rounds are done. Both reach the same stationary points.

The trap: ``sigma(x)`` for large ``|x|`` underflows; log-probabilities are computed
with a stable softplus, never as ``log(sigmoid(x))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._labels import (
    CategoricalAggregation,
    LabelTable,
    code_labels,
    empty_result,
    finish,
    single_class_result,
    softmax_rows,
)

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def glad(
    tasks: Any,
    annotators: Any,
    labels: Any,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    m_step_max_iterations: int = 25,
    m_step_tolerance: float = 1e-2,
    tie_seed: str = "",
) -> CategoricalAggregation:
    """GLAD aggregation. ``parameters``: ``alpha`` (per annotator), ``beta`` (per task,
    log-easiness: larger is easier)."""
    table, _ = code_labels(tasks, annotators, labels)
    if table.n == 0:
        return empty_result("glad", table)
    if table.n_classes == 1:
        return single_class_result("glad", table)
    return _Glad(table).fit(max_iterations, tolerance, m_step_max_iterations, m_step_tolerance, tie_seed)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow (via tanh)."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


class _Glad:
    def __init__(self, table: LabelTable) -> None:
        self.table = table
        self.alpha = np.ones(table.n_workers)
        self.beta = np.ones(table.n_tasks)
        self.log_wrong_share = np.log(table.n_classes - 1)
        self.task_class = table.task * table.n_classes + table.label

    def fit(
        self, max_iterations: int, tolerance: float, m_max: int, m_tol: float, tie_seed: str
    ) -> CategoricalAggregation:
        table = self.table
        posteriors = self.e_step()
        given = posteriors[table.task, table.label]
        q_value = self.q_function(given)  # total, as crowd-kit's first value
        iterations = 0
        converged = False
        scale = table.n * table.n_classes  # crowd-kit normalises by its (label x class) rows
        for iterations in range(1, max_iterations + 1):  # noqa: B007  (the count is read after the loop)
            last = q_value
            posteriors = self.e_step()
            given = posteriors[table.task, table.label]
            self.m_step(given, m_max, m_tol)
            q_value = self.q_function(given) / scale
            if q_value - last < tolerance:
                converged = True
                break
        posteriors = self.e_step()
        return finish(
            "glad",
            table,
            posteriors,
            n_iterations=iterations,
            converged=converged,
            parameters={"alpha": self.alpha.copy(), "beta": self.beta.copy()},
            tie_seed=tie_seed,
        )

    def logits(self) -> np.ndarray:
        return self.alpha[self.table.worker] * np.exp(self.beta)[self.table.task]

    def e_step(self) -> np.ndarray:
        table = self.table
        x = self.logits()
        log_right = -softplus(-x)
        log_wrong = -softplus(x) - self.log_wrong_share
        base = np.bincount(table.task, log_wrong, minlength=table.n_tasks)
        bonus = np.bincount(self.task_class, log_right - log_wrong, minlength=table.n_tasks * table.n_classes)
        return softmax_rows(bonus.reshape(table.n_tasks, table.n_classes) + base[:, None])

    def q_function(self, given: np.ndarray) -> float:
        """Expected log-likelihood under the posteriors plus the log normal priors."""
        x = self.logits()
        expected = given * -softplus(-x) + (1.0 - given) * (-softplus(x) - self.log_wrong_share)
        prior = -0.5 * np.sum((self.alpha - 1.0) ** 2) - 0.5 * np.sum((self.beta - 1.0) ** 2)
        prior -= _LOG_SQRT_2PI * (self.alpha.size + self.beta.size)
        return float(np.sum(expected) + prior)

    def m_step(self, given: np.ndarray, max_rounds: int, tolerance: float) -> None:
        table = self.table
        w, t = table.worker, table.task
        for _ in range(max_rounds):
            # Abilities: Q is concave in each alpha_w; one Newton step per annotator.
            easiness = np.exp(self.beta)[t]
            x = self.alpha[w] * easiness
            s = sigmoid(x)
            grad_alpha = np.bincount(w, (given - s) * easiness, minlength=table.n_workers) - (self.alpha - 1.0)
            hess_alpha = -np.bincount(w, s * (1.0 - s) * easiness**2, minlength=table.n_workers) - 1.0
            self.alpha -= grad_alpha / hess_alpha
            # Easiness: Newton on each beta_t, falling back to the Fisher curvature where
            # Q is locally convex, with steps capped so exp(beta) cannot overflow.
            x = self.alpha[w] * np.exp(self.beta)[t]
            s = sigmoid(x)
            residual = (given - s) * x
            grad_beta = np.bincount(t, residual, minlength=table.n_tasks) - (self.beta - 1.0)
            fisher = -np.bincount(t, s * (1.0 - s) * x * x, minlength=table.n_tasks) - 1.0
            hess_beta = fisher + np.bincount(t, residual, minlength=table.n_tasks)
            hess_beta = np.where(hess_beta < 0.0, hess_beta, fisher)
            self.beta -= np.clip(grad_beta / hess_beta, -1.0, 1.0)
            if max(np.max(np.abs(grad_alpha)), np.max(np.abs(grad_beta))) < tolerance:
                break
