"""Rubric quality: Krippendorff's α per criterion — ordinal on a numeric scale, nominal on named grades
(NumPy: loaded on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .._quality import describe_alpha
from ..base import Rating
from ...quality import krippendorff_alpha


def agreement(criteria: Sequence[tuple[str, list | None]], ratings: Sequence[Rating]) -> dict[str, Any]:
    """``criteria``: (name, the numeric grades in order, or None for named grades)."""
    out: list[dict[str, Any]] = []
    for name, numeric_grades in criteria:
        tasks, users, values = [], [], []
        for rating in ratings:
            value = rating.result.get("scores", {}).get(name)
            if value is not None:
                tasks.append(rating.task)
                users.append(rating.user)
                values.append(value)
        if not tasks:
            out.append({"criterion": name, "alpha": None, "reason": "not graded yet"})
            continue
        level: Literal["ordinal", "nominal"] = "ordinal" if numeric_grades is not None else "nominal"
        score = krippendorff_alpha(tasks, users, values, level=level, categories=numeric_grades).to_dict()
        out.append({"criterion": name, "level": level, "alpha": score, "meaning": describe_alpha(score["value"])})
    return {"kind": "rubric", "criteria": out}
