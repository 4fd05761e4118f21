"""Image exports: the ``coco`` rows (``exporting/coco.py`` writes them as COCO detection JSON).

Asked with no task, the rows are the categories: the config's box labels, in
config order. Asked per task, one row per image: ``file_name`` =
``<file id><extension>`` (the extension and, when ``data`` has no ``width`` /
``height``, the size come from the stored file), the task's id and external id,
and the boxes of every annotation — each carries ``bastion_annotation_id`` and
the annotator, so boxes from several people stay apart. Image-level labels go to
the image's ``bastion_labels`` (COCO has no field for them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._export import ExportOptions


def coco_rows(config, task: dict | None, annotation: dict | None, options: ExportOptions) -> Iterable[dict]:
    if task is None:
        return [{"name": label.value} for label in config.box_labels]
    data = task["data"]
    ref = data.get(config.field, "")
    boxes: list[dict[str, Any]] = []
    labels: list[str] = []
    for ann in task["annotations"]:
        result = ann["result"]
        labels.extend(result.get("labels") or ([result["label"]] if result.get("label") else []))
        for box in result.get("boxes", []):
            boxes.append(
                {
                    "label": box["label"],
                    "bbox": [box["x"], box["y"], box["w"], box["h"]],
                    "area": box["w"] * box["h"],
                    "bastion_annotation_id": ann["id"],
                    "annotator": ann.get("user_id"),
                }
            )
    image: dict[str, Any] = {
        "file_name": f"{ref}{task.get('file_extension', '')}",
        "width": data.get("width") or task.get("file_width") or 0,
        "height": data.get("height") or task.get("file_height") or 0,
        "bastion_task_id": task["id"],
        "external_id": task.get("external_id"),
    }
    if labels:
        image["bastion_labels"] = labels
    image["boxes"] = boxes
    return [image]
