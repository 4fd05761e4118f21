"""Checks on the demo datasets shipped in ``src/bastion/demo/data``."""

from __future__ import annotations

import importlib.util
import json
import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "src" / "bastion" / "demo" / "data"

MAX_FILE_BYTES = 300 * 1024
MAX_IMAGE_BYTES = 10 * 1024
CLASS_LABELS = {"coding", "math", "writing", "science", "advice", "unsafe"}
SPAN_LABELS = {"PERSON", "ORG", "LOCATION", "DATE", "MONEY"}
BOX_LABELS = {"car", "house", "tree", "sign"}
ROLES = {"user", "assistant"}

EXPECTED_COUNTS = {
    "classification.jsonl": 200,
    "spans.jsonl": 40,
    "preference.jsonl": 40,
    "ranking.jsonl": 25,
    "writing.jsonl": 30,
    "rubric.jsonl": 25,
    "image.jsonl": 24,
}


def load(name: str) -> list[dict[str, Any]]:
    path = DATA_DIR / name
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"{name}:{lineno}: blank line"
        item = json.loads(line)
        assert isinstance(item, dict), f"{name}:{lineno}: not an object"
        items.append(item)
    return items


def nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def check_conversation(conv: object, where: str) -> None:
    assert isinstance(conv, list) and conv, f"{where}: conversation must be a non-empty list"
    for turn in conv:
        assert isinstance(turn, dict), where
        assert set(turn) == {"role", "content"}, where
        assert turn["role"] in ROLES, where
        assert nonempty_str(turn["content"]), where
    assert conv[0]["role"] == "user", f"{where}: must start with a user turn"
    assert conv[-1]["role"] == "user", f"{where}: must end with a user turn"
    for a, b in zip(conv, conv[1:]):
        assert a["role"] != b["role"], f"{where}: roles must alternate"


# --------------------------------------------------------------------------- #
# Generic shape
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("name", "count"), sorted(EXPECTED_COUNTS.items()))
def test_file_parses_with_expected_count_and_unique_ids(name: str, count: int) -> None:
    path = DATA_DIR / name
    assert path.stat().st_size <= MAX_FILE_BYTES
    items = load(name)
    assert len(items) == count
    ids = [item.get("external_id") for item in items]
    assert all(nonempty_str(i) for i in ids)
    assert len(set(ids)) == len(ids), "external ids must be unique"
    for item in items:
        assert set(item) <= {"external_id", "data", "predictions"}
        assert isinstance(item["data"], dict)
        if "predictions" in item:
            assert isinstance(item["predictions"], list) and item["predictions"]


def test_external_ids_unique_across_files() -> None:
    ids = [item["external_id"] for name in EXPECTED_COUNTS for item in load(name)]
    assert len(set(ids)) == len(ids)


def test_every_data_file_is_small() -> None:
    for path in DATA_DIR.rglob("*"):
        if path.is_file():
            assert path.stat().st_size <= MAX_FILE_BYTES, path.name


# --------------------------------------------------------------------------- #
# Classification
# --------------------------------------------------------------------------- #
def test_classification_items_and_answers() -> None:
    items = load("classification.jsonl")
    for item in items:
        assert set(item["data"]) == {"text"}
        assert nonempty_str(item["data"]["text"])
        assert "predictions" not in item
    texts = [item["data"]["text"] for item in items]
    assert len(set(texts)) == len(texts), "duplicate texts"

    labels_doc = json.loads((DATA_DIR / "classification.labels.json").read_text(encoding="utf-8"))
    assert set(labels_doc) == {"labels", "answers"}
    assert set(labels_doc["labels"]) == CLASS_LABELS
    assert len(labels_doc["labels"]) == len(CLASS_LABELS)
    answers = labels_doc["answers"]
    assert set(answers) == {item["external_id"] for item in items}
    assert set(answers.values()) <= set(labels_doc["labels"])
    counts = Counter(answers.values())
    assert counts == {
        "coding": 40,
        "math": 30,
        "writing": 40,
        "science": 30,
        "advice": 40,
        "unsafe": 20,
    }


# --------------------------------------------------------------------------- #
# Spans
# --------------------------------------------------------------------------- #
def test_spans_items_and_predictions() -> None:
    items = load("spans.jsonl")
    predicted = 0
    for item in items:
        eid = item["external_id"]
        assert set(item["data"]) == {"text"}
        text = item["data"]["text"]
        assert nonempty_str(text)
        assert 60 <= len(text.split()) <= 200, f"{eid}: {len(text.split())} words"
        if "predictions" not in item:
            continue
        predicted += 1
        for prediction in item["predictions"]:
            assert set(prediction) == {"spans"}
            spans = prediction["spans"]
            assert spans, eid
            previous_end = 0
            for span in sorted(spans, key=lambda s: s["start"]):
                assert set(span) == {"start", "end", "label"}, eid
                start, end = span["start"], span["end"]
                assert isinstance(start, int) and isinstance(end, int), eid
                assert 0 <= start < end <= len(text), f"{eid}: {span}"
                assert start >= previous_end, f"{eid}: overlapping spans"
                previous_end = end
                covered = text[start:end]
                assert covered.strip() == covered and covered, f"{eid}: {covered!r}"
                assert span["label"] in SPAN_LABELS, eid
    assert 8 <= predicted <= 12


# --------------------------------------------------------------------------- #
# Conversations
# --------------------------------------------------------------------------- #
def test_preference_items() -> None:
    items = load("preference.jsonl")
    assert any(len(i["data"]["conversation"]) > 1 for i in items), "want some multi-turn"
    for item in items:
        data = item["data"]
        assert set(data) == {"conversation", "responses"}
        check_conversation(data["conversation"], item["external_id"])
        responses = data["responses"]
        assert isinstance(responses, list) and len(responses) == 2
        assert all(nonempty_str(r) for r in responses)
        assert responses[0] != responses[1]


def test_ranking_items() -> None:
    items = load("ranking.jsonl")
    sizes = Counter()
    for item in items:
        data = item["data"]
        assert set(data) == {"conversation", "responses"}
        check_conversation(data["conversation"], item["external_id"])
        responses = data["responses"]
        assert isinstance(responses, list) and 3 <= len(responses) <= 5
        assert all(nonempty_str(r) for r in responses)
        assert len(set(responses)) == len(responses)
        sizes[len(responses)] += 1
    assert sizes[4] >= 20


def test_writing_items() -> None:
    items = load("writing.jsonl")
    drafts = 0
    for item in items:
        assert set(item["data"]) == {"conversation"}
        check_conversation(item["data"]["conversation"], item["external_id"])
        if "predictions" in item:
            drafts += 1
            for prediction in item["predictions"]:
                assert set(prediction) == {"text"}
                assert nonempty_str(prediction["text"])
    assert 8 <= drafts <= 12


def test_rubric_items() -> None:
    for item in load("rubric.jsonl"):
        data = item["data"]
        assert set(data) == {"conversation", "response"}
        check_conversation(data["conversation"], item["external_id"])
        assert nonempty_str(data["response"])


# --------------------------------------------------------------------------- #
# Images
# --------------------------------------------------------------------------- #
def read_png(path: Path) -> tuple[int, int]:
    """Validate a PNG's structure and return (width, height)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name}: bad signature"
    pos = 8
    chunks: list[tuple[bytes, bytes]] = []
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind = blob[pos + 4 : pos + 8]
        payload = blob[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc, f"{path.name}: bad CRC in {kind!r}"
        chunks.append((kind, payload))
        pos += 12 + length
    assert pos == len(blob)
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert interlace == 0
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    if colour_type == 3:
        assert b"PLTE" in kinds
    raw = zlib.decompress(b"".join(p for k, p in chunks if k == b"IDAT"))
    row_bytes = (width * channels * depth + 7) // 8
    assert len(raw) == height * (1 + row_bytes), f"{path.name}: truncated pixel data"
    return width, height


def test_image_items_point_at_valid_pngs() -> None:
    items = load("image.jsonl")
    predicted = 0
    seen_labels: set[str] = set()
    for item in items:
        eid = item["external_id"]
        data = item["data"]
        assert set(data) == {"image", "width", "height"}
        assert data["image"].startswith("images/") and data["image"].endswith(".png")
        path = DATA_DIR / data["image"]
        assert path.is_file(), f"{eid}: missing {path}"
        assert path.stat().st_size < MAX_IMAGE_BYTES, f"{eid}: image too large"
        assert read_png(path) == (data["width"], data["height"]) == (320, 240)
        if "predictions" not in item:
            continue
        predicted += 1
        for prediction in item["predictions"]:
            assert set(prediction) == {"boxes"}
            boxes = prediction["boxes"]
            assert 1 <= len(boxes) <= 4, eid
            for box in boxes:
                assert set(box) == {"x", "y", "w", "h", "label"}, eid
                assert box["label"] in BOX_LABELS, eid
                assert box["w"] > 0 and box["h"] > 0, eid
                assert box["x"] >= 0 and box["y"] >= 0, eid
                assert box["x"] + box["w"] <= data["width"], eid
                assert box["y"] + box["h"] <= data["height"], eid
                seen_labels.add(box["label"])
    assert 6 <= predicted <= 10
    assert seen_labels == BOX_LABELS
    images_on_disk = {p.name for p in (DATA_DIR / "images").glob("*.png")}
    assert images_on_disk == {Path(i["data"]["image"]).name for i in items}


def test_image_script_reproduces_committed_images_and_boxes() -> None:
    spec = importlib.util.spec_from_file_location("demo_make_images", DATA_DIR / "make_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    items = {Path(i["data"]["image"]).stem: i for i in load("image.jsonl")}
    assert [name for name, _ in module.SCENES] == list(items)
    for name, scene in module.SCENES:
        png, objects = module.render(scene)
        assert 1 <= len(objects) <= 4, name
        assert png == (DATA_DIR / "images" / f"{name}.png").read_bytes(), name
        item = items[name]
        if "predictions" in item:
            expected = [
                {"x": x0, "y": y0, "w": x1 - x0 + 1, "h": y1 - y0 + 1, "label": label}
                for label, (x0, y0, x1, y1) in objects
            ]
            assert item["predictions"][0]["boxes"] == expected, name
