"""A project's quality figures: agreement, accuracy on gold, aggregation, throughput — and pauses.

The driver is generic: it reads the project's annotations (``storage/quality_store.py``),
opens them in one pass, and asks the project's task type what its answers mean —
``agreement`` (which figures compare annotators, computed by the pure cores of
``bastion.quality``), ``categorical_value`` (an answer as one category: the
confusion matrix, accuracy per gold label) and ``aggregate`` with one of its
``aggregation_methods``. What each built-in type reports is in docs/quality.md;
a plugin type reports what it declares, through the same calls.

What is counted: agreement and aggregation read the *usable* annotations — not
gold answers (graded at submit; they give each annotator's accuracy with a Wilson
interval) and not rejected ones. Every figure is a number or ``null`` with a
reason — never NaN — and comes with its meaning in words.

Aggregation draws ties at random, per task, keyed by the project id (``tie_seed``):
unbiased between the tied answers, yet the same on every run, so an export with
``aggregate=…`` is reproducible; the report counts the ties.

The trap: an aggregation method is checked against the task type *before* anything
is streamed (``check_aggregation_method``, which exports call in ``start_export``);
refusing it from inside a stream can only cut the body off mid-way.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from .context import Context, Unit
from .projects import Project, load_project
from ..access import Action
from ..domain.errors import InvalidConfig, InvalidInput, NotFound
from ..storage import authors_store, quality_store, tasks_store
from ..tasktypes import Rating, TaskType, installed

DAY_MS = 24 * 3600 * 1000
LOW_CONFIDENCE = 0.7


class ProjectAnnotation(NamedTuple):
    """One annotation of the project, opened: what the report and aggregation read."""

    id: str
    project_id: str
    task: str
    user: str
    result: dict
    gold_score: float | None
    lead_time_ms: int | None
    created_at: int
    review: str
    is_gold: bool
    gold: dict | None


# -- which methods fit ---------------------------------------------------------------


def aggregation_methods(task_type_name: str) -> list[str]:
    """The aggregation methods that fit a task type's answers, the default first (empty: none)."""
    return list(installed().get(task_type_name).aggregation_methods)


def methods_by_type() -> dict[str, list[str]]:
    """Every installed task type that aggregates -> its methods (for help texts and the API description)."""
    return {tt.name: list(tt.aggregation_methods) for tt in installed() if tt.aggregation_methods}


def check_aggregation_method(task_type: TaskType, method: str | None, *, field: str = "aggregate") -> str:
    """``method`` if it fits the type (None: the type's default); else InvalidInput naming ``field`` and the
    methods that fit. Call it before anything is streamed."""
    fits = task_type.aggregation_methods
    if method is None:
        if not fits:
            raise InvalidInput(f"{field}: {task_type.name} answers are not aggregated (methods that fit: none)")
        return fits[0]
    if method not in fits:
        listed = ", ".join(fits) if fits else "none"
        raise InvalidInput(f"{field}: {method!r} does not fit {task_type.name} projects (methods that fit: {listed})")
    return method


# -- reading the annotations -----------------------------------------------------------


def load_annotations(u: Unit, project: Project) -> list[ProjectAnnotation]:
    """Every annotation of the project with its result opened (gold answers flagged)."""
    sealer = u.sealer(project.workspace_id, project.key_id)
    open_json = sealer.open_json
    return [
        ProjectAnnotation(
            row.id,
            project.id,
            row.task_id,
            row.user_id,
            open_json("annotations", row.id, "result", row.result),
            row.gold_score,
            row.lead_time_ms,
            row.created_at,
            row.review_status,
            bool(row.is_gold),
            open_json("tasks", row.task_id, "gold", row.gold) if row.is_gold and row.gold is not None else None,
        )
        for row in quality_store.list_annotations(u.tx, project.workspace_id, project.id)
    ]


def usable(annotations: Iterable[ProjectAnnotation]) -> list[ProjectAnnotation]:
    """What agreement and aggregation count: not gold answers, not rejected annotations."""
    return [a for a in annotations if not a.is_gold and a.review != "rejected"]


# The names exports use (services/exports.py reads a project's answers through them).
_annotations = load_annotations
_usable = usable


def _ratings(annotations: Iterable[ProjectAnnotation]) -> list[Rating]:
    return [Rating(a.task, a.user, a.result) for a in annotations]


# -- agreement and aggregation -----------------------------------------------------------


def agreement_figures(task_type: TaskType, config: Any, ratings: Sequence[Rating]) -> dict[str, Any]:
    """The type's agreement figures, or ``{"kind": "none"}`` when it compares no answers."""
    if not task_type.agreement_measures:
        return {"kind": "none", "note": f"{task_type.name} answers are not compared: agreement is not computed"}
    return task_type.agreement(config, ratings)


class _TypesWithAgreement:
    """``name in AGREEMENT_TYPES``: is the installed type ``name`` one whose answers are compared?"""

    def __contains__(self, name: object) -> bool:
        try:
            return isinstance(name, str) and bool(installed().get(name).agreement_measures)
        except InvalidConfig:
            return False


AGREEMENT_TYPES = _TypesWithAgreement()


def agreement_of(task_type: str, config: dict, annotations: list[dict]) -> dict[str, Any]:
    """The quality report's agreement figures over given annotations (an export's manifest uses the
    exported ones): each ``{"task", "user", "result", "is_gold", "review"}``."""
    tt = installed().get(task_type)
    ratings = [
        Rating(a["task"], a["user"], a["result"]) for a in annotations if not a["is_gold"] and a["review"] != "rejected"
    ]
    return agreement_figures(tt, tt.parse_config(config), ratings)


def aggregate(
    task_type: str, config: dict, annotations: Sequence[ProjectAnnotation], method: str, *, seed: str | None = None
) -> dict[str, dict[str, Any]]:
    """One answer per task (``usable`` annotations): task id -> ``{"label" | "order", "n", "method", …}``.

    ``seed`` keys the draw of ties; by default the project id, so a project aggregates the
    same way every time.
    """
    tt = installed().get(task_type)
    method = check_aggregation_method(tt, method)
    if not annotations:
        return {}
    return tt.aggregate(
        tt.parse_config(config),
        _ratings(annotations),
        method,
        seed=seed if seed is not None else annotations[0].project_id,
    )


def _aggregation_summary(
    task_type: TaskType,
    config: Any,
    ratings: list[Rating],
    aggregated: dict[str, dict],
    method: str,
    emails: dict[str, str],
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "method": method,
        "methods": list(task_type.aggregation_methods),
        "tasks": len(aggregated),
    }
    confidences = [v["confidence"] for v in aggregated.values() if "confidence" in v]
    if confidences:
        summary.update(
            mean_confidence=round(statistics.fmean(confidences), 4),
            low_confidence_tasks=sum(1 for c in confidences if c < LOW_CONFIDENCE),
            ties=sum(1 for v in aggregated.values() if v.get("tie")),
        )
    confusion = _confusion(task_type, config, ratings, aggregated, emails)
    if confusion is not None:
        summary["confusion"] = confusion
    return summary


def _confusion(
    task_type: TaskType, config: Any, ratings: list[Rating], aggregated: dict[str, dict], emails: dict[str, str]
) -> dict[str, Any] | None:
    """Each annotator's answers against the aggregate: a confusion matrix (all annotators) and agreement rate.

    Only for single-choice answers (a ``categorical_value``); categories are compared as values and
    shown as text.
    """
    pairs = []
    for rating in ratings:
        value = task_type.categorical_value(config, rating.result)
        truth = aggregated.get(rating.task)
        if value is None or truth is None or isinstance(truth.get("label"), (list, dict)) or "label" not in truth:
            continue
        pairs.append((rating.user, truth["label"], value))
    if not pairs:
        return None
    categories = sorted({v for _, t, a in pairs for v in (t, a)}, key=lambda v: (type(v).__name__, v))
    index = {value: i for i, value in enumerate(categories)}
    matrix = [[0] * len(categories) for _ in categories]
    agree: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for user, truth, value in pairs:
        matrix[index[truth]][index[value]] += 1
        agree[user][0] += truth == value
        agree[user][1] += 1
    return {
        "labels": [str(c) for c in categories],
        "matrix": matrix,
        "per_annotator": [
            {"user_id": u, "email": emails.get(u), "agreement_with_aggregate": round(a / n, 4), "n": n}
            for u, (a, n) in sorted(agree.items())
        ],
    }


# -- gold, throughput --------------------------------------------------------------------


# A gold answer counts as right when its score reaches this (scores are 0..1; partial credit below).
CORRECT_AT = 0.999


def accuracy_figures(correct: int, n: int, mean_score: float) -> dict[str, Any]:
    """Accuracy on gold from tallies (``n`` > 0 answers, ``correct`` of them right, their mean score),
    with a 95% Wilson interval: the quality report's figures, and the workforce dashboard's."""
    from ..quality import wilson_interval  # NumPy: loaded with the report, not at start-up

    interval = wilson_interval(correct, n)
    return {
        "gold_answers": n,
        "mean_score": round(mean_score, 4),
        "accuracy": round(correct / n, 4),
        "low": round(interval.low, 4),
        "high": round(interval.high, 4),
    }


def _accuracy(scores: list[float]) -> dict[str, Any]:
    return accuracy_figures(sum(1 for s in scores if s >= CORRECT_AT), len(scores), statistics.fmean(scores))


def _gold_accuracy(
    task_type: TaskType, config: Any, annotations: list[ProjectAnnotation], emails: dict[str, str]
) -> list[dict[str, Any]]:
    """Each annotator's accuracy on gold, with a Wilson interval — overall and per gold label
    (single-choice answers: the gold answer's ``categorical_value``)."""
    by_user: dict[str, list[float]] = defaultdict(list)
    by_user_label: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for a in annotations:
        if a.gold_score is None:
            continue
        by_user[a.user].append(a.gold_score)
        label = task_type.categorical_value(config, a.gold) if a.gold else None
        if label is not None:
            by_user_label[a.user][str(label)].append(a.gold_score)
    out = []
    for user, scores in sorted(by_user.items()):
        per_label = [{"label": label, **_accuracy(values)} for label, values in sorted(by_user_label[user].items())]
        out.append({"user_id": user, "email": emails.get(user), **_accuracy(scores), "per_label": per_label})
    return out


def _throughput(annotations: list[ProjectAnnotation], emails: dict[str, str], now: int) -> dict[str, Any]:
    per_day: dict[int, int] = defaultdict(int)
    lead: dict[str, list[int]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for a in annotations:
        per_day[(now - a.created_at) // DAY_MS] += 1
        counts[a.user] += 1
        if a.lead_time_ms is not None:
            lead[a.user].append(a.lead_time_ms)
    days = [{"days_ago": d, "annotations": per_day.get(d, 0)} for d in range(29, -1, -1)]
    people = [
        {
            "user_id": u,
            "email": emails.get(u),
            "annotations": n,
            "median_seconds": round(statistics.median(lead[u]) / 1000, 1) if lead[u] else None,
        }
        for u, n in sorted(counts.items(), key=lambda kv: -kv[1])
    ]
    return {"last_30_days": days, "per_annotator": people}


# -- the report ----------------------------------------------------------------------------


def quality_report(ctx: Context, project_id: str, *, method: str | None = None) -> dict[str, Any]:
    """Everything the quality page shows, as JSON (numbers or null with a reason; never NaN).

    ``method``: the aggregation method (one that fits the project's type; None: the type's default).
    """
    with ctx.write() as w:
        project = load_project(w, project_id, Action.QUALITY_READ)
        task_type = w.rt.task_types.get(project.task_type)
        if task_type.aggregation_methods or method is not None:
            method = check_aggregation_method(task_type, method, field="method")
        w.see_content(project.workspace_id)
        annotations = load_annotations(w, project)
        # members by e-mail, external annotators by handle (services/attributed.py)
        emails = {
            **authors_store.external_handles(w.tx, project.workspace_id),
            **quality_store.member_emails(w.tx, project.workspace_id),
        }
        pauses = quality_store.list_pauses(w.tx, project.workspace_id, project.id)
        model_predictions = load_model_predictions(w, project)
        w.audit(project.workspace_id, "quality.read", project.id)
        now = w.now
    config = task_type.parse_config(project.config)
    kept = usable(annotations)
    ratings = _ratings(kept)
    report: dict[str, Any] = {
        "project_id": project.id,
        "task_type": project.task_type,
        "annotations": len(kept),
        "gold_answers": sum(1 for a in annotations if a.is_gold),
        "review": {
            s: sum(1 for a in annotations if a.review == s) for s in ("pending", "accepted", "rejected", "corrected")
        },
        "agreement": agreement_figures(task_type, config, ratings),
        "gold_accuracy": _gold_accuracy(task_type, config, annotations, emails),
        "throughput": _throughput(kept, emails, now),
        "pauses": [
            {"user_id": p.user_id, "paused_at": p.paused_at, "reason": p.reason, "email": emails.get(p.user_id)}
            for p in pauses
        ],
    }
    report["prelabels"] = prelabel_figures(task_type, config, model_predictions, kept)
    if method is not None and ratings:
        aggregated = task_type.aggregate(config, ratings, method, seed=project.id)
        if aggregated:
            report["aggregation"] = _aggregation_summary(task_type, config, ratings, aggregated, method, emails)
    return report


# -- pre-labels: how a model's predictions fared with the people (docs/prelabel.md) -------------------


def load_model_predictions(u: Unit, project: Project) -> dict[str, list[tuple[str, dict]]]:
    """Each task's predictions that name their model: task id -> [(model version, result)]."""
    sealer = u.sealer(project.workspace_id, project.key_id)
    found: dict[str, list[tuple[str, dict]]] = {}
    for task_id, sealed in tasks_store.iter_predictions(u.tx, project.id, workspace_id=project.workspace_id):
        for p in sealer.open_json("tasks", task_id, "predictions", sealed):
            if isinstance(p, dict) and isinstance(p.get("result"), dict) and isinstance(p.get("model_version"), str):
                found.setdefault(task_id, []).append((p["model_version"], p["result"]))
    return found


def accepted(task_type: TaskType, config: Any, prediction: dict, result: dict) -> bool:
    """Whether a person's answer is the model's: the same category, or every part the prediction gives the
    same in the answer (a writer who kept the draft as it was)."""
    mine = task_type.categorical_value(config, prediction)
    if mine is not None:
        return mine == task_type.categorical_value(config, result)
    return all(result.get(key) == value for key, value in prediction.items())


def prelabel_figures(
    task_type: TaskType,
    config: Any,
    predictions: dict[str, list[tuple[str, dict]]],
    annotations: Sequence[ProjectAnnotation],
) -> list[dict[str, Any]]:
    """Per model version: tasks it pre-labelled, how many of those people answered, the share of their
    answers equal to the model's (acceptance) and the mean agreement of each answer with the model's
    (the type's ``task_agreement`` of the pair; null where the type compares no answers)."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for a in annotations:
        by_task[a.task].append(a.result)
    stats: dict[str, dict[str, Any]] = {}
    for task_id, found in predictions.items():
        for version, prediction in found:
            s = stats.setdefault(version, {"tasks": 0, "answered": 0, "answers": 0, "accepted": 0, "agreements": []})
            s["tasks"] += 1
            answers = by_task.get(task_id, [])
            s["answered"] += 1 if answers else 0
            for result in answers:
                s["answers"] += 1
                s["accepted"] += accepted(task_type, config, prediction, result)
                value = task_type.task_agreement(config, [prediction, result])
                if value is not None:
                    s["agreements"].append(value)
    out = []
    for version in sorted(stats):
        s = stats[version]
        item: dict[str, Any] = {
            "model_version": version,
            "tasks": s["tasks"],
            "tasks_answered": s["answered"],
            "answers": s["answers"],
            "accepted": s["accepted"],
            "acceptance_rate": round(s["accepted"] / s["answers"], 4) if s["answers"] else None,
            "agreement": round(statistics.fmean(s["agreements"]), 4) if s["agreements"] else None,
        }
        if not s["answers"]:
            item["note"] = "no person has answered a task this model pre-labelled yet"
        elif not task_type.agreement_measures:
            item["note"] = f"{task_type.name} answers are not compared: agreement is not computed"
        out.append(item)
    return out


# -- pauses ------------------------------------------------------------------------------


def lift_pause(ctx: Context, project_id: str, user_id: str) -> None:
    """A manager lets a paused annotator work on the project again."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.QUALITY_MANAGE)
        if not quality_store.delete_pause(w.tx, project.workspace_id, project.id, user_id):
            raise NotFound("this person is not paused on this project")
        w.audit(project.workspace_id, "quality.pause_lifted", user_id, project=project.id)
