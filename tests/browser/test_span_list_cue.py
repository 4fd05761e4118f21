"""The span list scrolls past a few rows: a cue under it says how many spans it hides, and where."""

from __future__ import annotations

from playwright.sync_api import expect

from bastion.services import imports, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system

WORD = "Bergen "


def test_hidden_spans_are_counted_under_the_list(rt, live_url, page):
    owner = make_user(rt, "cue.owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Span cue", owner=owner.id)
    project = make_project(rt, ws.id, name="Entities", config=TEMPLATES["spans"])
    text = WORD * 30
    spans = [{"start": i * len(WORD), "end": i * len(WORD) + 6, "label": "LOCATION"} for i in range(30)]
    imports.import_tasks(
        system(rt),
        project.id,
        [
            (1, {"data": {"text": text}, "predictions": [{"spans": spans}], "external_id": "many"}),
            (2, {"data": {"text": text}, "predictions": [{"spans": spans[:2]}], "external_id": "few"}),
        ],
    )
    login(page, live_url, owner.email)
    start_labelling(page, live_url, project.id)
    expect(page.locator("#span-count")).to_have_text("(30)")
    more = page.locator("#span-more")
    many = page.locator("#task").get_attribute("data-task-id")
    expect(more).to_be_visible()
    expect(more).to_contain_text("more below")
    hidden = int(more.inner_text().split()[0])
    shown = page.evaluate(
        """() => { const l = document.getElementById('span-list'), b = l.getBoundingClientRect();
        return [...l.children].filter(li => li.getBoundingClientRect().bottom <= b.bottom + 1).length; }"""
    )
    assert hidden + shown == 30 and hidden > 0
    page.evaluate("() => { const l = document.getElementById('span-list'); l.scrollTop = l.scrollHeight; }")
    expect(more).to_contain_text("above")
    expect(more).not_to_contain_text("below")
    page.keyboard.press("Enter")  # submit the predicted spans: the next task has two, all in view
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", many)
    expect(page.locator("#span-count")).to_have_text("(2)")
    expect(page.locator("#span-more")).to_be_hidden()
