"""Rubric: grade a model response (or a whole conversation) on criteria from the config.

Config::

    {"type": "rubric", "response_field": "response",
     "scale": {"min": 1, "max": 5},
     "criteria": [
        {"name": "accuracy", "description": "Facts and code are correct"},
        {"name": "safety", "scale": ["pass", "fail"], "comment": "required"}],
     "instructions": "…"}

Each criterion has a scale — whole numbers ``{"min", "max"}`` (at most 10
steps) or a list of named grades (``["pass", "fail"]``) — taken from the
criterion or else the config's ``scale``; and a ``comment`` that is ``off``,
``optional`` (default) or ``required``. With ``response_field: null`` the
whole conversation is graded instead of one response.

Result (criteria in config order)::

    {"scores": {"accuracy": 4, "safety": "pass"}, "comments": {"safety": "…"}}

The trap: numeric grades are numbers in results (``4``, not ``"4"``) — the
form posts strings, and ``result_from_form`` converts them by the scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import _conversation as conv
from .. import _labelstudio as ls
from ..base import TaskType, shorten
from ...domain.errors import InvalidAnswer

MAX_COMMENT = 10_000


class NumericScale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = Field(ge=-100, le=100)
    max: int = Field(ge=-100, le=100)

    @model_validator(mode="after")
    def _range(self) -> NumericScale:
        if not self.min < self.max:
            raise ValueError("max must be more than min")
        if self.max - self.min > 9:
            raise ValueError("at most 10 grades from min to max (one key each)")
        return self


Scale = NumericScale | list[str]


def grades(scale: Scale) -> list[int | str]:
    if isinstance(scale, NumericScale):
        return list(range(scale.min, scale.max + 1))
    return list(scale)


def hotkeys(scale: Scale) -> list[str]:
    values = grades(scale)
    if all(isinstance(v, int) and 0 <= v <= 9 for v in values):
        return [str(v) for v in values]
    return [str(i + 1) if i < 9 else "0" for i in range(len(values))]


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    scale: Scale | None = None
    comment: Literal["off", "optional", "required"] = "optional"

    @field_validator("scale")
    @classmethod
    def _named(cls, value: Any) -> Any:
        if isinstance(value, list):
            _check_named(value)
        return value


def _check_named(value: list[str]) -> None:
    if not 2 <= len(value) <= 10:
        raise ValueError("from 2 to 10 named grades")
    if len(set(value)) != len(value):
        raise ValueError("a grade is repeated")
    if any(not v.strip() for v in value):
        raise ValueError("a grade is empty")


class RubricConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["rubric"]
    prompt_field: str | None = Field(default=None, min_length=1, max_length=100)
    response_field: str | None = Field(default="response", min_length=1, max_length=100)
    scale: Scale = Field(default_factory=lambda: NumericScale(min=1, max=5))
    criteria: list[Criterion] = Field(min_length=1, max_length=30)
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("criteria", mode="before")
    @classmethod
    def _as_objects(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("scale")
    @classmethod
    def _named(cls, value: Any) -> Any:
        if isinstance(value, list):
            _check_named(value)
        return value

    @model_validator(mode="after")
    def _fill(self) -> RubricConfig:
        seen: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.name in seen:
                raise ValueError(f"criteria[{i}].name: duplicate criterion {c.name!r}")
            seen.add(c.name)
            if c.scale is None:
                c.scale = self.scale
        return self


# The ready config of ``bastion project create --template rubric`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "rubric",
    "response_field": "response",
    "scale": {"min": 1, "max": 5},
    "criteria": [
        {"name": "accuracy", "description": "Facts, numbers and code are correct"},
        {"name": "helpfulness", "description": "It does what the user needed"},
        {"name": "clarity", "description": "Well organised and easy to follow", "comment": "off"},
        {"name": "safety", "scale": ["pass", "fail"], "comment": "required"},
    ],
    "instructions": "Grade the response on each criterion; explain a safety grade.",
}


class Rubric(TaskType):
    name = "rubric"
    title = "Rubric"
    description = "Grade a response (or a conversation) on each criterion of a rubric."
    template = TEMPLATE
    config_model = RubricConfig
    package_dir = Path(__file__).parent

    def check_data(self, config: RubricConfig, data: dict) -> str | None:
        problem = conv.check_prompt(data, config.prompt_field)
        if problem:
            return problem
        if config.response_field is not None:
            value = data.get(config.response_field)
            if not isinstance(value, str):
                return f"data.{config.response_field}: missing or not a string (the response to grade)"
        return None

    def gold_score(self, config: RubricConfig, data: dict, result: dict, gold: dict) -> float:
        from .._gold import rubric

        scales = {}
        for criterion in config.criteria:
            scale = criterion.scale or config.scale
            scales[criterion.name] = (scale.min, scale.max) if isinstance(scale, NumericScale) else None
        return rubric(result, gold, scales)

    # -- quality
    agreement_measures = ("krippendorff_alpha",)

    def agreement(self, config: RubricConfig, ratings) -> dict:
        from . import quality  # NumPy: loaded when a figure is first asked for

        criteria = [(c.name, grades(c.scale) if isinstance(c.scale, NumericScale) else None) for c in config.criteria]
        return quality.agreement(criteria, ratings)

    def validate_result(self, config: RubricConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        extra = set(result) - {"scores", "comments"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'scores', 'comments')")
        scores = result.get("scores")
        if not isinstance(scores, dict):
            raise InvalidAnswer("result.scores: required, {criterion: grade}")
        comments = result.get("comments") or {}
        if not isinstance(comments, dict):
            raise InvalidAnswer("result.comments: must be {criterion: text}")
        names = [c.name for c in config.criteria]
        for key in [*scores, *comments]:
            if key not in names:
                raise InvalidAnswer(
                    f"result.{'scores' if key in scores else 'comments'}.{key}: not a criterion of this project"
                )
        out_scores: dict[str, Any] = {}
        out_comments: dict[str, str] = {}
        for c in config.criteria:
            allowed = grades(c.scale)  # type: ignore[arg-type]  # validation gives every criterion a scale
            value = scores.get(c.name)
            if value is None:
                raise InvalidAnswer(f"result.scores.{c.name}: required, one of {allowed}")
            if isinstance(value, bool) or value not in allowed or type(value) is not type(allowed[0]):
                raise InvalidAnswer(f"result.scores.{c.name}: {value!r} is not on the scale {allowed}")
            out_scores[c.name] = value
            text = comments.get(c.name)
            if text is not None and not isinstance(text, str):
                raise InvalidAnswer(f"result.comments.{c.name}: must be a string")
            text = (text or "").strip()
            if c.comment == "required" and not text:
                raise InvalidAnswer(f"result.comments.{c.name}: required — say why")
            if c.comment == "off" and text:
                raise InvalidAnswer(f"result.comments.{c.name}: this criterion takes no comment")
            if len(text) > MAX_COMMENT:
                raise InvalidAnswer(f"result.comments.{c.name}: longer than {MAX_COMMENT} characters")
            if text:
                out_comments[c.name] = text
        out: dict[str, Any] = {"scores": out_scores}
        if out_comments:
            out["comments"] = out_comments
        return out

    def validate_prediction(self, config: RubricConfig, data: dict, prediction: Any) -> dict:
        """Pre-annotations may grade only some criteria, without comments."""
        if not isinstance(prediction, dict):
            raise InvalidAnswer("predictions: must be a JSON object")
        scores = prediction.get("scores") or {}
        comments = prediction.get("comments") or {}
        if not isinstance(scores, dict) or not isinstance(comments, dict):
            raise InvalidAnswer("predictions: scores and comments are objects {criterion: …}")
        full_scores = {c.name: scores.get(c.name, grades(c.scale)[0]) for c in config.criteria} | scores  # type: ignore[arg-type]
        full_comments = {
            c.name: comments.get(c.name) or ("-" if c.comment == "required" else None)
            for c in config.criteria
            if comments.get(c.name) or c.comment == "required"
        }
        try:
            checked = self.validate_result(
                config,
                data,
                {
                    **{k: v for k, v in prediction.items() if k not in ("scores", "comments")},
                    "scores": full_scores,
                    "comments": full_comments,
                },
            )
        except InvalidAnswer as exc:
            raise InvalidAnswer(f"predictions: {exc.message}") from exc
        out: dict[str, Any] = {"scores": {k: v for k, v in checked["scores"].items() if k in scores}}
        kept = {k: v for k, v in checked.get("comments", {}).items() if k in comments}
        if kept:
            out["comments"] = kept
        return out

    def summarise(self, config: RubricConfig, result: Any) -> str:
        """Each criterion's grade, in config order: ``accuracy 4 · safety pass (commented)``."""
        scores = result.get("scores") if isinstance(result, dict) else None
        if not isinstance(scores, dict):
            return super().summarise(config, result)
        comments = result.get("comments") if isinstance(result.get("comments"), dict) else {}
        parts = [
            f"{name} {scores[name]}" + (" (commented)" if comments.get(name) else "")
            for name in [c.name for c in config.criteria]
            + [k for k in scores if k not in {c.name for c in config.criteria}]
            if name in scores
        ]
        return shorten(" · ".join(parts) or "no grades")

    def result_from_form(self, config: RubricConfig, form: Any) -> dict:
        scores: dict[str, Any] = {}
        comments: dict[str, str] = {}
        for i, c in enumerate(config.criteria):
            raw = form.get(f"score_{i}")
            if raw in (None, ""):
                raise InvalidAnswer(f"grade {c.name!r}")
            scores[c.name] = (
                int(raw) if isinstance(c.scale, NumericScale) and str(raw).lstrip("-").isdigit() else str(raw)
            )
            text = form.get(f"comment_{i}")
            if text:
                comments[c.name] = str(text)
        return {"scores": scores, "comments": comments}

    # -- Label Studio: one <Rating name="CRITERION" toName="RESPONSE" maxRating="MAX"> per
    # criterion of a whole-number scale from 1 (a Rating's stars); comments stay behind on export
    label_studio_tags = ("Rating",)

    def from_label_studio(self, config: RubricConfig, data: dict, ls_results: list[dict]) -> dict:
        scores: dict[str | None, Any] = {}  # None: an item without from_name
        for i, item in enumerate(ls.items(ls_results, "rating")):
            name = item.get("from_name")
            if name in scores:
                raise InvalidAnswer(f"result[rating][{i}]: a second rating for {name!r}")
            scores[name] = ls.value(item, "rating", f"result[rating][{i}]")
        return {"scores": scores}

    def export_refusal(self, config: RubricConfig, kind: str) -> str | None:
        """A Label Studio export is refused before its first byte when a criterion has named grades."""
        named = [c.name for c in config.criteria if not isinstance(c.scale, NumericScale)]
        if kind == "labelstudio" and named:
            return (
                f"criteria {', '.join(repr(n) for n in named)}: named grades do not cross to Label Studio "
                "(a Rating holds stars); export as jsonl instead"
            )
        return None

    def to_label_studio(self, config: RubricConfig, data: dict, result: dict) -> list[dict]:
        to = config.response_field or conv.find_prompt_field(data, config.prompt_field)
        out = []
        for name, grade in result.get("scores", {}).items():
            if not isinstance(grade, int):
                raise InvalidAnswer(f"result.scores.{name}: {grade!r} is a named grade; a Rating holds stars")
            out.append(ls.item(name, to, "rating", {"rating": grade}))
        return out

    def result_facts(self, config: RubricConfig, data: dict, result: Any) -> dict[str, str]:
        """Each criterion's grade (comments are free text: not compared)."""
        if not isinstance(result, dict) or not isinstance(result.get("scores"), dict):
            return super().result_facts(config, data, result)
        return {f"score:{name}:{value}": f"{name}: {value}" for name, value in result["scores"].items()}

    def sample_data(self, config: RubricConfig) -> dict:
        data = conv.sample_prompt(config.prompt_field)
        if config.response_field:
            data[config.response_field] = conv.SAMPLE_RESPONSES[0]
        return data

    def widget_context(self, config: RubricConfig, data: dict, *, predictions: list | None = None, **_: Any) -> dict:
        pred = (predictions or [{}])[0] if predictions else {}
        scores = pred.get("scores") or {}
        comments = pred.get("comments") or {}
        return {
            "turns": conv.turns(data, config.prompt_field),
            "response": data.get(config.response_field) if config.response_field else None,
            "criteria": [
                {
                    "name": c.name,
                    "description": c.description,
                    "comment": c.comment,
                    "grades": [{"value": v, "key": k} for v, k in zip(grades(c.scale), hotkeys(c.scale))],  # type: ignore[arg-type]
                    "picked": scores.get(c.name),
                    "text": comments.get(c.name, ""),
                }
                for c in config.criteria
            ],
        }
