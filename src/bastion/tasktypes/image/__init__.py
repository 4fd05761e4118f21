"""Image: classify an image and/or draw labelled bounding boxes on it.

Config::

    {"type": "image", "field": "image",
     "box_labels": ["car", {"value": "sign", "hotkey": "g"}],
     "image_labels": ["day", "night"], "multiple": false, "instructions": "…"}

``data[field]`` is a sealed file reference (``fil_…``) made by ``bastion
import --files DIR`` or ``POST /api/v1/projects/{p}/files``: the server never
fetches a URL (no SSRF), so a path or URL there is refused at import with a
pointer to those two ways in. ``data.width`` and ``data.height`` (pixels) are
optional; when present, boxes must lie inside them.

Result (pixels of the original image, ``x, y`` the top-left corner)::

    {"boxes": [{"x": 100, "y": 152, "w": 120, "h": 59, "label": "car"}], "label": "day"}

``boxes`` is present when the config has ``box_labels``; ``label`` (or
``labels`` when ``multiple``) when it has ``image_labels``. Coordinates are
rounded to 0.01 px. The trap: the widget draws on a scaled copy of the image —
it converts to the image's own pixels before posting, never screen pixels.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import exports
from .. import _labelstudio as ls
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

FILE_REF = re.compile(r"^fil_[0-9a-f]{32}$")
MAX_BOXES = 2000
RESERVED = frozenset({"n", "[", "]"})


class ImageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["image"]
    field: str = Field(default="image", min_length=1, max_length=100)
    box_labels: list[Label] = Field(default_factory=list, max_length=100)
    image_labels: list[Label] = Field(default_factory=list, max_length=100)
    multiple: bool = False
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("box_labels", "image_labels", mode="before")
    @classmethod
    def _as_objects(cls, value: Any, info) -> Any:
        return labels_as_objects(value, info.field_name)

    @model_validator(mode="after")
    def _labels(self) -> ImageConfig:
        if not self.box_labels and not self.image_labels:
            raise ValueError("box_labels: give box_labels (to draw boxes), image_labels (to classify), or both")
        taken: dict[str, str] = {}
        check_labels(self.box_labels, "box_labels", RESERVED, taken)
        check_labels(self.image_labels, "image_labels", RESERVED, taken)
        return self


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) < 1e7


def _clean(v: float) -> int | float:
    r = round(float(v), 2)
    return int(r) if r.is_integer() else r


# The ready config of ``bastion project create --template image`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "image",
    "field": "image",
    "box_labels": ["car", "house", "tree", "sign"],
    "image_labels": [{"value": "day", "hotkey": "y"}, {"value": "night", "hotkey": "t"}],
    "multiple": False,
    "instructions": "Draw a tight box around every object and label it; then say whether it is day or night.",
}


class Image(TaskType):
    name = "image"
    title = "Image"
    description = "Classify images and draw labelled bounding boxes."
    template = TEMPLATE
    config_model = ImageConfig
    package_dir = Path(__file__).parent
    row_kinds = {"coco": exports.coco_rows}

    def file_fields(self, config: ImageConfig) -> tuple[str, ...]:
        return (config.field,)

    def check_data(self, config: ImageConfig, data: dict) -> str | None:
        ref = data.get(config.field)
        if not isinstance(ref, str):
            return f"data.{config.field}: missing (a file reference fil_…)"
        if not FILE_REF.match(ref):
            return (
                f"data.{config.field}: {ref[:80]!r} is not a stored file; import images with "
                "`bastion import PROJECT FILE --files DIR` or upload them to "
                "POST /api/v1/projects/{project}/files (URLs are never fetched)"
            )
        for key in ("width", "height"):
            v = data.get(key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= 100_000):
                return f"data.{key}: must be a whole number of pixels"
        return None

    def gold_score(self, config, data: dict, result: dict, gold: dict) -> float:
        from .._gold import boxes

        return boxes(result, gold)

    # -- quality: the image label(s) are compared and aggregated as classification's; boxes are not
    agreement_measures = CATEGORICAL_MEASURES
    aggregation_methods = CATEGORICAL_METHODS

    def categorical_value(self, config: ImageConfig, result: dict) -> str | None:
        """The image label; None for a set of labels, or boxes only."""
        return None if config.multiple or not config.image_labels else result.get("label")

    def agreement(self, config: ImageConfig, ratings) -> dict:
        if not config.image_labels:
            return {"kind": "none", "note": "boxes are not compared between annotators (gold answers grade them)"}
        if config.multiple:
            return multi_label_agreement(_label_set, [label.value for label in config.image_labels], ratings)
        return categorical_agreement(lambda result: self.categorical_value(config, result), ratings)

    def aggregate(self, config: ImageConfig, ratings, method: str, *, seed: str) -> dict:
        if not config.image_labels:
            return {}  # boxes are not aggregated: every task's aggregate is null
        if config.multiple:
            return multi_label_aggregate(
                _label_set, [label.value for label in config.image_labels], ratings, method, seed
            )
        return categorical_aggregate(lambda result: self.categorical_value(config, result), ratings, method, seed)

    def validate_result(self, config: ImageConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        allowed = {"boxes"} if config.box_labels else set()
        if config.image_labels:
            allowed.add("labels" if config.multiple else "label")
        extra = set(result) - allowed
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected {', '.join(sorted(allowed))})")
        out: dict[str, Any] = {}
        if config.box_labels:
            out["boxes"] = self._boxes(config, data, result.get("boxes"))
        if config.image_labels:
            values = [label.value for label in config.image_labels]
            if config.multiple:
                labels = result.get("labels")
                if not isinstance(labels, list) or not labels:
                    raise InvalidAnswer("result.labels: must be a non-empty list of image labels")
                for i, label in enumerate(labels):
                    if label not in values:
                        raise InvalidAnswer(f"result.labels[{i}]: {label!r} is not an image label of this project")
                out["labels"] = [v for v in values if v in set(labels)]
            else:
                label = result.get("label")
                if label not in values:
                    raise InvalidAnswer(f"result.label: required, one of {', '.join(values)}")
                out["label"] = label
        return out

    def _boxes(self, config: ImageConfig, data: dict, boxes: Any) -> list[dict]:
        if boxes is None:
            boxes = []
        if not isinstance(boxes, list):
            raise InvalidAnswer("result.boxes: must be a list of {x, y, w, h, label}")
        if len(boxes) > MAX_BOXES:
            raise InvalidAnswer(f"result.boxes: more than {MAX_BOXES} boxes")
        labels = {label.value for label in config.box_labels}
        width, height = data.get("width"), data.get("height")
        out = []
        for i, box in enumerate(boxes):
            where = f"result.boxes[{i}]"
            if not isinstance(box, dict):
                raise InvalidAnswer(f"{where}: must be an object {{x, y, w, h, label}}")
            unknown = set(box) - {"x", "y", "w", "h", "label"}
            if unknown:
                raise InvalidAnswer(f"{where}.{sorted(unknown)[0]}: unknown key")
            for key in ("x", "y", "w", "h"):
                if not _number(box.get(key)):
                    raise InvalidAnswer(f"{where}.{key}: required, a number of pixels")
            x, y, w, h = (float(box[k]) for k in ("x", "y", "w", "h"))
            if x < 0 or y < 0:
                raise InvalidAnswer(f"{where}: starts outside the image (x and y must be >= 0)")
            if w <= 0 or h <= 0:
                raise InvalidAnswer(f"{where}: w and h must be more than 0")
            if isinstance(width, int) and x + w > width + 0.5:
                raise InvalidAnswer(f"{where}: x + w = {x + w:g} is past the image's width ({width})")
            if isinstance(height, int) and y + h > height + 0.5:
                raise InvalidAnswer(f"{where}: y + h = {y + h:g} is past the image's height ({height})")
            if box.get("label") not in labels:
                raise InvalidAnswer(f"{where}.label: {box.get('label')!r} is not a box label of this project")
            out.append({"x": _clean(x), "y": _clean(y), "w": _clean(w), "h": _clean(h), "label": box["label"]})
        return out

    def validate_prediction(self, config: ImageConfig, data: dict, prediction: Any) -> dict:
        """Pre-annotations may be partial: boxes without an image label, or the reverse."""
        if not isinstance(prediction, dict):
            raise InvalidAnswer("predictions: must be a JSON object")
        out: dict[str, Any] = {}
        try:
            if "boxes" in prediction or config.box_labels:
                if not config.box_labels:
                    raise InvalidAnswer("result.boxes: this project has no box labels")
                out["boxes"] = self._boxes(config, data, prediction.get("boxes"))
            rest = {k: v for k, v in prediction.items() if k != "boxes"}
            if rest:
                labelled = self.validate_result(config, data, {**rest, "boxes": []} if config.box_labels else rest)
                out.update({k: v for k, v in labelled.items() if k != "boxes"})
        except InvalidAnswer as exc:
            raise InvalidAnswer(f"predictions: {exc.message}") from exc
        return out

    def summarise(self, config: ImageConfig, result: Any) -> str:
        """The image label(s), then the boxes counted by label: ``day; 3 boxes: car ×2, sign``."""
        if not isinstance(result, dict):
            return super().summarise(config, result)
        parts = []
        labels = [result["label"]] if result.get("label") is not None else list(result.get("labels") or [])
        if labels:
            parts.append(", ".join(str(label) for label in labels))
        if config.box_labels:
            boxes = [b for b in result.get("boxes") or [] if isinstance(b, dict)]
            counts: dict[str, int] = {}
            for box in boxes:
                counts[str(box.get("label"))] = counts.get(str(box.get("label")), 0) + 1
            named = ", ".join(label if n == 1 else f"{label} ×{n}" for label, n in counts.items())
            parts.append(f"{len(boxes)} box{'' if len(boxes) == 1 else 'es'}: {named}" if boxes else "no boxes")
        return shorten("; ".join(parts) or "no answer")

    def result_from_form(self, config: ImageConfig, form: Any) -> dict:
        """Boxes come as JSON from the widget (``result``); image labels as plain fields."""
        out: dict[str, Any] = {}
        if config.box_labels:
            out = super().result_from_form(config, form) if form.get("result") else {"boxes": []}
            if not isinstance(out, dict):
                raise InvalidAnswer("result: must be a JSON object")
        if config.image_labels:
            if config.multiple:
                out["labels"] = [str(v) for v in form.getlist("labels")]
                if not out["labels"]:
                    raise InvalidAnswer("choose at least one image label")
            else:
                if not form.get("label"):
                    raise InvalidAnswer("choose an image label")
                out["label"] = str(form.get("label"))
        return out

    def sample_data(self, config: ImageConfig) -> dict:
        return {config.field: "sample.svg"}

    def preview_context(self, config: ImageConfig, data: dict) -> dict:
        """The preview shows a drawing served with the widget (the sample names no stored file)."""
        view = self.widget_context(config, data, task_id="preview", predictions=[])
        return {**view, "src": f"/static/tasktypes/{self.name}/sample.svg"}

    def widget_context(
        self, config: ImageConfig, data: dict, *, task_id: str = "", predictions: list | None = None, **_: Any
    ) -> dict:
        pred = (predictions or [{}])[0] if predictions else {}
        ref = data.get(config.field, "")
        initial: dict[str, Any] = {}
        if config.box_labels:
            initial["boxes"] = pred.get("boxes") or []
        picked = [pred["label"]] if pred.get("label") else list(pred.get("labels") or [])
        return {
            "src": f"/api/v1/tasks/{task_id}/files/{ref}" if FILE_REF.match(str(ref)) else "",
            "initial": initial,
            "picked": picked,
        }

    def result_facts(self, config: ImageConfig, data: dict, result: Any) -> dict[str, str]:
        """Each box (``box:x:y:w:h:label``, pixels; boxes match only when identical) and each image label."""
        if not isinstance(result, dict):
            return super().result_facts(config, data, result)
        out: dict[str, str] = {}
        for box in result.get("boxes") or []:
            if isinstance(box, dict):
                x, y, w, h, label = (box.get(k) for k in ("x", "y", "w", "h", "label"))
                out[f"box:{x}:{y}:{w}:{h}:{label}"] = f"{label} box at {_px(x)}, {_px(y)} ({_px(w)}×{_px(h)} px)"
        chosen = [result["label"]] if "label" in result else list(result.get("labels") or [])
        for label in chosen:
            out[f"label:{label}"] = f"image label {label}"
        return out

    # -- Label Studio: <RectangleLabels name="box" toName="image"> and <Choices name="label"
    # toName="image">; boxes in percent of the image there, in pixels here (the size comes
    # from the item's original_width/height, or data.width/height, never guessed)
    label_studio_tags = ("RectangleLabels", "Choices")

    def from_label_studio(self, config: ImageConfig, data: dict, ls_results: list[dict]) -> dict:
        out: dict[str, Any] = {}
        boxes = []
        for i, item in enumerate(ls.items(ls_results, "rectanglelabels")):
            where = f"result[rectanglelabels][{i}]"
            width = item.get("original_width") or data.get("width")
            height = item.get("original_height") or data.get("height")
            if not _number(width) or not _number(height):
                raise InvalidAnswer(f"{where}.original_width: the image's size is needed to turn percent into pixels")
            if (item.get("value") or {}).get("rotation"):
                raise InvalidAnswer(f"{where}.value.rotation: rotated boxes do not convert")
            labels = ls.value(item, "rectanglelabels", where)
            if not isinstance(labels, list) or len(labels) != 1:
                raise InvalidAnswer(f"{where}.value.rectanglelabels: one label per box")
            x, y, w, h = (ls.value(item, k, where) for k in ("x", "y", "width", "height"))
            if not all(_number(v) for v in (x, y, w, h)):
                raise InvalidAnswer(f"{where}.value: x, y, width and height must be numbers (percent)")
            boxes.append(
                {
                    "x": _clean(x * width / 100),
                    "y": _clean(y * height / 100),
                    "w": _clean(w * width / 100),
                    "h": _clean(h * height / 100),
                    "label": labels[0],
                }
            )
        if config.box_labels:
            out["boxes"] = boxes
        elif boxes:
            raise InvalidAnswer("result[rectanglelabels]: this project has no box labels")
        chosen = ls.items(ls_results, "choices")
        if config.image_labels and chosen:
            if config.multiple:
                out["labels"] = [c for item in chosen for c in ls.value(item, "choices", "result[choices]")]
            else:
                out["label"] = ls.one_choice(chosen, "choices", "result[choices]")
        return out

    def to_label_studio(self, config: ImageConfig, data: dict, result: dict) -> list[dict]:
        out = []
        width, height = data.get("width"), data.get("height")
        for i, box in enumerate(result.get("boxes", [])):
            if not _number(width) or not _number(height):
                raise InvalidAnswer(
                    f"data.{config.field}: the image's size is unknown, so its boxes cannot be given in percent"
                )
            out.append(
                ls.item(
                    "box",
                    config.field,
                    "rectanglelabels",
                    {
                        "x": box["x"] * 100 / width,
                        "y": box["y"] * 100 / height,
                        "width": box["w"] * 100 / width,
                        "height": box["h"] * 100 / height,
                        "rotation": 0,
                        "rectanglelabels": [box["label"]],
                    },
                    id=f"b{i}",
                    original_width=width,
                    original_height=height,
                    image_rotation=0,
                )
            )
        chosen = result.get("labels") or ([result["label"]] if result.get("label") else [])
        if chosen:
            out.append(ls.item("label", config.field, "choices", {"choices": list(chosen)}))
        return out


def _label_set(result: dict) -> list | None:
    return result.get("labels")


def _px(value: Any) -> str:
    return str(round(value)) if _number(value) else str(value)
