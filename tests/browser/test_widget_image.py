"""Image in Chromium: draw a box with the mouse, relabel and nudge it by key, classify the image; COCO loads it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from playwright.sync_api import expect

from bastion.services import exports, files, imports, workspaces
from bastion.services.exports import ExportRequest
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system

PNG = (
    Path(__file__).resolve().parents[2] / "src" / "bastion" / "demo" / "data" / "images" / "meadow_house.png"
).read_bytes()


def test_draw_a_box_and_export_coco(rt, live_url, page, tmp_path):
    coco_mod = pytest.importorskip("pycocotools.coco")
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ann = make_user(rt, "ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Vision", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    project = make_project(rt, ws.id, name="Boxes", config=TEMPLATES["image"])
    stored = files.store_file(system(rt), project.id, PNG)
    imports.import_tasks(
        system(rt),
        project.id,
        [(1, {"data": {"image": stored.id, "width": 320, "height": 240}, "external_id": "img-1"})],
    )

    login(page, live_url, "ann@example.com")
    start_labelling(page, live_url, project.id)
    image = page.locator("#task-image")
    expect(image).to_have_js_property("naturalWidth", 320)
    box = image.bounding_box()
    scale = box["width"] / 320
    page.mouse.move(box["x"] + 40 * scale, box["y"] + 60 * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + 100 * scale, box["y"] + 100 * scale, steps=4)
    page.mouse.move(box["x"] + 160 * scale, box["y"] + 140 * scale, steps=4)
    page.mouse.up()
    expect(page.locator(".bbox")).to_have_count(1)
    expect(page.locator(".bbox-tag")).to_have_text("1 car")
    page.keyboard.press("2")  # relabel the selected box: house
    expect(page.locator(".bbox-tag")).to_have_text("1 house")
    page.keyboard.press("Shift+ArrowRight")  # nudge it 10 px right
    page.keyboard.press("y")  # day
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    result = row["annotations"][0]["result"]
    assert result["label"] == "day"
    (b,) = result["boxes"]
    assert b["label"] == "house"
    assert abs(b["x"] - 50) <= 2 and abs(b["y"] - 60) <= 2 and abs(b["w"] - 120) <= 2 and abs(b["h"] - 80) <= 2

    path = tmp_path / "coco.json"
    path.write_bytes(b"".join(exports.start_export(system(rt), project.id, request=ExportRequest(fmt="coco")).chunks()))
    coco = coco_mod.COCO(str(path))
    (img,) = coco.loadImgs(coco.getImgIds())
    assert img["file_name"] == f"{stored.id}.png" and (img["width"], img["height"]) == (320, 240)
    (a,) = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
    assert coco.loadCats([a["category_id"]])[0]["name"] == "house"
    assert a["bbox"] == [b["x"], b["y"], b["w"], b["h"]]
