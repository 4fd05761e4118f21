"""Submitting an image task and getting the next one logs no CSP error in the console.

htmx, when it swaps the next task in, copies the attributes of each element whose id the old
and new content share onto the new one while it settles: a ``style`` set by script on such an
element is then written as an inline style attribute, which the strict CSP refuses (one console
error per submit). The ``page`` fixture fails the test on any console error; this test also
collects them itself, to say which submit logged one.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from bastion.services import files, imports, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system

PNG = (
    Path(__file__).resolve().parents[2] / "src" / "bastion" / "demo" / "data" / "images" / "meadow_house.png"
).read_bytes()


def test_image_submits_log_no_console_errors(rt, live_url, page):
    ann = make_user(rt, "csp.ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Vision CSP", owner=make_user(rt, "csp.owner@example.com").id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    project = make_project(rt, ws.id, name="Boxes", config=TEMPLATES["image"])
    stored = files.store_file(system(rt), project.id, PNG)
    imports.import_tasks(
        system(rt),
        project.id,
        [
            (i + 1, {"data": {"image": stored.id, "width": 320, "height": 240}, "external_id": f"img-{i}"})
            for i in range(3)
        ],
    )
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)

    login(page, live_url, ann.email)
    start_labelling(page, live_url, project.id)
    for submit in range(2):
        task_id = page.locator("#task").get_attribute("data-task-id")
        expect(page.locator("#task-image")).to_have_js_property("naturalWidth", 320)
        page.keyboard.press("n")  # a box in the middle
        expect(page.locator(".bbox")).to_have_count(1)
        page.keyboard.press("y")  # the image label: day
        page.keyboard.press("Enter")
        expect(page.locator("#task")).not_to_have_attribute("data-task-id", task_id)
        expect(page.locator("#task-image")).to_have_js_property("naturalWidth", 320)
        page.wait_for_timeout(150)  # htmx settles 20 ms after the swap: let it
        assert console == [], f"submit {submit + 1}: {console}"
    # The box layer still covers the image exactly (sized by the stylesheet, not by script).
    image, layer = page.locator("#task-image").bounding_box(), page.locator(".box-layer").bounding_box()
    assert (round(layer["width"]), round(layer["height"])) == (round(image["width"]), round(image["height"]))
