"""Spans in Chromium: select words with the keyboard, label them by key, in a 60,000-character document."""

from __future__ import annotations

import time

import orjson
from playwright.sync_api import expect

from bastion.services import exports, imports, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system

TEXT = "Halvorsen Maritime said on Tuesday it would close its shipyard in Bergen by the end of 2026. "


def test_label_spans_with_the_keyboard_in_a_long_document(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Spans", owner=owner.id)
    project = make_project(rt, ws.id, name="Entities", config=TEMPLATES["spans"])
    long_text = TEXT * (60_000 // len(TEXT) + 1)
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": long_text}, "external_id": "long"})])

    login(page, live_url, "owner@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator("#span-count")).to_have_text("(0)")
    started = time.monotonic()
    page.keyboard.press("ArrowRight")  # "Halvorsen"
    page.keyboard.press("Shift+ArrowRight")  # + "Maritime"
    expect(page.locator("#span-status")).to_contain_text("Halvorsen Maritime")
    page.keyboard.press("o")
    for _ in range(10):  # said on Tuesday it would close its shipyard in Bergen
        page.keyboard.press("ArrowRight")
    expect(page.locator("#span-status")).to_contain_text("Bergen")
    page.keyboard.press("l")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")  # a mistake …
    expect(page.locator("#span-count")).to_have_text("(3)")
    page.keyboard.press("Delete")  # … removed again
    expect(page.locator("#span-count")).to_have_text("(2)")
    expect(page.locator("mark.sp")).to_have_count(2)
    assert time.monotonic() - started < 15, "the widget is too slow on a long document"
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    assert row["annotations"][0]["result"]["spans"] == [
        {"start": 0, "end": 18, "label": "ORG", "text": "Halvorsen Maritime"},
        {"start": 66, "end": 72, "label": "LOCATION", "text": "Bergen"},
    ]
