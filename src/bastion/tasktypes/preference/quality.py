"""Preference quality: agreement on the preferred response, and position bias (NumPy: loaded on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import value_name
from .._quality import categorical_agreement
from ..base import Rating
from ...quality import wilson_interval


def preferred(result: dict) -> int | str | None:
    """0, 1 or "tie": indices of the data, so the randomised screen order is already undone."""
    return result.get("preferred")


def agreement(ratings: Sequence[Rating]) -> dict[str, Any]:
    report = categorical_agreement(preferred, ratings, value_name)
    if report.get("n_ratings"):
        report["position_bias"] = position_bias(ratings)
    return report


def position_bias(ratings: Sequence[Rating]) -> dict[str, Any]:
    """How often the preferred response was the one shown on the left (0.5 = no bias)."""
    left = total = 0
    for rating in ratings:
        order, choice = rating.result.get("shown_order"), rating.result.get("preferred")
        if order and choice in (0, 1):
            total += 1
            left += order.index(choice) == 0
    if not total:
        return {"left_share": None, "n": 0, "reason": "no preference with a recorded screen order"}
    interval = wilson_interval(left, total)
    return {
        "left_share": round(left / total, 4),
        "n": total,
        "low": round(interval.low, 4),
        "high": round(interval.high, 4),
        "meaning": "no position bias detected"
        if interval.low <= 0.5 <= interval.high
        else "annotators favour one side: keep the order randomised",
    }
