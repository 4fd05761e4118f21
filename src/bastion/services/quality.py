"""A project's quality figures: agreement, accuracy on gold, aggregation, throughput — and pauses.

The figures are computed from the project's annotations, decrypted in one pass,
with the pure functions of ``bastion.quality`` (exact to the reference
libraries). What is compared depends on the task type:

==============  ===============================================================
classification  the label (nominal); multi-label: each label as present/absent
preference      the preferred response (0, 1, tie) — indices of the data, so the
                randomised screen order is already undone; plus position bias
ranking         Kendall's τ-b and Spearman's ρ between every two annotators
spans           precision/recall/F1 between every two annotators, strict and overlap
rubric          Krippendorff's α per criterion (ordinal for numeric scales)
image           the image label(s) when the config has labels (boxes: not compared)
writing         free text: no agreement figure
==============  ===============================================================

Every figure is a number or ``null`` with a reason — never NaN — and comes with
its meaning in words. Gold answers (graded at submit) give each annotator's
accuracy with a Wilson interval; they are not part of the agreement figures.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from ..access import Action
from ..domain.errors import InvalidInput, NotFound
from ..quality import (
    agreement_report,
    bradley_terry,
    dawid_skene,
    glad,
    krippendorff_alpha,
    mace,
    majority_vote,
    one_coin_dawid_skene,
    rank_correlation,
    span_agreement,
    wilson_interval,
)
from ..storage import schema
from .context import Context, Unit
from .projects import load_project

N = schema.annotations
T = schema.tasks
PZ = schema.annotator_pauses
DAY_MS = 24 * 3600 * 1000
AGGREGATORS = {
    "mv": majority_vote,
    "ds": dawid_skene,
    "onecoin": one_coin_dawid_skene,
    "glad": glad,
    "mace": mace,
}


# -- reading the annotations ---------------------------------------------------------


def _annotations(u: Unit, project) -> list[dict[str, Any]]:
    """Every annotation of the project with its result decrypted (gold answers flagged)."""
    sealer = u.sealer(project.workspace_id, project.key_id)
    rows = u.execute(
        select(N.c.id, N.c.task_id, N.c.user_id, N.c.result, N.c.gold_score, N.c.lead_time_ms, N.c.created_at,
               N.c.review_status, T.c.is_gold, T.c.gold)
        .join(T, (T.c.workspace_id == N.c.workspace_id) & (T.c.id == N.c.task_id))
        .where(N.c.workspace_id == project.workspace_id, N.c.project_id == project.id)
        .order_by(N.c.task_id, N.c.id)
    ).all()
    return [
        {"id": r.id, "task": r.task_id, "user": r.user_id,
         "result": sealer.open_json("annotations", r.id, "result", r.result), "gold_score": r.gold_score,
         "lead_time_ms": r.lead_time_ms, "created_at": r.created_at, "review": r.review_status,
         "is_gold": bool(r.is_gold),
         "gold": sealer.open_json("tasks", r.task_id, "gold", r.gold) if r.is_gold and r.gold is not None else None}
        for r in rows
    ]


def _usable(annotations: list[dict]) -> list[dict]:
    """What agreement and aggregation count: not gold answers, not rejected annotations."""
    return [a for a in annotations if not a["is_gold"] and a["review"] != "rejected"]


def categorical_values(task_type: str, config: dict, annotations: list[dict]) -> tuple[list, list, list] | None:
    """(tasks, annotators, values) for the types with one categorical answer per task."""
    tasks, users, values = [], [], []
    for a in annotations:
        result = a["result"]
        if task_type in ("classification", "image"):
            if "label" in result:
                value = result["label"]
            elif "labels" in result:
                value = "|".join(sorted(result["labels"]))
            else:
                continue
        elif task_type == "preference":
            value = str(result.get("preferred"))
        else:
            return None
        tasks.append(a["task"])
        users.append(a["user"])
        values.append(value)
    return tasks, users, values


# -- interpretations ---------------------------------------------------------------


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
    for bound, words in ((0.8, "almost perfect"), (0.6, "substantial"), (0.4, "moderate"), (0.2, "fair"),
                         (0.0, "slight")):
        if value > bound:
            return words
    return "no better than chance"


# -- the report ----------------------------------------------------------------------


def _agreement(task_type: str, config: dict, annotations: list[dict]) -> dict[str, Any]:
    rows = categorical_values(task_type, config, annotations)
    if rows is not None:
        tasks, users, values = rows
        if not tasks:
            return {"kind": "categorical", "n_ratings": 0, "note": "no annotations yet"}
        report = agreement_report(tasks, users, values, level="nominal").to_dict()
        alpha = report["krippendorff_alpha"]["value"]
        weakest = sorted((r for r in report["per_label"] if r["kappa"]["value"] is not None),
                         key=lambda r: r["kappa"]["value"])[:2]
        summary = f"α = {alpha:.2f}: {describe_alpha(alpha)}" if alpha is not None else "α undefined on this data"
        if alpha is not None and alpha < 0.667 and weakest:
            summary += " — review the guidelines for labels " + " and ".join(str(r["label"]) for r in weakest)
        report.update(kind="categorical", summary=summary,
                      fleiss_meaning=describe_kappa(report["fleiss_kappa"]["value"]))
        if task_type == "preference":
            report["position_bias"] = _position_bias(annotations)
        return report
    if task_type == "ranking":
        return _ranking_agreement(annotations)
    if task_type == "spans":
        return _span_agreement(annotations)
    if task_type == "rubric":
        return _rubric_agreement(config, annotations)
    return {"kind": "none", "note": f"{task_type} answers are free text: agreement is not computed"}


def _position_bias(annotations: list[dict]) -> dict[str, Any]:
    """How often the preferred response was the one shown on the left (0.5 = no bias)."""
    left = total = 0
    for a in annotations:
        result = a["result"]
        order, preferred = result.get("shown_order"), result.get("preferred")
        if order and preferred in (0, 1):
            total += 1
            left += order.index(preferred) == 0
    if not total:
        return {"left_share": None, "n": 0, "reason": "no preference with a recorded screen order"}
    interval = wilson_interval(left, total)
    return {"left_share": round(left / total, 4), "n": total, "low": round(interval.low, 4),
            "high": round(interval.high, 4),
            "meaning": "no position bias detected" if interval.low <= 0.5 <= interval.high
            else "annotators favour one side: keep the order randomised"}


def _pairs_by_task(annotations: list[dict]) -> dict[tuple[str, str], list[tuple[str, dict, dict]]]:
    by_task: dict[str, list[dict]] = defaultdict(list)
    for a in annotations:
        by_task[a["task"]].append(a)
    pairs: dict[tuple[str, str], list] = defaultdict(list)
    for task, items in by_task.items():
        for x, y in combinations(sorted(items, key=lambda a: a["user"]), 2):
            pairs[(x["user"], y["user"])].append((task, x["result"], y["result"]))
    return pairs


def _ranking_agreement(annotations: list[dict]) -> dict[str, Any]:
    taus, rhos, per_pair = [], [], []
    for (ua, ub), items in _pairs_by_task(annotations).items():
        pair_tau = []
        for _task, ra, rb in items:
            corr = rank_correlation(ra["ranks"], rb["ranks"])
            if corr.kendall_tau_b.value is not None:
                pair_tau.append(corr.kendall_tau_b.value)
                taus.append(corr.kendall_tau_b.value)
            if corr.spearman_rho.value is not None:
                rhos.append(corr.spearman_rho.value)
        per_pair.append({"annotator_a": ua, "annotator_b": ub, "n_tasks": len(items),
                         "mean_kendall_tau": round(statistics.fmean(pair_tau), 4) if pair_tau else None})
    mean_tau = round(statistics.fmean(taus), 4) if taus else None
    return {"kind": "ranking", "mean_kendall_tau": mean_tau,
            "mean_spearman_rho": round(statistics.fmean(rhos), 4) if rhos else None, "per_pair": per_pair,
            "summary": f"mean Kendall τ-b = {mean_tau:.2f}" if mean_tau is not None
            else "no task ranked by two people yet"}


def _span_agreement(annotations: list[dict]) -> dict[str, Any]:
    pooled = {"strict": [[], []], "overlap": [[], []]}
    per_pair = []
    for (ua, ub), items in _pairs_by_task(annotations).items():
        spans_a = [(task, s["start"], s["end"], s["label"]) for task, ra, _ in items for s in ra.get("spans", [])]
        spans_b = [(task, s["start"], s["end"], s["label"]) for task, _, rb in items for s in rb.get("spans", [])]
        row = {"annotator_a": ua, "annotator_b": ub, "n_tasks": len(items)}
        for mode in ("strict", "overlap"):
            pooled[mode][0].extend(spans_a)
            pooled[mode][1].extend(spans_b)
            row[f"{mode}_f1"] = span_agreement(spans_a, spans_b, mode=mode).to_dict()["overall"]["f1"]
        per_pair.append(row)
    out: dict[str, Any] = {"kind": "spans", "per_pair": per_pair}
    for mode in ("strict", "overlap"):
        if pooled[mode][0] or pooled[mode][1]:
            out[mode] = span_agreement(pooled[mode][0], pooled[mode][1], mode=mode).to_dict()
        else:
            out[mode] = None
    strict = out["strict"]["overall"]["f1"] if out["strict"] else None
    out["summary"] = (f"strict span F1 between annotators = {strict['value']:.2f}" if strict and strict["value"]
                      is not None else "no task annotated by two people yet")
    return out


def _rubric_agreement(config: dict, annotations: list[dict]) -> dict[str, Any]:
    criteria = []
    for criterion in config.get("criteria", []):
        name = criterion["name"] if isinstance(criterion, dict) else str(criterion)
        scale = (criterion.get("scale") if isinstance(criterion, dict) else None) or config.get("scale")
        numeric = isinstance(scale, dict)
        tasks, users, values = [], [], []
        for a in annotations:
            value = a["result"].get("scores", {}).get(name)
            if value is not None:
                tasks.append(a["task"])
                users.append(a["user"])
                values.append(value)
        if not tasks:
            criteria.append({"criterion": name, "alpha": None, "reason": "not graded yet"})
            continue
        level = "ordinal" if numeric else "nominal"
        categories = list(range(scale["min"], scale["max"] + 1)) if numeric else None
        score = krippendorff_alpha(tasks, users, values, level=level, categories=categories).to_dict()
        criteria.append({"criterion": name, "level": level, "alpha": score, "meaning": describe_alpha(score["value"])})
    return {"kind": "rubric", "criteria": criteria}


def _accuracy(scores: list[float]) -> dict[str, Any]:
    correct = sum(1 for s in scores if s >= 0.999)
    interval = wilson_interval(correct, len(scores))
    return {"gold_answers": len(scores), "mean_score": round(statistics.fmean(scores), 4),
            "accuracy": round(correct / len(scores), 4), "low": round(interval.low, 4), "high": round(interval.high, 4)}


def _gold_label(gold: dict | None) -> str | None:
    """The gold answer's label, for per-label accuracy (categorical answers only)."""
    if not gold:
        return None
    for key in ("label", "preferred"):
        if key in gold:
            return str(gold[key])
    return None


def _gold_accuracy(annotations: list[dict], emails: dict[str, str]) -> list[dict[str, Any]]:
    """Each annotator's accuracy on gold, with a Wilson interval — overall and per gold label."""
    by_user: dict[str, list[float]] = defaultdict(list)
    by_user_label: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for a in annotations:
        if a["gold_score"] is not None:
            by_user[a["user"]].append(a["gold_score"])
            label = _gold_label(a["gold"])
            if label is not None:
                by_user_label[a["user"]][label].append(a["gold_score"])
    out = []
    for user, scores in sorted(by_user.items()):
        per_label = [{"label": label, **_accuracy(values)} for label, values in sorted(by_user_label[user].items())]
        out.append({"user_id": user, "email": emails.get(user), **_accuracy(scores), "per_label": per_label})
    return out


def _throughput(annotations: list[dict], emails: dict[str, str], now: int) -> dict[str, Any]:
    per_day: dict[int, int] = defaultdict(int)
    lead: dict[str, list[int]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for a in annotations:
        per_day[(now - a["created_at"]) // DAY_MS] += 1
        counts[a["user"]] += 1
        if a["lead_time_ms"] is not None:
            lead[a["user"]].append(a["lead_time_ms"])
    days = [{"days_ago": d, "annotations": per_day.get(d, 0)} for d in range(29, -1, -1)]
    people = [{"user_id": u, "email": emails.get(u), "annotations": n,
               "median_seconds": round(statistics.median(lead[u]) / 1000, 1) if lead[u] else None}
              for u, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return {"last_30_days": days, "per_annotator": people}


def aggregate(task_type: str, config: dict, annotations: list[dict], method: str) -> dict[str, dict[str, Any]]:
    """One answer per task with its posterior confidence: task id -> {"label", "confidence", "n"}."""
    if task_type == "ranking" and method in ("bt", "mv"):
        return _aggregate_rankings(annotations)
    if method not in AGGREGATORS:
        raise InvalidInput(f"aggregate: one of {', '.join([*AGGREGATORS, 'bt'])}")
    rows = categorical_values(task_type, config, annotations)
    if rows is None:
        raise InvalidInput(f"aggregate: {task_type} answers are not categorical (rankings use 'bt')")
    tasks, users, values = rows
    if not tasks:
        return {}
    result = AGGREGATORS[method](tasks, users, values)
    counts = defaultdict(int)
    for t in tasks:
        counts[t] += 1
    out = {}
    for record in result.task_records():
        value = record["label"]
        if task_type == "preference":
            value = "tie" if value == "tie" else int(value)
        elif "|" in str(value) or config.get("multiple"):
            value = [v for v in str(value).split("|") if v]
        out[record["task"]] = {"label": value, "confidence": round(float(record["confidence"]), 6),
                               "n": counts[record["task"]], "method": method}
    return out


def _aggregate_rankings(annotations: list[dict]) -> dict[str, dict[str, Any]]:
    by_task: dict[str, list[dict]] = defaultdict(list)
    for a in annotations:
        by_task[a["task"]].append(a)
    out = {}
    for task, items in by_task.items():
        ranks = [a["result"]["ranks"] for a in items]
        n_items = len(ranks[0])
        first, second, outcome, who = [], [], [], []
        for a, r in zip(items, ranks):
            for i, j in combinations(range(n_items), 2):
                first.append(i)
                second.append(j)
                outcome.append("A" if r[i] < r[j] else "B" if r[i] > r[j] else "tie")
                who.append(a["user"])
        fit = bradley_terry(who, first, second, outcome)
        scores = dict(zip(fit.candidates.tolist(), fit.scores.tolist()))
        order = [int(c) for c in fit.ranking().tolist()]
        out[task] = {"order": order, "scores": [round(float(scores.get(i, 0.0)), 6) for i in range(n_items)],
                     "n": len(items), "method": "bt"}
    return out


# The types whose answers ``_agreement`` compares (the others answer {"kind": "none"}).
AGREEMENT_TYPES = frozenset({"classification", "image", "preference", "ranking", "spans", "rubric"})


def agreement_of(task_type: str, config: dict, annotations: list[dict]) -> dict[str, Any]:
    """The quality report's agreement figures over given annotations (an export's manifest uses the
    exported ones): each ``{"task", "user", "result", "is_gold", "review"}``."""
    return _agreement(task_type, config, _usable(annotations))


def quality_report(ctx: Context, project_id: str, *, method: str = "ds") -> dict[str, Any]:
    """Everything the quality page shows, as JSON (numbers or null with a reason; never NaN)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.QUALITY_READ)
        w.see_content(project.workspace_id)
        annotations = _annotations(w, project)
        emails = dict(w.execute(select(schema.users.c.id, schema.users.c.email).join(
            schema.memberships, schema.memberships.c.user_id == schema.users.c.id).where(
            schema.memberships.c.workspace_id == project.workspace_id)).all())
        pauses = [{"user_id": user, "paused_at": at, "reason": reason}
                  for user, at, reason in w.execute(select(PZ.c.user_id, PZ.c.paused_at, PZ.c.reason).where(
                      PZ.c.workspace_id == project.workspace_id, PZ.c.project_id == project.id)).all()]
        w.audit(project.workspace_id, "quality.read", project.id)
        now = w.now
    usable = _usable(annotations)
    report: dict[str, Any] = {
        "project_id": project.id, "task_type": project.task_type,
        "annotations": len(usable), "gold_answers": sum(1 for a in annotations if a["is_gold"]),
        "review": {s: sum(1 for a in annotations if a["review"] == s)
                   for s in ("pending", "accepted", "rejected", "corrected")},
        "agreement": _agreement(project.task_type, project.config, usable),
        "gold_accuracy": _gold_accuracy(annotations, emails),
        "throughput": _throughput(usable, emails, now),
        "pauses": [{**p, "email": emails.get(p["user_id"])} for p in pauses],
    }
    rows = categorical_values(project.task_type, project.config, usable)
    if rows is not None and rows[0]:
        aggregated = aggregate(project.task_type, project.config, usable, method)
        confidences = [v["confidence"] for v in aggregated.values()]
        report["aggregation"] = {
            "method": method, "tasks": len(aggregated),
            "mean_confidence": round(statistics.fmean(confidences), 4) if confidences else None,
            "low_confidence_tasks": sum(1 for c in confidences if c < 0.7),
            "confusion": _confusion(rows, aggregated, emails),
        }
    return report


def _confusion(rows, aggregated: dict, emails: dict[str, str]) -> dict[str, Any]:
    """Each annotator's answers against the aggregate: a confusion matrix (all annotators) and agreement rate."""
    tasks, users, values = rows
    labels = sorted({str(v) for v in values} | {str(a["label"]) for a in aggregated.values()})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    agree: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for task, user, value in zip(tasks, users, values):
        truth = aggregated.get(task)
        if truth is None:
            continue
        t = str(truth["label"] if not isinstance(truth["label"], list) else "|".join(truth["label"]))
        matrix[index[t], index[str(value)]] += 1
        agree[user][0] += t == str(value)
        agree[user][1] += 1
    return {"labels": labels, "matrix": matrix.tolist(),
            "per_annotator": [{"user_id": u, "email": emails.get(u), "agreement_with_aggregate":
                               round(a / n, 4) if n else None, "n": n} for u, (a, n) in sorted(agree.items())]}


# -- pauses --------------------------------------------------------------------------


def lift_pause(ctx: Context, project_id: str, user_id: str) -> None:
    """A manager lets a paused annotator work on the project again."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.QUALITY_MANAGE)
        gone = w.execute(delete(PZ).where(PZ.c.workspace_id == project.workspace_id, PZ.c.project_id == project.id,
                                          PZ.c.user_id == user_id)).rowcount
        if not gone:
            raise NotFound("this person is not paused on this project")
        w.audit(project.workspace_id, "quality.pause_lifted", user_id, project=project.id)
