"""A quality figure that is either a finite number or an explained absence.

Every agreement metric returns a :class:`Score`. Results are served as JSON, so a
score is never NaN or infinite: where a statistic is undefined on the data (no task
rated twice, expected agreement of 1, a constant ranking, ...) ``value`` is ``None``
and ``reason`` says why in one sentence.

The trap: ``0/0`` in NumPy is NaN with a warning (an error under our strict test
settings), and ``json.dumps(float("nan"))`` writes ``NaN``, which is not JSON. Build
scores through :func:`defined` / :func:`undefined`, which refuse non-finite values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Score:
    """One figure: ``value`` in its natural range, or ``None`` with a ``reason``.

    ``n_tasks`` counts the tasks that contributed (for pairwise figures, the tasks
    both annotators rated); ``n_ratings`` the ratings (or spans, comparisons) used.
    """

    value: float | None
    n_tasks: int = 0
    n_ratings: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "n_tasks": self.n_tasks,
            "n_ratings": self.n_ratings,
            "reason": self.reason,
        }


def defined(value: float, *, n_tasks: int = 0, n_ratings: int = 0) -> Score:
    """A defined score; a non-finite value here is a bug, reported as undefined."""
    number = float(value)
    if not math.isfinite(number):
        return undefined("the statistic is not finite on this data", n_tasks=n_tasks, n_ratings=n_ratings)
    return Score(value=number, n_tasks=int(n_tasks), n_ratings=int(n_ratings))


def undefined(reason: str, *, n_tasks: int = 0, n_ratings: int = 0) -> Score:
    return Score(value=None, n_tasks=int(n_tasks), n_ratings=int(n_ratings), reason=reason)


def ratio(
    numerator: float,
    denominator: float,
    *,
    reason: str,
    n_tasks: int = 0,
    n_ratings: int = 0,
) -> Score:
    """``numerator / denominator``, or undefined with ``reason`` when the denominator is 0."""
    if denominator == 0:
        return undefined(reason, n_tasks=n_tasks, n_ratings=n_ratings)
    return defined(numerator / denominator, n_tasks=n_tasks, n_ratings=n_ratings)
