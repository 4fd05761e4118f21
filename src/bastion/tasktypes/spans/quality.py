"""Span quality: precision, recall and F1 between annotators, strict and overlapping (NumPy: loaded on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .._quality import pairs_by_task
from ..base import Rating
from ...quality import span_agreement

MODES: tuple[Literal["strict", "overlap"], ...] = ("strict", "overlap")


def agreement(ratings: Sequence[Rating]) -> dict[str, Any]:
    """Every two annotators' spans on the tasks both marked, per pair and pooled over the pairs."""
    pooled: dict[str, tuple[list, list]] = {mode: ([], []) for mode in MODES}
    per_pair = []
    for (ua, ub), items in pairs_by_task(ratings).items():
        spans_a = [(task, s["start"], s["end"], s["label"]) for task, ra, _ in items for s in ra.get("spans", [])]
        spans_b = [(task, s["start"], s["end"], s["label"]) for task, _, rb in items for s in rb.get("spans", [])]
        row: dict[str, Any] = {"annotator_a": ua, "annotator_b": ub, "n_tasks": len(items)}
        for mode in MODES:
            pooled[mode][0].extend(spans_a)
            pooled[mode][1].extend(spans_b)
            row[f"{mode}_f1"] = span_agreement(spans_a, spans_b, mode=mode).to_dict()["overall"]["f1"]
        per_pair.append(row)
    out: dict[str, Any] = {"kind": "spans", "per_pair": per_pair}
    for mode in MODES:
        a, b = pooled[mode]
        out[mode] = span_agreement(a, b, mode=mode).to_dict() if a or b else None
    strict = out["strict"]["overall"]["f1"] if out["strict"] else None
    out["summary"] = (
        f"strict span F1 between annotators = {strict['value']:.2f}"
        if strict and strict["value"] is not None
        else "no task annotated by two people yet"
    )
    return out
