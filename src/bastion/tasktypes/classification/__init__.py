"""Classification: pick one label (or several) for a text field.

Config::

    {"type": "classification", "field": "text", "labels": ["positive", "negative"],
     "multiple": false, "other": {"value": "other", "hotkey": "o"}, "instructions": "markdown"}

Labels may be strings or objects ``{"value", "hotkey", "description"}``; labels
without a hotkey get 1…9, then 0, in order; a description shows on hover.
``other`` (``true`` or a label object) adds a choice that needs a free text.
Results are ``{"label": "…"}`` for single choice and ``{"labels": […]}``
(distinct, in config order) for multiple; with ``other`` chosen the result also
carries ``"other_text"``. The trap: ``other_text`` is only ever present with the
other label — a stray text without it is refused, never silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import _labelstudio as ls
from .. import _prelabel
from .._labels import Label, check_labels, labels_as_objects
from .._quality import (
    CATEGORICAL_MEASURES,
    CATEGORICAL_METHODS,
    categorical_aggregate,
    categorical_agreement,
    multi_label_aggregate,
    multi_label_agreement,
)
from ..base import TaskType, shorten
from ...domain.errors import InvalidAnswer

MAX_OTHER_TEXT = 2000


class ClassificationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["classification"]
    field: str = Field(default="text", min_length=1, max_length=100)
    labels: list[Label] = Field(min_length=1, max_length=200)
    multiple: bool = False
    other: Label | None = None
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_objects(cls, value: Any) -> Any:
        return labels_as_objects(value)

    @field_validator("other", mode="before")
    @classmethod
    def _other(cls, value: Any) -> Any:
        if value is True:
            return {"value": "other", "hotkey": "o"}
        if value is False:
            return None
        if isinstance(value, str):
            return {"value": value}
        return value

    @model_validator(mode="after")
    def _distinct(self) -> ClassificationConfig:
        taken: dict[str, str] = {}
        if self.other is not None:
            if self.other.value in self.values():
                raise ValueError(f"other.value: {self.other.value!r} is also a label")
            if self.other.hotkey is not None:
                if self.other.hotkey.lower() in ("s", "\n", " "):
                    raise ValueError(f"other.hotkey: {self.other.hotkey!r} is reserved (skip/submit)")
                taken[self.other.hotkey.lower()] = "other"
        check_labels(self.labels, "labels", taken=taken)
        return self

    def values(self) -> list[str]:
        return [label.value for label in self.labels]


# The ready config of ``bastion project create --template classification`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "classification",
    "field": "text",
    "labels": [
        {"value": "positive", "hotkey": "p", "description": "Pleased, grateful, recommends it"},
        {"value": "negative", "hotkey": "n", "description": "Unhappy, complains, warns others"},
        "neutral",
    ],
    "other": {"value": "other", "hotkey": "o", "description": "None of these: say what"},
    "multiple": False,
    "instructions": "Choose the sentiment of the **whole** message.",
}


class Classification(TaskType):
    name = "classification"
    title = "Classification"
    description = "Choose one or several labels for a text."
    template = TEMPLATE
    config_model = ClassificationConfig
    package_dir = Path(__file__).parent

    def check_data(self, config: ClassificationConfig, data: dict) -> str | None:
        value = data.get(config.field)
        if value is None:
            return f"data.{config.field}: missing (the project's config labels this field)"
        if not isinstance(value, str):
            return f"data.{config.field}: must be a string"
        return None

    def validate_result(self, config: ClassificationConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        allowed = config.values()
        other = config.other.value if config.other else None
        if other is not None:
            allowed = [*allowed, other]
        key = "labels" if config.multiple else "label"
        extra = set(result) - {key, "other_text"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected {key!r})")
        if config.multiple:
            labels = result.get("labels")
            if not isinstance(labels, list) or not labels:
                raise InvalidAnswer("result.labels: must be a non-empty list of labels")
            for i, label in enumerate(labels):
                if label not in allowed:
                    raise InvalidAnswer(f"result.labels[{i}]: {label!r} is not a label of this project")
            if len(set(labels)) != len(labels):
                raise InvalidAnswer("result.labels: a label is repeated")
            chosen = set(labels)
            out: dict[str, Any] = {"labels": [v for v in allowed if v in chosen]}
        else:
            label = result.get("label")
            if not isinstance(label, str):
                raise InvalidAnswer("result.label: required, one of the project's labels")
            if label not in allowed:
                raise InvalidAnswer(f"result.label: {label!r} is not a label of this project")
            chosen = {label}
            out = {"label": label}
        text = result.get("other_text")
        if other is not None and other in chosen:
            if not isinstance(text, str) or not text.strip():
                raise InvalidAnswer(f"result.other_text: say what {other!r} is (a short text)")
            if len(text) > MAX_OTHER_TEXT:
                raise InvalidAnswer(f"result.other_text: longer than {MAX_OTHER_TEXT} characters")
            out["other_text"] = text.strip()
        elif text not in (None, ""):
            raise InvalidAnswer("result.other_text: only with the 'other' label")
        return out

    # -- pre-labels: the labels listed in the system prompt, the text as the user's message; the reply
    # read as one label (several, one a line, for ``multiple``), matched without regard to case.
    prelabel_values = ("labels", "instructions")
    PRELABEL_PROMPT = (
        "You classify texts.{{instructions}}\nAnswer with exactly one of these labels and nothing else:\n{{labels}}"
    )
    PRELABEL_PROMPT_MULTIPLE = (
        "You classify texts.{{instructions}}\n"
        "Answer with every label that applies, one a line, and nothing else:\n{{labels}}"
    )

    def prelabel_refusal(self, config: ClassificationConfig) -> str | None:
        return None

    def prelabel_prompt(self, config: ClassificationConfig, data: dict, template: str | None = None) -> list[dict]:
        default = self.PRELABEL_PROMPT_MULTIPLE if config.multiple else self.PRELABEL_PROMPT
        listed = "\n".join(
            f"- {label.value}" + (f": {label.description}" if label.description else "") for label in config.labels
        )
        instructions = f"\n\nInstructions:\n{config.instructions.strip()}" if config.instructions.strip() else ""
        system = _prelabel.render(template or default, {"labels": listed, "instructions": instructions})
        return [{"role": "system", "content": system}, {"role": "user", "content": str(data.get(config.field, ""))}]

    def parse_prelabel(self, config: ClassificationConfig, data: dict, reply: str) -> dict:
        by_folded = {label.casefold(): label for label in config.values()}
        if config.multiple:
            chosen: list[str] = []
            for line in reply.replace(",", "\n").split("\n"):
                text = _prelabel.first_line(line)
                if not text:
                    continue
                if text.casefold() not in by_folded:
                    raise InvalidAnswer(f"reply: {text[:60]!r} is not a label of this project")
                if by_folded[text.casefold()] not in chosen:
                    chosen.append(by_folded[text.casefold()])
            if not chosen:
                raise InvalidAnswer("reply: no label")
            return {"labels": chosen}
        text = _prelabel.first_line(reply)
        if text.casefold() not in by_folded:
            raise InvalidAnswer(f"reply: {text[:60]!r} is not a label of this project")
        return {"label": by_folded[text.casefold()]}

    def summarise(self, config: ClassificationConfig, result: Any) -> str:
        """The chosen label(s), and what "other" is."""
        if not isinstance(result, dict):
            return super().summarise(config, result)
        chosen = [result["label"]] if result.get("label") is not None else list(result.get("labels") or [])
        text = ", ".join(str(c) for c in chosen) or "no label"
        if result.get("other_text"):
            text += f" ({result['other_text']})"
        return shorten(text)

    def result_from_form(self, config: ClassificationConfig, form: Any) -> dict:
        other = config.other.value if config.other else None
        if config.multiple:
            chosen = [str(v) for v in form.getlist("labels")]
            if not chosen:
                raise InvalidAnswer("choose at least one label")
            out: dict[str, Any] = {"labels": chosen}
        else:
            label = form.get("label")
            if not label:
                raise InvalidAnswer("choose a label")
            chosen = [str(label)]
            out = {"label": str(label)}
        if other is not None and other in chosen:
            out["other_text"] = str(form.get("other_text", ""))
        return out

    def sample_data(self, config: ClassificationConfig) -> dict:
        return {config.field: "The parcel arrived two days late, but support replaced the dented box within the hour."}

    def widget_context(self, config: ClassificationConfig, data: dict, **_: Any) -> dict:
        return {"text": data.get(config.field, "")}

    def result_facts(self, config: ClassificationConfig, data: dict, result: Any) -> dict[str, str]:
        """Each chosen label (the widget marks those not every annotator chose), and the 'other' text."""
        if not isinstance(result, dict):
            return super().result_facts(config, data, result)
        chosen = [result["label"]] if "label" in result else list(result.get("labels") or [])
        out = {f"label:{label}": str(label) for label in chosen}
        if result.get("other_text"):
            out[f"other_text:{result['other_text']}"] = f"{config.other.value if config.other else 'other'}: " + str(
                result["other_text"]
            )
        return out

    # -- quality: one label is a category; a label set is scored label by label (present/absent)
    agreement_measures = CATEGORICAL_MEASURES
    aggregation_methods = CATEGORICAL_METHODS

    def categorical_value(self, config: ClassificationConfig, result: dict) -> str | None:
        """The chosen label; None for a set of labels (each is its own present/absent question)."""
        return None if config.multiple else result.get("label")

    def agreement(self, config: ClassificationConfig, ratings) -> dict:
        if config.multiple:
            return multi_label_agreement(_label_set, _choices(config), ratings)
        return categorical_agreement(lambda result: self.categorical_value(config, result), ratings)

    def aggregate(self, config: ClassificationConfig, ratings, method: str, *, seed: str) -> dict:
        if config.multiple:
            return multi_label_aggregate(_label_set, _choices(config), ratings, method, seed)
        return categorical_aggregate(lambda result: self.categorical_value(config, result), ratings, method, seed)

    # -- Label Studio: <Choices toName="FIELD"> (choice="multiple" for several labels); the 'other'
    # label's text in a <TextArea name="other_text">
    label_studio_tags = ("Choices",)

    def from_label_studio(self, config: ClassificationConfig, data: dict, ls_results: list[dict]) -> dict:
        found = ls.items(ls_results, "choices")
        if config.multiple:
            out: dict[str, Any] = {
                "labels": [c for item in found for c in ls.value(item, "choices", "result[choices]")]
            }
        else:
            out = {"label": ls.one_choice(found, "choices", "result[choices]")}
        texts = [t for item in ls.items(ls_results, "textarea") for t in ls.value(item, "text", "result[textarea]")]
        if texts:  # the 'other' label's text, from a <TextArea name="other_text">
            out["other_text"] = "\n".join(texts)
        return out

    def to_label_studio(self, config: ClassificationConfig, data: dict, result: dict) -> list[dict]:
        chosen = result.get("labels") if config.multiple else [result["label"]] if "label" in result else []
        out = [ls.item("label", config.field, "choices", {"choices": list(chosen)})] if chosen else []
        if result.get("other_text"):
            out.append(ls.item("other_text", config.field, "textarea", {"text": [result["other_text"]]}))
        return out


def _label_set(result: dict) -> list | None:
    return result.get("labels")


def _choices(config: ClassificationConfig) -> list[str]:
    return [*config.values(), *([config.other.value] if config.other else [])]
