"""Label Studio's result items, and the Label Studio task an export writes for each Bastion task.

A Label Studio annotation is a list of result items: ``{"from_name", "to_name",
"type", "value": {…}}`` (``type`` is the control's tag in lower case: ``choices``,
``labels``, ``rectanglelabels``…), plus ``{"from_id", "to_id", "type": "relation",
"labels"}`` items that join two region items by their ``id``. The task types'
hooks (``TaskType.from_label_studio`` and friends, ``tasktypes/base.py``) read
and write them with the helpers here; ``task_rows`` makes the rows of the
``label-studio`` export format: ``{"id", "data", "meta", "annotations": [{"result",
"lead_time", "created_at"}], "predictions": [{"result", "model_version", "score"}]}``,
what Label Studio's import takes.

The trap: Label Studio measures boxes in percent of the image and Bastion in
pixels, so a box crosses over only with the image's size (``original_width``
there, ``data.width`` or the stored file's size here) — never guessed. A result
that cannot cross (boxes of an image whose size is unknown) is left out of the
file and named in its task's ``meta.bastion_left_out``: a refusal once bytes have
been sent would cut the file (what a whole project cannot export is refused
before the first byte: ``TaskType.export_refusal``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ..domain.errors import InvalidAnswer


def items(ls_results: Any, *types: str) -> list[dict]:
    """The result items of these types (InvalidAnswer when the result is not a list of objects)."""
    if not isinstance(ls_results, list):
        raise InvalidAnswer("result: must be a list of Label Studio result items")
    out = []
    for i, item in enumerate(ls_results):
        if not isinstance(item, dict):
            raise InvalidAnswer(f"result[{i}]: must be an object {{from_name, to_name, type, value}}")
        if item.get("type") in types:
            out.append(item)
    return out


def value(item: dict, key: str, where: str) -> Any:
    """``item["value"][key]``, or InvalidAnswer naming where it is missing."""
    v = item.get("value")
    if not isinstance(v, dict) or key not in v:
        raise InvalidAnswer(f"{where}.value.{key}: missing")
    return v[key]


def one_choice(found: list[dict], key: str, where: str) -> str | None:
    """The one choice of a single-choice control's item (None when there is none)."""
    chosen = [c for item in found for c in value(item, key, where)]
    if len(chosen) > 1:
        raise InvalidAnswer(f"{where}: {len(chosen)} choices where one is allowed")
    return chosen[0] if chosen else None


def item(from_name: str, to_name: str, kind: str, value: dict, **extra: Any) -> dict:
    return {**extra, "from_name": from_name, "to_name": to_name, "type": kind, "value": value}


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(ms: Any) -> float | None:
    return round(ms / 1000, 3) if isinstance(ms, (int, float)) else None


def _prediction(tt: Any, config: Any, data: dict, p: Any) -> dict:
    """A stored prediction (a result, or ``{"result", "model_version", "score"}``) as Label Studio's."""
    if isinstance(p, dict) and isinstance(p.get("result"), dict) and "model_version" in p:
        out = {"result": tt.prediction_to_label_studio(config, data, p["result"]), "model_version": p["model_version"]}
        if p.get("score") is not None:
            out["score"] = p["score"]
        return out
    return {"result": tt.prediction_to_label_studio(config, data, p)}


def task_rows(tt: Any, config: Any, task: dict | None) -> Iterable[dict]:
    """One Label Studio task for a task record of services/exports.py (nothing heads the file)."""
    if task is None:
        return []
    data = task["data"]
    if task.get("file_width") and "width" not in data:  # the stored image's size, for percentages
        data = {**data, "width": task["file_width"], "height": task["file_height"]}
    meta: dict[str, Any] = {
        "bastion_task_id": task["id"],
        **({"external_id": task["external_id"]} if task.get("external_id") else {}),
    }
    left_out: list[str] = []
    annotations = []
    for i, a in enumerate(task["annotations"]):
        try:
            ann: dict[str, Any] = {"result": tt.to_label_studio(config, data, a["result"])}
        except InvalidAnswer as exc:
            left_out.append(f"annotations[{i}] ({a['id']}): {exc.message}")
            continue
        lead = _seconds(a.get("lead_time_ms"))
        if lead is not None:
            ann["lead_time"] = lead
        if isinstance(a.get("created_at"), int):  # stored in milliseconds since the epoch
            ann["created_at"] = _iso(a["created_at"])
        annotations.append(ann)
    # "id": Label Studio's import sets its own; its SDK's converters key their output by it
    row = {
        "id": task["id"],
        "data": tt.data_to_label_studio(config, task["data"]),
        "meta": meta,
        "annotations": annotations,
    }
    predictions = []
    for i, p in enumerate(task.get("predictions") or []):
        try:
            predictions.append(_prediction(tt, config, data, p))
        except InvalidAnswer as exc:
            left_out.append(f"predictions[{i}]: {exc.message}")
    if predictions:
        row["predictions"] = predictions
    if left_out:
        meta["bastion_left_out"] = left_out
    return [row]
