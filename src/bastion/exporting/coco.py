"""COCO object-detection JSON (what ``pycocotools`` loads), from the rows task types make.

One document: ``images`` (one per task: ``id`` 1…), ``annotations`` (one per
box: ``bbox`` = [x, y, w, h] from the top-left corner, ``area``, ``iscrowd`` 0,
``category_id``) and ``categories`` (ids 1… in the order the task type gives
them: its config's order, whether or not a box uses them).

The ``coco`` rows a task type makes (``TaskType.export_rows("coco")``), asked
once per task, are one row per image::

    {"file_name": "fil_….png", "width": 320, "height": 240, …,
     "boxes": [{"label": "car", "bbox": [x, y, w, h], "area": w * h, …}]}

— every key but ``boxes`` goes into the image as it is (after ``id``), every key
of a box but ``label`` into its annotation (after ``id``, ``image_id``,
``category_id``, ``bbox``, ``area``, ``iscrowd``). Asked with no task, the type
gives the categories: ``{"name": …}`` rows (``supercategory`` optional).

The trap: COCO ids are integers and must be unique across the file; they are
counted here while streaming, never taken from Bastion's string ids. Boxes wait
in memory (encoded) until the images are written: the document puts
``annotations`` after ``images``.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from .base import Encoding, ExportFormat
from ..domain.errors import InvalidInput

IMAGES_PER_CHUNK = 200
_BOX_KEYS = ("label", "bbox", "area", "iscrowd")


def encode_coco(rows: Iterator[dict], encoding: Encoding) -> Iterator[bytes]:
    categories = [
        {"id": i + 1, "name": c["name"], "supercategory": c.get("supercategory", "")}
        for i, c in enumerate(encoding.head())
    ]
    category = {c["name"]: c["id"] for c in categories}
    dumps = orjson.dumps
    boxes: list[bytes] = []
    yield b'{"info":{"description":"Bastion export","version":"1.0"},"licenses":[],"images":['
    box_id = 0
    parts: list[bytes] = []
    for image_id, row in enumerate(rows, 1):
        image = {"id": image_id}
        image.update((k, v) for k, v in row.items() if k != "boxes")
        for box in row.get("boxes", ()):
            box_id += 1
            try:
                category_id = category[box["label"]]
            except KeyError:
                raise InvalidInput(f"coco: box label {box['label']!r} is not one of the categories") from None
            out = {
                "id": box_id,
                "image_id": image_id,
                "category_id": category_id,
                "bbox": box["bbox"],
                "area": box["area"],
                "iscrowd": box.get("iscrowd", 0),
            }
            out.update((k, v) for k, v in box.items() if k not in _BOX_KEYS)
            boxes.append(dumps(out))
        parts.append((b"," if image_id > 1 else b"") + dumps(image))
        if len(parts) >= IMAGES_PER_CHUNK:
            yield b"".join(parts)
            parts = []
    if parts:
        yield b"".join(parts)
    yield b'],"annotations":['
    for i in range(0, len(boxes), 1000):
        yield (b"," if i else b"") + b",".join(boxes[i : i + 1000])
    yield b'],"categories":' + dumps(categories) + b"}\n"


COCO = ExportFormat(
    name="coco",
    media_type="application/json",
    extension="coco.json",
    encode=encode_coco,
    rows=("coco",),
    per_task=True,
    split_column=False,
    file_facts=True,
    description="COCO object-detection JSON",
)
