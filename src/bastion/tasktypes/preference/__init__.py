"""Preference: a prompt (or a conversation) and two responses; which one is better, and how much.

Config::

    {"type": "preference", "responses_field": "responses",
     "allow_tie": true, "strength": true, "rationale": "optional",
     "criteria": [{"value": "helpfulness", "description": "…"}, "honesty", "harmlessness"],
     "randomize": true, "instructions": "…"}

Result (response indices are those of ``data.responses``, never screen positions)::

    {"preferred": 1, "strength": "clear", "criteria": {"helpfulness": 1, "honesty": "tie"},
     "rationale": "…", "shown_order": [1, 0]}

``preferred`` is 0, 1 or ``"tie"``; ``strength`` (slight | clear | strong) is
present unless it is a tie. ``shown_order`` lists the response indices in the
order the annotator saw them (left, right), drawn per (task, person) — so the
screen position of the preferred response is ``shown_order.index(preferred)``,
and position bias can be measured and undone. The trap: the form posts screen
letters (A = left); ``result_from_form`` translates them through the order it
was shown, and an API client posts indices directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import exports
from .. import _conversation as conv
from .. import _labelstudio as ls
from .._export import STRENGTHS
from .._labels import Label, labels_as_objects
from .._order import check_shown_order, excerpt, recorded_order, shown_order
from .._quality import CATEGORICAL_MEASURES, CATEGORICAL_METHODS, categorical_aggregate
from ..base import TaskType, shorten
from ...domain.errors import InvalidAnswer

MAX_RATIONALE = 20_000
LETTERS = "AB"


class PreferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["preference"]
    prompt_field: str | None = Field(default=None, min_length=1, max_length=100)
    responses_field: str = Field(default="responses", min_length=1, max_length=100)
    allow_tie: bool = True
    strength: bool = True
    criteria: list[Label] = Field(default_factory=list, max_length=20)
    rationale: Literal["off", "optional", "required"] = "optional"
    randomize: bool = True
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("criteria", mode="before")
    @classmethod
    def _as_objects(cls, value: Any) -> Any:
        return labels_as_objects(value, "criteria")

    @model_validator(mode="after")
    def _distinct(self) -> PreferenceConfig:
        seen: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.value in seen:
                raise ValueError(f"criteria[{i}].value: duplicate criterion {c.value!r}")
            seen.add(c.value)
            if c.hotkey is not None:
                raise ValueError(
                    f"criteria[{i}].hotkey: criteria have no keys of their own "
                    "(Shift+A, Shift+T and Shift+B answer the highlighted one)"
                )
        return self


def value_name(value: Any) -> str:
    """The preferred response as people read it (quality figures): by its place in the data — each
    annotator saw the two left or right in their own order, so the screen's A and B name different
    responses for different people."""
    return {"0": "response 1", "1": "response 2"}.get(str(value), str(value))  # 0 or "0" (a confusion label)


def _choice(value: Any, allow_tie: bool, where: str) -> int | str:
    if value == "tie" and allow_tie:
        return "tie"
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value
    tie = ' or "tie"' if allow_tie else ""
    raise InvalidAnswer(f"{where}: must be 0 or 1 (the index of a response){tie}")


# The ready config of ``bastion project create --template preference`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "preference",
    "responses_field": "responses",
    "allow_tie": True,
    "strength": True,
    "criteria": [
        {"value": "helpfulness", "description": "Does it solve the user's problem?"},
        {"value": "honesty", "description": "Is it accurate, and candid about uncertainty?"},
        {"value": "harmlessness", "description": "Does it avoid harm without refusing needlessly?"},
    ],
    "rationale": "optional",
    "randomize": True,
    "instructions": "Which response would you rather receive? Press **A** or **B** (**T** for a tie), "
    "then **1**–**3** for how much better. For each criterion, **Shift+A**, **Shift+T** or **Shift+B** "
    "answers the highlighted one and moves to the next.",
}


class Preference(TaskType):
    name = "preference"
    title = "Preference"
    description = "Compare two responses to a prompt: which is better, by how much, and why."
    template = TEMPLATE
    config_model = PreferenceConfig
    package_dir = Path(__file__).parent
    row_kinds = {"dpo": exports.dpo_rows, "sft": exports.sft_rows}

    def check_data(self, config: PreferenceConfig, data: dict) -> str | None:
        return conv.check_prompt(data, config.prompt_field) or conv.check_string_list(
            data.get(config.responses_field), config.responses_field, low=2, high=2
        )

    def gold_score(self, config, data: dict, result: dict, gold: dict) -> float:
        from .._gold import choice

        return choice(result, gold, "preferred")

    # -- quality
    agreement_measures = (*CATEGORICAL_MEASURES, "position_bias")
    aggregation_methods = CATEGORICAL_METHODS

    def categorical_value(self, config: PreferenceConfig, result: dict) -> int | str | None:
        """The preferred response: 0, 1 or "tie" (indices of the data, never screen positions)."""
        return result.get("preferred")

    def value_name(self, config: PreferenceConfig, value: Any) -> str:
        return value_name(value)

    def label_values(self, config: PreferenceConfig) -> list[str]:
        """The preferred response: 0 or 1 (their indices in the data), or a tie (criteria are not labels)."""
        return ["0", "1", *(["tie"] if config.allow_tie else [])]

    def result_labels(self, config: PreferenceConfig, result: dict) -> list:
        value = self.categorical_value(config, result)
        return [] if value is None else [value]

    def agreement(self, config: PreferenceConfig, ratings) -> dict:
        from . import quality  # NumPy: loaded when a figure is first asked for

        return quality.agreement(ratings)

    def aggregate(self, config: PreferenceConfig, ratings, method: str, *, seed: str) -> dict:
        return categorical_aggregate(lambda result: self.categorical_value(config, result), ratings, method, seed)

    def validate_result(self, config: PreferenceConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        extra = set(result) - {"preferred", "strength", "criteria", "rationale", "shown_order"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key")
        if "preferred" not in result:
            raise InvalidAnswer("result.preferred: required (0, 1" + (' or "tie")' if config.allow_tie else ")"))
        preferred = _choice(result["preferred"], config.allow_tie, "result.preferred")
        out: dict[str, Any] = {"preferred": preferred}
        strength = result.get("strength")
        if preferred == "tie":
            if strength is not None:
                raise InvalidAnswer("result.strength: a tie has no strength")
        elif config.strength:
            if strength not in STRENGTHS:
                raise InvalidAnswer(f"result.strength: required, one of {', '.join(STRENGTHS)}")
            out["strength"] = strength
        elif strength is not None:
            raise InvalidAnswer("result.strength: this project does not ask for a strength")
        criteria = result.get("criteria") or {}
        if not isinstance(criteria, dict):
            raise InvalidAnswer('result.criteria: must be an object {criterion: 0 | 1 | "tie"}')
        names = [c.value for c in config.criteria]
        for key in criteria:
            if key not in names:
                raise InvalidAnswer(f"result.criteria.{key}: not a criterion of this project")
        if config.criteria:
            out["criteria"] = {}
            for name in names:
                if name not in criteria:
                    raise InvalidAnswer(f"result.criteria.{name}: required (which response is better on it)")
                out["criteria"][name] = _choice(criteria[name], True, f"result.criteria.{name}")
        rationale = result.get("rationale")
        if rationale is not None and not isinstance(rationale, str):
            raise InvalidAnswer("result.rationale: must be a string")
        rationale = (rationale or "").strip()
        if config.rationale == "off" and rationale:
            raise InvalidAnswer("result.rationale: this project does not ask for a rationale")
        if config.rationale == "required" and not rationale:
            raise InvalidAnswer("result.rationale: required — say why")
        if len(rationale) > MAX_RATIONALE:
            raise InvalidAnswer(f"result.rationale: longer than {MAX_RATIONALE} characters")
        if rationale:
            out["rationale"] = rationale
        if result.get("shown_order") is not None:
            out["shown_order"] = check_shown_order(result["shown_order"], 2)
        return out

    def validate_prediction(self, config: PreferenceConfig, data: dict, prediction: Any) -> dict:
        """Pre-annotations may be partial (a model's choice without strength or criteria)."""
        if not isinstance(prediction, dict):
            raise InvalidAnswer("predictions: must be a JSON object")
        try:
            full = dict(prediction)
            if config.strength and full.get("preferred") not in (None, "tie") and "strength" not in full:
                full["strength"] = "slight"
            names = [c.value for c in config.criteria]
            full["criteria"] = {n: (full.get("criteria") or {}).get(n, "tie") for n in names} | (
                full.get("criteria") or {}
            )
            if config.rationale == "required" and not full.get("rationale"):
                full["rationale"] = "-"
            checked = self.validate_result(config, data, full)
        except InvalidAnswer as exc:
            raise InvalidAnswer(f"predictions: {exc.message}") from exc
        out = {k: v for k, v in checked.items() if k in prediction}
        if "criteria" in prediction:
            out["criteria"] = {k: v for k, v in checked.get("criteria", {}).items() if k in prediction["criteria"]}
        return out

    def summarise(self, config: PreferenceConfig, result: Any) -> str:
        """The choice in the reader's screen letters: ``A is better (clear); honesty: tie — “…”``."""
        if not isinstance(result, dict):
            return super().summarise(config, result)
        given = result.get("shown_order")
        order: list[Any] = given if isinstance(given, list) else [0, 1]

        def letter(value: Any) -> str:
            if value == "tie":
                return "tie"
            return LETTERS[order.index(value)] if value in order and order.index(value) < len(LETTERS) else str(value)

        preferred = result.get("preferred")
        if preferred == "tie":
            text = "Tie"
        else:
            text = f"{letter(preferred)} is better" + (f" ({result['strength']})" if result.get("strength") else "")
        criteria = result.get("criteria") or {}
        if isinstance(criteria, dict) and criteria:
            text += "; " + ", ".join(f"{name}: {letter(value)}" for name, value in criteria.items())
        if result.get("rationale"):
            text += f" — “{result['rationale']}”"
        return shorten(text)

    def result_from_form(self, config: PreferenceConfig, form: Any) -> dict:
        try:
            order = [int(v) for v in str(form.get("shown_order", "0,1")).split(",")]
        except ValueError:
            raise InvalidAnswer("shown_order: not the order this page showed (reload the page)") from None
        if sorted(order) != [0, 1]:
            raise InvalidAnswer("shown_order: not the order this page showed (reload the page)")

        def index(letter: Any, what: str) -> int | str:
            if letter == "tie":
                return "tie"
            if letter in ("A", "B"):
                return order[LETTERS.index(letter)]
            raise InvalidAnswer(what)

        out: dict[str, Any] = {
            "preferred": index(form.get("choice"), "choose A, B" + (" or tie" if config.allow_tie else "")),
            "shown_order": order,
        }
        if form.get("strength"):
            out["strength"] = str(form.get("strength"))
        if config.criteria:
            out["criteria"] = {}
            for i, c in enumerate(config.criteria):
                out["criteria"][c.value] = index(
                    form.get(f"criterion_{i}"), f"criteria: choose A, B or tie for {c.value!r}"
                )
        if config.rationale != "off":
            out["rationale"] = str(form.get("rationale", ""))
        return out

    def sample_data(self, config: PreferenceConfig) -> dict:
        return {**conv.sample_prompt(config.prompt_field), config.responses_field: list(conv.SAMPLE_RESPONSES[:2])}

    def widget_context(
        self,
        config: PreferenceConfig,
        data: dict,
        *,
        task_id: str = "",
        user_id: str = "",
        predictions: list | None = None,
    ) -> dict:
        responses = data.get(config.responses_field) or []
        order = shown_order(len(responses), task_id, user_id) if config.randomize else list(range(len(responses)))
        pred = (predictions or [{}])[0] if predictions else {}
        return self._view(config, data, order, pred)

    def result_widget_context(
        self, config: PreferenceConfig, data: dict, result: Any, *, task_id: str = "", user_id: str = ""
    ) -> dict:
        """A result is shown in the order its author saw (A on the left as for them)."""
        responses = data.get(config.responses_field) or []
        order = recorded_order(result, len(responses))
        if order is None:
            return super().result_widget_context(config, data, result, task_id=task_id, user_id=user_id)
        return self._view(config, data, order, result if isinstance(result, dict) else {})

    def _view(self, config: PreferenceConfig, data: dict, order: list[int], pred: dict) -> dict:
        responses = data.get(config.responses_field) or []

        def letter(value: Any) -> str | None:
            if value == "tie":
                return "tie"
            return LETTERS[order.index(value)] if value in order else None

        return {
            "turns": conv.turns(data, config.prompt_field),
            "order": order,
            "order_text": ",".join(map(str, order)),
            "shown": [{"letter": LETTERS[pos], "index": i, "text": responses[i]} for pos, i in enumerate(order)],
            "pred_choice": letter(pred.get("preferred")),
            "pred_strength": pred.get("strength"),
            "pred_criteria": {k: letter(v) for k, v in (pred.get("criteria") or {}).items()},
            "pred_rationale": pred.get("rationale", ""),
        }

    def result_facts(self, config: PreferenceConfig, data: dict, result: Any) -> dict[str, str]:
        """Responses are named by their words (two people may have seen them in other orders); the rationale
        is free text and the order shown is not an answer: neither is compared."""
        if not isinstance(result, dict):
            return super().result_facts(config, data, result)
        responses = data.get(config.responses_field) or []

        def name(value: Any) -> str:
            if value == "tie":
                return "a tie"
            if isinstance(value, int) and 0 <= value < len(responses):
                return f"“{excerpt(responses[value])}”"
            return str(value)

        out = {f"preferred:{result.get('preferred')}": f"preferred {name(result.get('preferred'))}"}
        if result.get("strength"):
            out[f"strength:{result['strength']}"] = f"strength: {result['strength']}"
        for criterion, value in (result.get("criteria") or {}).items():
            out[f"criterion:{criterion}:{value}"] = f"{criterion}: {name(value)}"
        return out

    # -- Label Studio: <Pairwise name="pw" toName="RESPONSES_0,RESPONSES_1">, the two responses
    # in data fields "<responses_field>_0" and "_1" (interop maps any two <Text> fields there).
    # Label Studio's pairwise choice holds which side is better and nothing else: strength,
    # criteria and rationale stay behind on export, and a tie goes out as an empty result
    # (docs/label-studio.md says so).
    label_studio_tags = ("Pairwise",)

    def data_to_label_studio(self, config: PreferenceConfig, data: dict) -> dict:
        responses = data.get(config.responses_field) or []
        return {**data, **{f"{config.responses_field}_{i}": r for i, r in enumerate(responses)}}

    def data_from_label_studio(self, config: PreferenceConfig, data: dict) -> dict:
        """The two responses gathered from "<responses_field>_0" and "_1" when the list is not there."""
        key = config.responses_field
        if key not in data and f"{key}_0" in data and f"{key}_1" in data:
            return {**data, key: [data[f"{key}_0"], data[f"{key}_1"]]}
        return data

    def from_label_studio(self, config: PreferenceConfig, data: dict, ls_results: list[dict]) -> dict:
        found = ls.items(ls_results, "pairwise")
        if len(found) != 1:
            raise InvalidAnswer(f"result[pairwise]: {len(found)} pairwise choices where one is needed")
        side = ls.value(found[0], "selected", "result[pairwise]")
        if side not in ("left", "right"):
            raise InvalidAnswer(f"result[pairwise].value.selected: {side!r} (expected left or right)")
        return {"preferred": 0 if side == "left" else 1}

    def to_label_studio(self, config: PreferenceConfig, data: dict, result: dict) -> list[dict]:
        if result.get("preferred") not in (0, 1):
            return []
        return [ls.item("pw", "pw", "pairwise", {"selected": "left" if result["preferred"] == 0 else "right"})]
