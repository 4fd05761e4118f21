"""Grading an answer against a gold answer, per kind of answer (0 = wrong, 1 = right).

Each task type's ``gold_score`` calls one of these; the quality report counts an
answer as correct when its score is 1 and shows the mean score beside it.
"""

from __future__ import annotations

from typing import Any


def choice(result: dict, gold: dict, key: str) -> float:
    """Pairwise choice: the same response preferred (a tie against a choice scores half)."""
    mine, expected = result.get(key), gold.get(key)
    if mine == expected:
        return 1.0
    return 0.5 if "tie" in (mine, expected) else 0.0


def ranks(result: dict, gold: dict) -> float:
    """Rank correlation mapped to [0, 1]: (τ-b + 1) / 2; identical orders score 1."""
    if result.get("ranks") == gold.get("ranks"):
        return 1.0
    from ..quality import rank_correlation  # numpy: loaded when a gold ranking is graded

    tau = rank_correlation(result["ranks"], gold["ranks"]).kendall_tau_b.value
    return 0.0 if tau is None else round((tau + 1) / 2, 6)


def spans(result: dict, gold: dict) -> float:
    """Strict span F1 against the gold spans (no spans on both sides scores 1)."""
    mine = [(0, s["start"], s["end"], s["label"]) for s in result.get("spans", [])]
    expected = [(0, s["start"], s["end"], s["label"]) for s in gold.get("spans", [])]
    if not mine and not expected:
        return 1.0
    from ..quality import span_agreement

    f1 = span_agreement(expected, mine, mode="strict").overall.f1.value
    return 0.0 if f1 is None else float(f1)


def rubric(result: dict, gold: dict, scales: dict[str, Any]) -> float:
    """1 − the mean distance of the grades, each normalised by its scale's span (named scales: exact)."""
    distances = []
    for criterion, expected in gold.get("scores", {}).items():
        mine = result.get("scores", {}).get(criterion)
        scale = scales.get(criterion)
        if isinstance(expected, (int, float)) and isinstance(mine, (int, float)) and isinstance(scale, tuple):
            low, high = scale
            distances.append(abs(mine - expected) / max(high - low, 1))
        else:
            distances.append(0.0 if mine == expected else 1.0)
    return 1.0 if not distances else round(1 - sum(distances) / len(distances), 6)


def boxes(result: dict, gold: dict, threshold: float = 0.5) -> float:
    """Images: the mean of the image label's exact match and the F1 of boxes matched to
    gold boxes of the same label at IoU ≥ 0.5 (greedy by IoU), over the parts the gold has."""
    parts = []
    if "label" in gold or "labels" in gold:
        labels_ok = result.get("label") == gold.get("label") and result.get("labels") == gold.get("labels")
        parts.append(1.0 if labels_ok else 0.0)
    mine, expected = result.get("boxes", []), gold.get("boxes", [])
    if mine or expected:
        parts.append(_box_f1(mine, expected, threshold))
    return 1.0 if not parts else round(sum(parts) / len(parts), 6)


def _box_f1(mine: list, expected: list, threshold: float) -> float:
    pairs = sorted(
        ((iou(a, b), i, j) for i, a in enumerate(mine) for j, b in enumerate(expected) if a["label"] == b["label"]),
        reverse=True,
    )
    used_a, used_b, matched = set(), set(), 0
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched += 1
    if not matched:
        return 0.0
    precision, recall = matched / len(mine), matched / len(expected)
    return round(2 * precision * recall / (precision + recall), 6)


def iou(a: dict, b: dict) -> float:
    ax2, ay2, bx2, by2 = a["x"] + a["w"], a["y"] + a["h"], b["x"] + b["w"], b["y"] + b["h"]
    w = max(0.0, min(ax2, bx2) - max(a["x"], b["x"]))
    h = max(0.0, min(ay2, by2) - max(a["y"], b["y"]))
    inter = w * h
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0
