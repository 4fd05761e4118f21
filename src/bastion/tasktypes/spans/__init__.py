"""Spans: mark named entities / extractions in a text, by character offsets.

Config::

    {"type": "spans", "field": "text",
     "labels": ["PERSON", {"value": "ORG", "hotkey": "o", "description": "Companies, agencies"}],
     "allow_overlap": false, "relations": ["works_for", "located_in"], "instructions": "…"}

Result::

    {"spans": [{"start": 0, "end": 18, "label": "ORG", "text": "Halvorsen Maritime"}],
     "relations": [{"from": 0, "to": 1, "label": "located_in"}]}

Offsets count Unicode code points of ``data[field]`` (Python string indices —
what JavaScript calls code points, not UTF-16 units), ``end`` exclusive.
Results are normalised: spans sorted by (start, end, label) without repeats,
``text`` filled in from the document (a ``text`` sent by the client must match
it: that catches offsets computed on another version of the text), and
relations re-pointed at the sorted spans. The trap: relation indices refer to
the spans *as sent*; sorting must carry them along, never re-read them after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import exports
from .. import _labelstudio as ls
from .._labels import Label, check_labels, labels_as_objects
from ..base import OffsetMove, TaskType, shorten
from ...domain.errors import InvalidAnswer

MAX_SPANS = 20_000
MAX_RELATIONS = 20_000


class SpansConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["spans"]
    field: str = Field(default="text", min_length=1, max_length=100)
    labels: list[Label] = Field(min_length=1, max_length=100)
    allow_overlap: bool = False
    relations: list[Label] = Field(default_factory=list, max_length=100)
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("labels", "relations", mode="before")
    @classmethod
    def _as_objects(cls, value: Any, info) -> Any:
        return labels_as_objects(value, info.field_name)

    @model_validator(mode="after")
    def _distinct(self) -> SpansConfig:
        check_labels(self.labels, "labels")
        seen: set[str] = set()
        for i, rel in enumerate(self.relations):
            if rel.value in seen:
                raise ValueError(f"relations[{i}].value: duplicate relation {rel.value!r}")
            seen.add(rel.value)
            rel.hotkey = None  # relations are chosen from a list, not by key
        return self

    def values(self) -> list[str]:
        return [label.value for label in self.labels]


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# The ready config of ``bastion project create --template spans`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "spans",
    "field": "text",
    "labels": [
        {"value": "PERSON", "hotkey": "p", "description": "People, by name"},
        {"value": "ORG", "hotkey": "o", "description": "Companies, agencies, institutions"},
        {"value": "LOCATION", "hotkey": "l", "description": "Cities, countries, places"},
        {"value": "DATE", "hotkey": "d"},
        {"value": "MONEY", "hotkey": "m"},
    ],
    "allow_overlap": False,
    "relations": ["works_for", "located_in"],
    "instructions": "Mark every entity. Select with the mouse or the arrow keys, then press its key.",
}


class Spans(TaskType):
    name = "spans"
    title = "Spans"
    description = "Mark entities or extractions in a text, by character offsets."
    template = TEMPLATE
    config_model = SpansConfig
    package_dir = Path(__file__).parent
    row_kinds = {"spacy": exports.spacy_rows, "conll": exports.conll_rows}

    def check_data(self, config: SpansConfig, data: dict) -> str | None:
        value = data.get(config.field)
        if value is None:
            return f"data.{config.field}: missing (the project's config labels this field)"
        if not isinstance(value, str):
            return f"data.{config.field}: must be a string"
        return None

    def validate_result(self, config: SpansConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        extra = set(result) - {"spans", "relations"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'spans', 'relations')")
        text = data.get(config.field)
        if not isinstance(text, str):
            raise InvalidAnswer(f"data.{config.field}: the task has no text to mark")
        spans = result.get("spans")
        if not isinstance(spans, list):
            raise InvalidAnswer("result.spans: required, a list of {start, end, label} (may be empty)")
        if len(spans) > MAX_SPANS:
            raise InvalidAnswer(f"result.spans: more than {MAX_SPANS} spans")
        labels = set(config.values())
        n = len(text)
        checked: list[tuple[int, int, str]] = []
        for i, span in enumerate(spans):
            where = f"result.spans[{i}]"
            if not isinstance(span, dict):
                raise InvalidAnswer(f"{where}: must be an object {{start, end, label}}")
            unknown = set(span) - {"start", "end", "label", "text"}
            if unknown:
                raise InvalidAnswer(f"{where}.{sorted(unknown)[0]}: unknown key")
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            if not _int(start) or not _int(end):
                raise InvalidAnswer(f"{where}: start and end must be integers")
            if not 0 <= start < end <= n:
                raise InvalidAnswer(
                    f"{where}: offsets {start}..{end} out of range (the text has {n} characters; "
                    "0 <= start < end <= length)"
                )
            if label not in labels:
                raise InvalidAnswer(f"{where}.label: {label!r} is not a label of this project")
            if "text" in span and span["text"] != text[start:end]:
                raise InvalidAnswer(
                    f"{where}.text: does not match the document at {start}..{end} ({text[start:end][:40]!r})"
                )
            checked.append((start, end, label))
        order = sorted(range(len(checked)), key=lambda i: checked[i])
        position: dict[tuple[int, int, str], int] = {}
        normal: list[tuple[int, int, str]] = []
        for i in order:
            if checked[i] not in position:
                position[checked[i]] = len(normal)
                normal.append(checked[i])
        if not config.allow_overlap:
            for a, b in zip(normal, normal[1:]):
                if b[0] < a[1]:
                    raise InvalidAnswer(
                        f"result.spans: {a[0]}..{a[1]} ({a[2]}) and {b[0]}..{b[1]} ({b[2]}) overlap, "
                        "and this project does not allow overlapping spans"
                    )
        out: dict[str, Any] = {
            "spans": [{"start": s, "end": e, "label": lab, "text": text[s:e]} for s, e, lab in normal]
        }
        relations = result.get("relations")
        if config.relations:
            out["relations"] = self._relations(config, relations or [], checked, position)
        elif relations:
            raise InvalidAnswer("result.relations: this project has no relations")
        return out

    def _relations(self, config: SpansConfig, relations: Any, checked, position) -> list[dict]:
        if not isinstance(relations, list):
            raise InvalidAnswer("result.relations: must be a list of {from, to, label}")
        if len(relations) > MAX_RELATIONS:
            raise InvalidAnswer(f"result.relations: more than {MAX_RELATIONS}")
        names = {r.value for r in config.relations}
        out: set[tuple[int, int, str]] = set()
        for i, rel in enumerate(relations):
            where = f"result.relations[{i}]"
            if not isinstance(rel, dict) or set(rel) != {"from", "to", "label"}:
                raise InvalidAnswer(f"{where}: must be an object {{from, to, label}}")
            a, b = rel["from"], rel["to"]
            for key, v in (("from", a), ("to", b)):
                if not _int(v) or not 0 <= v < len(checked):
                    raise InvalidAnswer(f"{where}.{key}: must be the index of one of the {len(checked)} spans")
            if rel["label"] not in names:
                raise InvalidAnswer(f"{where}.label: {rel['label']!r} is not a relation of this project")
            fa, fb = position[checked[a]], position[checked[b]]
            if fa == fb:
                raise InvalidAnswer(f"{where}: a span cannot relate to itself")
            out.add((fa, fb, rel["label"]))
        return [{"from": a, "to": b, "label": lab} for a, b, lab in sorted(out)]

    def gold_score(self, config: SpansConfig, data: dict, result: dict, gold: dict) -> float:
        from .._gold import spans

        return spans(result, gold)

    # -- quality
    agreement_measures = ("span_f1_strict", "span_f1_overlap")

    def agreement(self, config: SpansConfig, ratings) -> dict:
        from . import quality  # NumPy: loaded when a figure is first asked for

        return quality.agreement(ratings)

    # -- text and offsets
    def offset_fields(self, config: SpansConfig) -> tuple[str, ...]:
        return (config.field,)

    def result_texts(self, config: SpansConfig, result: Any) -> Iterator[tuple[str, str]]:
        # A span's ``text`` is derived from the document, not written: only what lies outside the spans.
        for path, text in super().result_texts(config, result):
            if not path.startswith("spans["):
                yield path, text

    def map_result_offsets(
        self,
        config: SpansConfig,
        result: Any,
        move: OffsetMove,
        *,
        before: Mapping[str, str] | None = None,
        after: Mapping[str, str] | None = None,
    ) -> Any:
        if not isinstance(result, dict) or not isinstance(result.get("spans"), list):
            return result
        field = config.field
        shown = before.get(field) if before else None
        target = after.get(field) if after else None
        spans = []
        for i, span in enumerate(result["spans"]):
            if isinstance(span, dict) and _int(span.get("start")) and _int(span.get("end")):
                start, end = span["start"], span["end"]
                moved = move(field, start, end)
                if moved is None:
                    spans.append(span)  # out of range, or nothing to move: validation names any problem
                    continue
                if shown is not None and "text" in span and span["text"] != shown[start:end]:
                    raise InvalidAnswer(
                        f"result.spans[{i}].text: does not match the document at {start}..{end} "
                        f"({shown[start:end][:40]!r})"
                    )
                span = {k: v for k, v in span.items() if k != "text"}
                span["start"], span["end"] = moved
                if target is not None:
                    span["text"] = target[moved[0] : moved[1]]
            spans.append(span)
        return {**result, "spans": spans}

    def protected_ranges(self, config: SpansConfig, result: Any) -> dict[str, list[tuple[int, int]]]:
        if not isinstance(result, dict) or not isinstance(result.get("spans"), list):
            return {}
        ranges = [
            (span["start"], span["end"])
            for span in result["spans"]
            if isinstance(span, dict) and isinstance(span.get("start"), int) and isinstance(span.get("end"), int)
        ]
        return {config.field: ranges} if ranges else {}

    def sample_data(self, config: SpansConfig) -> dict:
        return {config.field: "Ada Lovelace wrote to Charles Babbage from London on 5 July 1843 about his engine."}

    def summarise(self, config: SpansConfig, result: Any) -> str:
        """The spans, labelled and quoted: ``2 spans: ORG “Halvorsen Maritime”, PERSON “Ada”; 1 relation``."""
        spans = result.get("spans") if isinstance(result, dict) else None
        if not isinstance(spans, list):
            return super().summarise(config, result)
        if not spans:
            return "no spans"
        quoted = ", ".join(
            f"{s.get('label')} “{shorten(str(s.get('text', '')), 40)}”" for s in spans if isinstance(s, dict)
        )
        relations = result.get("relations") or []
        tail = f"; {len(relations)} relation{'' if len(relations) == 1 else 's'}" if relations else ""
        return shorten(f"{len(spans)} span{'' if len(spans) == 1 else 's'}: {quoted}{tail}")

    def widget_context(self, config: SpansConfig, data: dict, **_: Any) -> dict:
        text = data.get(config.field, "")
        return {"text": text, "length": len(text)}

    def result_facts(self, config: SpansConfig, data: dict, result: Any) -> dict[str, str]:
        """Each span (``span:start:end:label``, offsets in code points: the widget marks the spans not
        every annotator marked) and each relation, between spans so keyed."""
        if not isinstance(result, dict) or not isinstance(result.get("spans"), list):
            return super().result_facts(config, data, result)
        text = data.get(config.field, "")
        text = text if isinstance(text, str) else ""
        out: dict[str, str] = {}
        keys: list[str] = []
        quotes: list[str] = []
        for span in result["spans"]:
            if not isinstance(span, dict):
                continue
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            key = f"span:{start}:{end}:{label}"
            quoted = span.get("text")
            if not isinstance(quoted, str):
                quoted = text[start:end] if _int(start) and _int(end) else ""
            quote = " ".join(quoted.split())
            quote = quote if len(quote) <= 60 else quote[:59] + "…"
            keys.append(key)
            quotes.append(quote)
            out[key] = f"{label} “{quote}”"
        for rel in result.get("relations") or []:
            a, b = rel.get("from"), rel.get("to")
            if isinstance(a, int) and isinstance(b, int) and 0 <= a < len(keys) and 0 <= b < len(keys):
                out[f"relation:{keys[a]}>{keys[b]}:{rel.get('label')}"] = (
                    f"“{quotes[a]}” {rel.get('label')} “{quotes[b]}”"
                )
        return out

    # -- Label Studio: <Labels toName="FIELD"> on <Text>, and <Relations>; a region's id is "s<index>"
    label_studio_tags = ("Labels", "Relations")

    def from_label_studio(self, config: SpansConfig, data: dict, ls_results: list[dict]) -> dict:
        spans: list[dict] = []
        index: dict[Any, int] = {}
        for i, item in enumerate(ls.items(ls_results, "labels")):
            where = f"result[labels][{i}]"
            labels = ls.value(item, "labels", where)
            if not isinstance(labels, list) or len(labels) != 1:
                raise InvalidAnswer(f"{where}.value.labels: one label per region (Bastion's spans carry one)")
            index[item.get("id")] = len(spans)
            span = {"start": ls.value(item, "start", where), "end": ls.value(item, "end", where), "label": labels[0]}
            if isinstance(item["value"].get("text"), str):
                span["text"] = item["value"]["text"]
            spans.append(span)
        out: dict[str, Any] = {"spans": spans}
        relations = []
        for i, rel in enumerate(ls.items(ls_results, "relation")):
            where = f"result[relation][{i}]"
            for key in ("from_id", "to_id"):
                if rel.get(key) not in index:
                    raise InvalidAnswer(f"{where}.{key}: {rel.get(key)!r} is not a region of this annotation")
            names = rel.get("labels") or []
            if len(names) != 1:
                raise InvalidAnswer(f"{where}.labels: one relation label per relation (Bastion's carry one)")
            a, b = index[rel["from_id"]], index[rel["to_id"]]
            if rel.get("direction") == "left":
                a, b = b, a
            relations.append({"from": a, "to": b, "label": names[0]})
        if relations or config.relations:
            out["relations"] = relations
        return out

    def to_label_studio(self, config: SpansConfig, data: dict, result: dict) -> list[dict]:
        out = [
            ls.item(
                "label",
                config.field,
                "labels",
                {"start": s["start"], "end": s["end"], "text": s["text"], "labels": [s["label"]]},
                id=f"s{i}",
            )
            for i, s in enumerate(result.get("spans", []))
        ]
        out += [
            {
                "from_id": f"s{r['from']}",
                "to_id": f"s{r['to']}",
                "type": "relation",
                "direction": "right",
                "labels": [r["label"]],
            }
            for r in result.get("relations", [])
        ]
        return out
