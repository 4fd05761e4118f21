"""Classification: pick one label (or several) for a text field.

Config::

    {"type": "classification", "field": "text", "labels": ["positive", "negative"],
     "multiple": false, "instructions": "markdown"}

Labels may be strings or objects ``{"value", "hotkey", "description"}``; labels
without a hotkey get 1…9, then 0, in order. Results are ``{"label": "…"}`` for
single choice and ``{"labels": […]}`` (distinct, in config order) for multiple.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...domain.errors import InvalidAnswer
from ..base import TaskType

DEFAULT_HOTKEYS = "1234567890"


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=200)
    hotkey: str | None = Field(default=None, min_length=1, max_length=1)
    description: str = Field(default="", max_length=2000)


class ClassificationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["classification"]
    field: str = Field(default="text", min_length=1, max_length=100)
    labels: list[Label] = Field(min_length=1, max_length=200)
    multiple: bool = False
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_objects(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        out = []
        for i, v in enumerate(value):
            if isinstance(v, str):
                out.append({"value": v})
            elif isinstance(v, dict):
                out.append(v)
            else:
                hint = " (YAML reads yes/no/on/off as booleans: quote them)" if isinstance(v, bool) else ""
                raise ValueError(f"labels[{i}]: must be a string or an object {{value, hotkey, description}}{hint}")
        return out

    @model_validator(mode="after")
    def _distinct(self) -> "ClassificationConfig":
        seen: dict[str, int] = {}
        for i, label in enumerate(self.labels):
            if label.value in seen:
                raise ValueError(f"labels[{i}].value: duplicate label {label.value!r}")
            seen[label.value] = i
        keys: dict[str, int] = {}
        for i, label in enumerate(self.labels):
            if label.hotkey is not None:
                key = label.hotkey.lower()
                if key in keys:
                    raise ValueError(f"labels[{i}].hotkey: duplicate key {label.hotkey!r}")
                if key in ("s", "\n", " "):
                    raise ValueError(f"labels[{i}].hotkey: {label.hotkey!r} is reserved (skip/submit)")
                keys[key] = i
        free = (k for k in DEFAULT_HOTKEYS if k not in keys)
        for label in self.labels:
            if label.hotkey is None:
                label.hotkey = next(free, None)
        return self

    def values(self) -> list[str]:
        return [label.value for label in self.labels]


class Classification(TaskType):
    name = "classification"
    title = "Classification"
    description = "Choose one or several labels for a text."
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
        if config.multiple:
            extra = set(result) - {"labels"}
            if extra:
                raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'labels')")
            labels = result.get("labels")
            if not isinstance(labels, list) or not labels:
                raise InvalidAnswer("result.labels: must be a non-empty list of labels")
            for i, label in enumerate(labels):
                if label not in allowed:
                    raise InvalidAnswer(f"result.labels[{i}]: {label!r} is not a label of this project")
            if len(set(labels)) != len(labels):
                raise InvalidAnswer("result.labels: a label is repeated")
            chosen = set(labels)
            return {"labels": [v for v in allowed if v in chosen]}
        extra = set(result) - {"label"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'label')")
        label = result.get("label")
        if not isinstance(label, str):
            raise InvalidAnswer("result.label: required, one of the project's labels")
        if label not in allowed:
            raise InvalidAnswer(f"result.label: {label!r} is not a label of this project")
        return {"label": label}

    def result_from_form(self, config: ClassificationConfig, form: Any) -> dict:
        if config.multiple:
            chosen = [str(v) for v in form.getlist("labels")]
            if not chosen:
                raise InvalidAnswer("choose at least one label")
            return {"labels": chosen}
        label = form.get("label")
        if not label:
            raise InvalidAnswer("choose a label")
        return {"label": str(label)}

    def widget_context(self, config: ClassificationConfig, data: dict) -> dict:
        return {"text": data.get(config.field, "")}
