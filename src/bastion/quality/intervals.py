"""Wilson score interval for a proportion (e.g. an annotator's accuracy on gold tasks).

For ``k`` successes out of ``n`` and ``z`` the two-sided normal quantile of the
confidence level::

    centre    = (p + z²/2n) / (1 + z²/n)            with p = k / n
    halfwidth = z / (1 + z²/n) · sqrt(p(1 - p)/n + z²/4n²)

Invariants: ``0 <= low <= p <= high <= 1``; the interval narrows as ``n`` grows and is
never degenerate at 0/n or n/n (unlike the Wald interval ``p ± z·sqrt(p(1-p)/n)``,
which collapses to a point there — the trap this module exists to avoid).
With ``n == 0`` there is no estimate and the interval is all of [0, 1].
Equal to statsmodels ``proportion_confint(method="wilson")`` to 1e-12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float | None  # k / n, None when n == 0
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n}


def normal_quantile(probability: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation, then one
    Halley step on ``erfc``; absolute error below 1e-15 on (1e-300, 1 - 1e-16))."""
    if not 0.0 < probability < 1.0:
        raise InvalidInput("a quantile needs a probability strictly between 0 and 1")
    a = (
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    )
    b = (
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    )
    c = (
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    )
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    low = 0.02425
    if probability < low:
        q = math.sqrt(-2 * math.log(probability))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif probability <= 1 - low:
        q = probability - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    else:
        q = math.sqrt(-2 * math.log1p(-probability))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    for _ in range(2):  # Halley refinement to full double precision
        error = 0.5 * math.erfc(-x / math.sqrt(2)) - probability
        u = error * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
        x = x - u / (1 + x * u / 2)
    return x


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``successes`` out of ``n`` trials."""
    low, high = wilson_intervals(np.asarray([successes]), np.asarray([n]), confidence)
    total = int(n)
    return Interval(
        estimate=(int(successes) / total) if total else None,
        low=float(low[0]),
        high=float(high[0]),
        n=total,
    )


def wilson_intervals(successes: Any, n: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`wilson_interval`: arrays of lower and upper bounds.

    Where ``n == 0`` the bounds are 0 and 1.
    """
    if not 0.0 < confidence < 1.0:
        raise InvalidInput("confidence must be strictly between 0 and 1")
    k = np.asarray(successes, dtype=np.float64)
    total = np.asarray(n, dtype=np.float64)
    if k.shape != total.shape:
        raise InvalidInput("successes and n must have the same shape")
    if np.any(total < 0) or np.any(k < 0) or np.any(k > total) or not np.all(np.isfinite(k + total)):
        raise InvalidInput("need 0 <= successes <= n")
    z = normal_quantile(0.5 + confidence / 2.0)
    has_data = total > 0
    safe_n = np.where(has_data, total, 1.0)
    p = k / safe_n
    z2 = z * z
    denominator = 1.0 + z2 / safe_n
    centre = (p + z2 / (2.0 * safe_n)) / denominator
    halfwidth = z / denominator * np.sqrt(p * (1.0 - p) / safe_n + z2 / (4.0 * safe_n * safe_n))
    # At k = 0 (k = n) the bound is exactly 0 (1); rounding would leave 1e-17 behind.
    low = np.where(has_data & (k > 0), np.clip(centre - halfwidth, 0.0, 1.0), 0.0)
    high = np.where(has_data & (k < total), np.clip(centre + halfwidth, 0.0, 1.0), 1.0)
    return low, high
