"""Agreement and aggregation shared by the built-in types: single-choice answers, label sets, pairs.

A type's ``TaskType.agreement`` / ``aggregate`` call these with its own reading
of a result (``categorical_value``, or the label list of a multi-label result);
the figures come from the pure cores in ``bastion.quality``, imported when a
figure is first asked for (NumPy: never at start-up — the types import this
module's names when they load).

* **Single choice** (a label, a preferred response): the values are coded to
  integers in a fixed order, the cores run on the codes, the answers are
  decoded back — so a value keeps its type (preference's ``0``, ``1``,
  ``"tie"``) and its every character.
* **Label sets** (multi-label): each label of the config is its own binary
  question, present or absent in each annotator's answer. Agreement is reported
  per label (percent, Fleiss' κ, Krippendorff's α, specific agreement of
  "present") and as the mean over the labels where a figure is defined;
  aggregation decides each label by the chosen method and returns the labels
  decided present, with the probability that the whole set is right (the
  product of the per-label posteriors of what was decided).

The trap: never build a category by joining label strings. ``"yes|no"`` is one
label; a key like ``"|".join(labels)`` cannot tell it from the set ``{"yes",
"no"}`` — and splitting it back broke such labels in two. Values are compared as
Python values; a seed that combines text with a label goes through JSON.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import combinations
from typing import Any

import orjson

from .base import Rating

# The categorical aggregators, the default first (docs/quality.md#aggregation).
CATEGORICAL_METHODS = ("ds", "mv", "onecoin", "glad", "mace")
CATEGORICAL_MEASURES = ("percent_agreement", "fleiss_kappa", "krippendorff_alpha", "specific_agreement", "cohen_kappa")
_AGGREGATORS = {  # method -> the function of bastion.quality
    "mv": "majority_vote",
    "ds": "dawid_skene",
    "onecoin": "one_coin_dawid_skene",
    "glad": "glad",
    "mace": "mace",
}


def _cores() -> Any:
    """``bastion.quality``, imported on first use (it loads NumPy; start-up never needs it)."""
    from .. import quality

    return quality


# -- words ---------------------------------------------------------------------------


def describe_alpha(value: float | None) -> str:
    if value is None:
        return "undefined on this data"
    if value >= 0.8:
        return "reliable (α ≥ 0.8)"
    if value >= 0.667:
        return "tentative (0.667 ≤ α < 0.8): usable for cautious conclusions"
    if value >= 0.2:
        return "low: review the guidelines"
    return "very low: annotators barely agree beyond chance"


def describe_kappa(value: float | None) -> str:
    if value is None:
        return "undefined on this data"
    for bound, words in (
        (0.8, "almost perfect"),
        (0.6, "substantial"),
        (0.4, "moderate"),
        (0.2, "fair"),
        (0.0, "slight"),
    ):
        if value > bound:
            return words
    return "no better than chance"


def _summary(alpha: float | None, weakest: list[Any], name_of: Callable[[Any], str] = str) -> str:
    summary = f"α = {alpha:.2f}: {describe_alpha(alpha)}" if alpha is not None else "α undefined on this data"
    if alpha is not None and alpha < 0.667 and weakest:
        summary += " — review the guidelines for labels " + " and ".join(name_of(label) for label in weakest)
    return summary


# -- coding values -------------------------------------------------------------------


def _order_key(value: Hashable) -> tuple[str, Any]:
    return (type(value).__name__, value)


def code_values(values: Iterable[Hashable]) -> tuple[list[int], list[Hashable]]:
    """Values as integer codes, and the categories in code order (sorted within each type)."""
    values = list(values)
    categories = sorted(set(values), key=_order_key)
    index = {value: i for i, value in enumerate(categories)}
    return [index[value] for value in values], categories


def categorical_rows(
    value_of: Callable[[dict], Hashable | None], ratings: Sequence[Rating]
) -> tuple[list[str], list[str], list[Hashable]]:
    """(tasks, annotators, values) of the ratings that have a value."""
    tasks, users, values = [], [], []
    for rating in ratings:
        value = value_of(rating.result)
        if value is None:
            continue
        tasks.append(rating.task)
        users.append(rating.user)
        values.append(value)
    return tasks, users, values


def aggregator(method: str) -> Callable[..., Any]:
    return getattr(_cores(), _AGGREGATORS[method])


# -- single choice ---------------------------------------------------------------------


def categorical_agreement(
    value_of: Callable[[dict], Hashable | None], ratings: Sequence[Rating], name_of: Callable[[Any], str] = str
) -> dict[str, Any]:
    """Percent agreement, Fleiss' κ and Krippendorff's α (nominal), per label and per pair of annotators.
    ``name_of``: how the summary names a value (``TaskType.value_name``)."""
    tasks, users, values = categorical_rows(value_of, ratings)
    if not tasks:
        return {"kind": "categorical", "n_ratings": 0, "note": "no annotations yet"}
    codes, categories = code_values(values)
    report = _cores().agreement_report(tasks, users, codes, level="nominal").to_dict()
    for row in report["per_label"]:
        row["label"] = categories[row["label"]]
    alpha = report["krippendorff_alpha"]["value"]
    weakest = sorted(
        (r for r in report["per_label"] if r["kappa"]["value"] is not None), key=lambda r: r["kappa"]["value"]
    )[:2]
    report.update(
        kind="categorical",
        summary=_summary(alpha, [r["label"] for r in weakest], name_of),
        fleiss_meaning=describe_kappa(report["fleiss_kappa"]["value"]),
    )
    return report


def categorical_aggregate(
    value_of: Callable[[dict], Hashable | None], ratings: Sequence[Rating], method: str, seed: str
) -> dict[str, dict[str, Any]]:
    """One value per task: ``{"label", "confidence", "n", "method", "tie"}``."""
    tasks, users, values = categorical_rows(value_of, ratings)
    if not tasks:
        return {}
    codes, categories = code_values(values)
    result = aggregator(method)(tasks, users, codes, tie_seed=seed)
    counts = Counter(tasks)
    return {
        task: {
            "label": categories[code],
            "confidence": round(float(confidence), 6),
            "n": counts[task],
            "method": method,
            "tie": tie,
        }
        for task, code, confidence, tie in zip(
            result.tasks.tolist(), result.labels.tolist(), result.confidence.tolist(), result.tied.tolist(), strict=True
        )
    }


# -- label sets --------------------------------------------------------------------------


def _label_sets(
    labels_of: Callable[[dict], list | None], ratings: Sequence[Rating]
) -> tuple[list[str], list[str], list[set]]:
    tasks, users, sets = [], [], []
    for rating in ratings:
        labels = labels_of(rating.result)
        if labels is None:
            continue
        tasks.append(rating.task)
        users.append(rating.user)
        sets.append(set(labels))
    return tasks, users, sets


def _mean_score(scores: list[dict[str, Any]]) -> dict[str, Any]:
    defined = [s["value"] for s in scores if s["value"] is not None]
    if not defined:
        return {"value": None, "n_labels": 0, "reason": "undefined for every label on this data"}
    return {"value": statistics.fmean(defined), "n_labels": len(defined), "reason": None}


def multi_label_agreement(
    labels_of: Callable[[dict], list | None], domain: Sequence[str], ratings: Sequence[Rating]
) -> dict[str, Any]:
    """Each label of ``domain`` scored present/absent: figures per label, and their means over the labels."""
    tasks, users, sets = _label_sets(labels_of, ratings)
    if not tasks:
        return {"kind": "multi_label", "n_ratings": 0, "note": "no annotations yet"}
    per_label = []
    for label in domain:
        present = [int(label in chosen) for chosen in sets]
        report = _cores().agreement_report(tasks, users, present, level="nominal", include_pairs=False).to_dict()
        positive = next((row for row in report["per_label"] if row["label"] == 1), None)
        per_label.append(
            {
                "label": label,
                "n_ratings": sum(present),
                "percent_agreement": report["percent_agreement"],
                "fleiss_kappa": report["fleiss_kappa"],
                "krippendorff_alpha": report["krippendorff_alpha"],
                "specific_agreement": positive["specific_agreement"]
                if positive
                else {"value": None, "n_tasks": 0, "n_ratings": 0, "reason": "nobody chose this label"},
            }
        )
    out: dict[str, Any] = {
        "kind": "multi_label",
        "n_tasks": len(set(tasks)),
        "n_annotators": len(set(users)),
        "n_ratings": len(tasks),
    }
    for figure in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha"):
        out[figure] = _mean_score([row[figure] for row in per_label])
    alpha = out["krippendorff_alpha"]["value"]
    weakest = sorted(
        (r for r in per_label if r["krippendorff_alpha"]["value"] is not None),
        key=lambda r: r["krippendorff_alpha"]["value"],
    )[:2]
    out.update(
        per_label=per_label,
        summary="mean over labels: " + _summary(alpha, [r["label"] for r in weakest]),
        fleiss_meaning=describe_kappa(out["fleiss_kappa"]["value"]),
    )
    return out


def multi_label_aggregate(
    labels_of: Callable[[dict], list | None], domain: Sequence[str], ratings: Sequence[Rating], method: str, seed: str
) -> dict[str, dict[str, Any]]:
    """Each label decided present or absent by ``method``: ``{"label": [labels present], "confidence",
    "probabilities": {label: P(present)}, "n", "method", "tie"}`` per task."""
    tasks, users, sets = _label_sets(labels_of, ratings)
    if not tasks:
        return {}
    counts = Counter(tasks)
    chosen: dict[str, list[str]] = defaultdict(list)
    confidence: dict[str, float] = dict.fromkeys(counts, 1.0)
    probabilities: dict[str, dict[str, float]] = defaultdict(dict)
    tied: dict[str, bool] = dict.fromkeys(counts, False)
    run = aggregator(method)
    for label in domain:
        present = [int(label in s) for s in sets]
        result = run(tasks, users, present, tie_seed=orjson.dumps([seed, label]).decode())
        classes = result.classes.tolist()
        yes = classes.index(1) if 1 in classes else None
        for i, (task, decided, p, tie) in enumerate(
            zip(
                result.tasks.tolist(),
                result.labels.tolist(),
                result.confidence.tolist(),
                result.tied.tolist(),
                strict=True,
            )
        ):
            if decided == 1:
                chosen[task].append(label)
            confidence[task] *= p
            probabilities[task][label] = round(float(result.posteriors[i, yes]), 6) if yes is not None else 0.0
            tied[task] = tied[task] or tie
    return {
        task: {
            "label": chosen[task],
            "confidence": round(confidence[task], 6),
            "probabilities": probabilities[task],
            "n": n,
            "method": method,
            "tie": tied[task],
        }
        for task, n in counts.items()
    }


# -- pairs of annotators -------------------------------------------------------------------


def pairs_by_task(ratings: Sequence[Rating]) -> dict[tuple[str, str], list[tuple[str, dict, dict]]]:
    """(annotator a, annotator b) -> [(task, a's result, b's result)] over the tasks both answered."""
    by_task: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_task[rating.task].append(rating)
    pairs: dict[tuple[str, str], list[tuple[str, dict, dict]]] = defaultdict(list)
    for task, items in by_task.items():
        for x, y in combinations(sorted(items, key=lambda r: r.user), 2):
            pairs[(x.user, y.user)].append((task, x.result, y.result))
    return pairs
