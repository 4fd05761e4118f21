"""Image exports: boxes as COCO object-detection JSON (what pycocotools loads).

One document: ``images`` (one per task: ``id`` 1…, ``file_name`` =
``<file id>.<ext>``, ``width``/``height``), ``annotations`` (one per box:
``bbox`` = [x, y, w, h] from the top-left corner, ``area`` = w·h, ``iscrowd``
0, ``category_id``), ``categories`` (the config's box labels, ids 1… in config
order). Each box annotation also carries ``bastion_annotation_id`` and the
annotator, so boxes from several people stay apart. Image-level labels go to
each image's ``bastion_labels`` (COCO has no field for them).

The trap: COCO ids are integers and must be unique across the file; they are
counted here while streaming, never taken from Bastion's string ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from .._export import ExportOptions


def coco_document(config, tasks: Iterator[dict], options: ExportOptions) -> Iterator[bytes]:
    categories = [{"id": i + 1, "name": label.value, "supercategory": ""} for i, label in enumerate(config.box_labels)]
    category = {c["name"]: c["id"] for c in categories}
    annotations: list[bytes] = []
    yield b'{"info":{"description":"Bastion export","version":"1.0"},"licenses":[],"images":['
    image_id = 0
    box_id = 0
    first = True
    for task in tasks:
        image_id += 1
        data = task["data"]
        ref = data.get(config.field, "")
        image = {"id": image_id, "file_name": f"{ref}{task.get('file_extension', '')}",
                 "width": data.get("width") or task.get("file_width") or 0,
                 "height": data.get("height") or task.get("file_height") or 0,
                 "bastion_task_id": task["id"], "external_id": task.get("external_id")}
        labels = []
        for ann in task["annotations"]:
            result = ann["result"]
            labels.extend(result.get("labels") or ([result["label"]] if result.get("label") else []))
            for box in result.get("boxes", []):
                box_id += 1
                annotations.append(orjson.dumps({
                    "id": box_id, "image_id": image_id, "category_id": category[box["label"]],
                    "bbox": [box["x"], box["y"], box["w"], box["h"]], "area": box["w"] * box["h"],
                    "iscrowd": 0, "bastion_annotation_id": ann["id"], "annotator": ann.get("user_id"),
                }))
        if labels:
            image["bastion_labels"] = labels
        yield (b"" if first else b",") + orjson.dumps(image)
        first = False
    yield b'],"annotations":['
    for i in range(0, len(annotations), 1000):
        yield (b"," if i else b"") + b",".join(annotations[i : i + 1000])
    yield b'],"categories":' + orjson.dumps(categories) + b"}\n"
