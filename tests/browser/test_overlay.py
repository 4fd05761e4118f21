"""The labelling page fingerprints what it shows: the overlay and the person's own variant, under the strict CSP.

An annotator labels a word after a variant slot with the keyboard; the stored
span points at the same word in the canonical text. The ``page`` fixture fails
the test on any browser error, CSP violations included.
"""

from __future__ import annotations

import json
import re

import orjson
from playwright.sync_api import expect

from bastion.leaks.simulation import generate_items
from bastion.leaks.variants import render_variant
from bastion.services import exports, imports, workspaces
from bastion.storage.workspace_secret import workspace_secret
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system

WORD = re.compile(r"\w+(?:['\u2019.\-]\w+)*|\S")  # the spans widget's word steps


def test_overlay_and_variant_are_shown_and_spans_land_on_the_canonical_text(rt, live_url, page):
    owner = make_user(rt, "owner.ov@example.com", password=PASSWORD)
    annotator = make_user(rt, "annotator.ov@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Overlay", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, annotator.id, "annotator")
    project = make_project(
        rt, ws.id, name="Spans", config={"type": "spans", "labels": [{"value": "THING", "hotkey": "t"}]}
    )
    canonical, second = generate_items(2, seed=17)
    imports.import_tasks(
        system(rt),
        project.id,
        [
            (1, {"data": {"text": canonical}, "external_id": "first"}),
            (2, {"data": {"text": second}, "external_id": "second"}),
        ],
    )

    login(page, live_url, "annotator.ov@example.com")
    start_labelling(page, live_url, project.id)
    overlay = page.locator(".overlay[data-overlay]")
    expect(overlay).to_have_attribute("data-overlay", re.compile(re.escape(annotator.id) + r" · \d{4}-\d\d-\d\d"))
    background = overlay.evaluate("el => getComputedStyle(el).backgroundImage")
    assert background.startswith('url("data:image/svg+xml')
    assert overlay.evaluate("el => getComputedStyle(el).pointerEvents") == "none"

    task_id = page.locator("#task").get_attribute("data-task-id")
    shown = json.loads(page.locator("#spans").get_attribute("data-text"))
    if shown.split()[:5] == second.split()[:5]:
        canonical, second = second, canonical
    variant = render_variant(
        canonical,
        secret=workspace_secret(rt.keyring, ws.id),
        person_id=annotator.id,
        task_id=task_id,
        field_path="text",
    )
    assert shown == variant.text != canonical  # this person's own copy
    tokens = list(WORD.finditer(shown))

    # A word whose offsets differ between the shown and the canonical text (after a slot that changed length).
    def unchanged_but_moved(m) -> bool:
        start, end = variant.to_canonical(m.start(), m.end())
        return canonical[start:end] == m.group() and start != m.start()

    index, target = next(
        (i, m) for i, m in enumerate(tokens) if m.group().isalpha() and len(m.group()) >= 5 and unchanged_but_moved(m)
    )
    for _ in range(index + 1):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#span-status")).to_contain_text(target.group())
    page.keyboard.press("t")
    expect(page.locator("#span-count")).to_have_text("(1)")
    page.keyboard.press("Enter")
    # htmx swaps the next task in: the overlay is drawn again (and settling it breaks no CSP rule).
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", task_id)
    expect(overlay).to_have_count(1)
    assert overlay.evaluate("el => getComputedStyle(el).backgroundImage").startswith('url("data:image/svg+xml')
    page.keyboard.press("s")
    expect(page.locator("#queue-empty")).to_be_visible()

    start, end = variant.to_canonical(target.start(), target.end())
    assert start != target.start()  # the shown and the canonical offsets differ here …
    (row,) = [
        orjson.loads(x)
        for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()
        if orjson.loads(x)["id"] == task_id
    ]
    # … and the label is stored on the canonical text, at the same word.
    assert row["annotations"][0]["result"]["spans"] == [
        {"start": start, "end": end, "label": "THING", "text": target.group()}
    ]
    assert canonical[start:end] == target.group()


def test_a_project_can_turn_the_overlay_off(rt, live_url, page):
    annotator = make_user(rt, "annotator.off@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "No overlay", owner=make_user(rt, "o.off@example.com").id)
    workspaces.add_member(system(rt), ws.id, annotator.id, "annotator")
    project = make_project(
        rt,
        ws.id,
        name="Legal",
        config={
            "type": "classification",
            "labels": ["a", "b"],
            "leak_tracing": {"overlay": False, "variants": {"enabled": False}},
        },
    )
    text = generate_items(1, seed=2)[0]
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": text}})])
    login(page, live_url, "annotator.off@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator("#task-text")).to_be_visible()
    expect(page.locator(".overlay[data-overlay]")).to_have_count(0)
    assert page.locator("#task-text").inner_text().split() == text.split()  # the canonical text, untouched
