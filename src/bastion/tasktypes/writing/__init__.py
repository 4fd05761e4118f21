"""Writing (SFT): an expert writes the ideal next assistant turn, or improves a draft.

Config::

    {"type": "writing", "min_length": 200, "max_length": 20000,
     "checklist": ["No invented facts or sources", "Answers every part of the question"],
     "instructions": "…"}

Result::

    {"text": "…", "draft": "…", "diff": "--- draft\\n+++ text\\n@@ …", "checklist": ["…", "…"]}

The widget starts from the task's prediction (``{"text": …}``) when it has
one; the result then keeps that ``draft`` and a unified ``diff`` from it to the
final text (computed here with ``difflib``, line by line), so how much the
expert changed is measurable. ``checklist`` holds the items the writer
confirmed — all of them, or the result is refused. ``text`` is stripped of
leading and trailing whitespace, and ``min_length`` counts characters after that.
The trap: the diff is recomputed from ``draft`` and ``text`` on every submit;
a ``diff`` sent by a client is never trusted.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import exports
from .. import _conversation as conv
from .. import _labelstudio as ls
from .. import _prelabel
from ..base import TaskType, shorten
from ...domain.errors import InvalidAnswer

HARD_MAX = 200_000


class WritingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["writing"]
    prompt_field: str | None = Field(default=None, min_length=1, max_length=100)
    min_length: int = Field(default=1, ge=1, le=HARD_MAX)
    max_length: int = Field(default=50_000, ge=1, le=HARD_MAX)
    checklist: list[str] = Field(default_factory=list, max_length=30)
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("checklist")
    @classmethod
    def _items(cls, value: list[str]) -> list[str]:
        for i, item in enumerate(value):
            if not item.strip():
                raise ValueError(f"checklist[{i}]: empty item")
            if len(item) > 500:
                raise ValueError(f"checklist[{i}]: longer than 500 characters")
        if len(set(value)) != len(value):
            raise ValueError("checklist: an item is repeated")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> WritingConfig:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length: {self.min_length} is more than max_length ({self.max_length})")
        return self


def unified_diff(draft: str, text: str) -> str:
    lines = difflib.unified_diff(
        draft.splitlines(keepends=True), text.splitlines(keepends=True), fromfile="draft", tofile="text", n=2
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# The ready config of ``bastion project create --template writing`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "writing",
    "min_length": 100,
    "max_length": 20000,
    "checklist": [
        "Every fact is correct, and nothing is made up",
        "It answers every part of the request",
    ],
    "instructions": "Write the reply an expert would give. Improve the draft when there is one.",
}


class Writing(TaskType):
    name = "writing"
    title = "Writing"
    description = "Write the ideal assistant reply to a prompt or conversation, or improve a draft."
    template = TEMPLATE
    config_model = WritingConfig
    package_dir = Path(__file__).parent
    row_kinds = {"sft": exports.sft_rows}

    def check_data(self, config: WritingConfig, data: dict) -> str | None:
        return conv.check_prompt(data, config.prompt_field)

    # -- pre-labels: the prompt (or conversation) as the model's own turns after a system prompt; the
    # reply is the answer, stored as a prediction: a draft the writer improves (``validate_prediction``:
    # held to no length or checklist — the writer's answer is).
    prelabel_values = ("instructions",)
    PRELABEL_PROMPT = "Write the ideal assistant reply to the conversation that follows.{{instructions}}"

    def prelabel_refusal(self, config: WritingConfig) -> str | None:
        return None

    def prelabel_prompt(self, config: WritingConfig, data: dict, template: str | None = None) -> list[dict]:
        instructions = f"\n\nInstructions:\n{config.instructions.strip()}" if config.instructions.strip() else ""
        system = _prelabel.render(template or self.PRELABEL_PROMPT, {"instructions": instructions})
        return [{"role": "system", "content": system}, *conv.turns(data, config.prompt_field)]

    def parse_prelabel(self, config: WritingConfig, data: dict, reply: str) -> dict:
        if not reply.strip():
            raise InvalidAnswer("reply: empty")
        return {"text": reply}

    def validate_result(self, config: WritingConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        extra = set(result) - {"text", "draft", "diff", "checklist"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'text')")
        text = result.get("text")
        if not isinstance(text, str):
            raise InvalidAnswer("result.text: required, the answer")
        text = text.replace("\r\n", "\n").strip()
        if len(text) < config.min_length:
            raise InvalidAnswer(f"result.text: {len(text)} characters; write at least {config.min_length}")
        if len(text) > config.max_length:
            raise InvalidAnswer(f"result.text: {len(text)} characters; at most {config.max_length}")
        out: dict[str, Any] = {"text": text}
        draft = result.get("draft")
        if draft is not None:
            if not isinstance(draft, str) or len(draft) > HARD_MAX:
                raise InvalidAnswer("result.draft: must be the draft's text")
            draft = draft.replace("\r\n", "\n")
            if draft.strip():
                out["draft"] = draft
                out["diff"] = unified_diff(draft.strip() + "\n", text + "\n")
        confirmed = result.get("checklist", [])
        if not isinstance(confirmed, list) or not all(isinstance(c, str) for c in confirmed):
            raise InvalidAnswer("result.checklist: must be the list of confirmed items")
        for item in confirmed:
            if item not in config.checklist:
                raise InvalidAnswer(f"result.checklist: {item[:60]!r} is not an item of this project's checklist")
        missing = [item for item in config.checklist if item not in confirmed]
        if missing:
            raise InvalidAnswer(f"result.checklist: confirm {missing[0]!r}")
        if config.checklist:
            out["checklist"] = list(config.checklist)
        return out

    def validate_prediction(self, config: WritingConfig, data: dict, prediction: Any) -> dict:
        """A prediction is a draft to improve: ``{"text"}``, held to no length or checklist."""
        if not isinstance(prediction, dict) or set(prediction) != {"text"} or not isinstance(prediction["text"], str):
            raise InvalidAnswer('predictions: a draft is {"text": "…"}')
        if len(prediction["text"]) > HARD_MAX:
            raise InvalidAnswer(f"predictions: a draft longer than {HARD_MAX} characters")
        return {"text": prediction["text"].replace("\r\n", "\n")}

    def summarise(self, config: WritingConfig, result: Any) -> str:
        """The start of what was written."""
        if not isinstance(result, dict) or not isinstance(result.get("text"), str):
            return super().summarise(config, result)
        return shorten(result["text"])

    def result_from_form(self, config: WritingConfig, form: Any) -> dict:
        out: dict[str, Any] = {"text": str(form.get("text", ""))}
        if form.get("draft"):
            out["draft"] = str(form.get("draft"))
        picked = {str(v) for v in form.getlist("checklist")}
        out["checklist"] = [item for i, item in enumerate(config.checklist) if str(i) in picked]
        return out

    def sample_data(self, config: WritingConfig) -> dict:
        return conv.sample_prompt(config.prompt_field)

    def widget_context(self, config: WritingConfig, data: dict, *, predictions: list | None = None, **_: Any) -> dict:
        """The editor starts from the prediction's text (a draft to improve) — or from a result given
        earlier (an answer being changed), which keeps the draft it was made from."""
        pred = (predictions or [{}])[0] if predictions else {}
        text = pred.get("text") if isinstance(pred.get("text"), str) else ""
        draft = pred["draft"] if isinstance(pred.get("draft"), str) else text
        return {"turns": conv.turns(data, config.prompt_field), "draft": draft, "text": text, "checked": []}

    def result_widget_context(
        self, config: WritingConfig, data: dict, result: Any, *, task_id: str = "", user_id: str = ""
    ) -> dict:
        """A result's text in the editor; its draft (if it improved one) kept apart, so a correction's
        diff is still measured from the draft; its checklist as confirmed."""
        result = result if isinstance(result, dict) else {}
        text = result.get("text") if isinstance(result.get("text"), str) else ""
        draft = result.get("draft") if isinstance(result.get("draft"), str) else ""
        confirmed = result.get("checklist") if isinstance(result.get("checklist"), list) else []
        return {
            "turns": conv.turns(data, config.prompt_field),
            "draft": draft,
            "text": text,
            "checked": [i for i, item in enumerate(config.checklist) if item in confirmed],
        }

    def result_facts(self, config: WritingConfig, data: dict, result: Any) -> dict[str, str]:
        """The text as one fact (two writers rarely agree to the letter); draft, diff and checklist follow from it."""
        if not isinstance(result, dict) or not isinstance(result.get("text"), str):
            return super().result_facts(config, data, result)
        return {f"text:{result['text']}": f"the text ({len(result['text'])} characters)"}

    # -- Label Studio: <TextArea name="text" toName="PROMPT"> (its lines joined by a newline);
    # the draft, the diff and the checklist stay behind on export
    label_studio_tags = ("TextArea",)

    def from_label_studio(self, config: WritingConfig, data: dict, ls_results: list[dict]) -> dict:
        found = ls.items(ls_results, "textarea")
        texts = [t for item in found for t in ls.value(item, "text", "result[textarea]")]
        if not texts:
            raise InvalidAnswer("result[textarea]: no text")
        out: dict[str, Any] = {"text": "\n".join(texts)}
        if config.checklist:
            raise InvalidAnswer("result.checklist: Label Studio's TextArea confirms no checklist items")
        return out

    def prediction_from_label_studio(self, config: WritingConfig, data: dict, ls_results: list[dict]) -> dict:
        found = ls.items(ls_results, "textarea")
        return {"text": "\n".join(t for item in found for t in ls.value(item, "text", "result[textarea]"))}

    def to_label_studio(self, config: WritingConfig, data: dict, result: dict) -> list[dict]:
        to = conv.find_prompt_field(data, config.prompt_field)
        return [ls.item("text", to, "textarea", {"text": [result["text"]]})]
