"""The Likert task type: how much does the annotator agree with a statement about a text?

Config::

    {"type": "likert", "field": "text", "statement": "The reply is polite.",
     "points": ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"],
     "instructions": "…"}

Result: ``{"rating": 4}`` — the point's number, 1 for the first of ``points``.
Ratings are ordinal: agreement is Krippendorff's α on the ordinal scale (with
percent agreement beside it), and a task's ratings aggregate to their median
(``median``, the default) or by majority vote (``mv``, Bastion's own, ties drawn
at random per task). Training rows: ``sft`` — the text and statement as the
prompt, the chosen point's words as the answer.

It uses only Bastion's public interfaces: ``TaskType`` and ``Rating``
(``bastion.tasktypes``), the hook marker, the error tree and ``bastion.quality``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bastion.domain.errors import InvalidAnswer
from bastion.tasktypes import Rating, TaskType

DEFAULT_POINTS = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")


class LikertConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["likert"]
    field: str = Field(default="text", min_length=1, max_length=100)
    statement: str = Field(min_length=1, max_length=2000)
    points: list[str] = Field(default_factory=lambda: list(DEFAULT_POINTS), min_length=2, max_length=9)
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("points")
    @classmethod
    def _distinct(cls, points: list[str]) -> list[str]:
        for i, point in enumerate(points):
            if not point.strip():
                raise ValueError(f"points[{i}]: empty")
        if len(set(points)) != len(points):
            raise ValueError("points: a point is repeated")
        return points


def sft_rows(config: LikertConfig, task: dict, annotation: dict, options: Any) -> Iterable[dict]:
    """One supervised row per rating: the text and statement in, the chosen point's words out."""
    prompt = (
        f"{task['data'].get(config.field, '')}\n\n{config.statement}\nAnswer with one of: {', '.join(config.points)}."
    )
    answer = config.points[annotation["result"]["rating"] - 1]
    if getattr(options, "sft_form", "messages") == "messages":
        row: dict[str, Any] = {
            "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        }
    else:
        row = {"prompt": prompt, "completion": answer}
    if getattr(options, "with_ids", False):
        row.update(task_id=task["id"], annotation_id=annotation["id"], external_id=task.get("external_id"))
    return [row]


class Likert(TaskType):
    name = "likert"
    title = "Likert rating"
    description = "Say how much you agree with a statement about a text, on a scale of points."
    template = {
        "type": "likert",
        "field": "text",
        "statement": "The reply answers the question politely.",
        "points": list(DEFAULT_POINTS),
        "instructions": "Read the reply, then press the number of the point that fits.",
    }
    config_model = LikertConfig
    package_dir = Path(__file__).parent
    row_kinds = {"sft": sft_rows}

    def check_data(self, config: LikertConfig, data: dict) -> str | None:
        if not isinstance(data.get(config.field), str):
            return f"data.{config.field}: missing or not a string (the text to rate)"
        return None

    def validate_result(self, config: LikertConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        extra = set(result) - {"rating"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'rating')")
        rating = result.get("rating")
        n = len(config.points)
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= n:
            raise InvalidAnswer(f"result.rating: required, a whole number from 1 to {n}")
        return {"rating": rating}

    def result_from_form(self, config: LikertConfig, form: Any) -> dict:
        raw = form.get("rating")
        if not raw:
            raise InvalidAnswer("choose a point (press its number)")
        try:
            return {"rating": int(str(raw))}
        except ValueError:
            raise InvalidAnswer("rating: not a point of the scale") from None

    def gold_score(self, config: LikertConfig, data: dict, result: dict, gold: dict) -> float:
        """1 for the gold point, less the further away (0 at the other end of the scale)."""
        return 1.0 - abs(result["rating"] - gold["rating"]) / (len(config.points) - 1)

    def widget_context(self, config: LikertConfig, data: dict, *, predictions: list | None = None, **_: Any) -> dict:
        picked = (predictions or [{}])[0].get("rating") if predictions else None
        return {
            "text": data.get(config.field, ""),
            "statement": config.statement,
            "points": [{"number": i + 1, "words": words} for i, words in enumerate(config.points)],
            "picked": picked,
        }

    # -- quality: ordinal ratings
    agreement_measures = ("krippendorff_alpha", "percent_agreement")
    aggregation_methods = ("median", "mv")

    def categorical_value(self, config: LikertConfig, result: dict) -> int | None:
        return result.get("rating")

    def agreement(self, config: LikertConfig, ratings: Sequence[Rating]) -> dict:
        from bastion.quality import krippendorff_alpha, percent_agreement  # NumPy: loaded on first use

        tasks = [r.task for r in ratings]
        users = [r.user for r in ratings]
        values = [r.result["rating"] for r in ratings]
        if not ratings:
            return {"kind": "likert", "n_ratings": 0, "note": "no ratings yet"}
        scale = list(range(1, len(config.points) + 1))
        alpha = krippendorff_alpha(tasks, users, values, level="ordinal", categories=scale).to_dict()
        percent = percent_agreement(tasks, users, values).to_dict()
        summary = (
            f"ordinal α = {alpha['value']:.2f}"
            if alpha["value"] is not None
            else f"ordinal α undefined: {alpha['reason']}"
        )
        return {
            "kind": "likert",
            "n_ratings": len(ratings),
            "krippendorff_alpha": alpha,
            "percent_agreement": percent,
            "summary": summary,
        }

    def aggregate(
        self, config: LikertConfig, ratings: Sequence[Rating], method: str, *, seed: str
    ) -> dict[str, dict[str, Any]]:
        if method == "mv":
            from bastion.quality import majority_vote

            result = majority_vote(
                [r.task for r in ratings],
                [r.user for r in ratings],
                [r.result["rating"] for r in ratings],
                tie_seed=seed,
            )
            counts: dict[str, int] = defaultdict(int)
            for r in ratings:
                counts[r.task] += 1
            return {
                task: {
                    "label": label,
                    "confidence": round(confidence, 6),
                    "n": counts[task],
                    "method": "mv",
                    "tie": tie,
                }
                for task, label, confidence, tie in zip(
                    result.tasks.tolist(),
                    result.labels.tolist(),
                    result.confidence.tolist(),
                    result.tied.tolist(),
                    strict=True,
                )
            }
        by_task: dict[str, list[int]] = defaultdict(list)
        for r in ratings:
            by_task[r.task].append(r.result["rating"])
        return {
            task: {"label": statistics.median(values), "n": len(values), "method": "median"}
            for task, values in by_task.items()
        }
