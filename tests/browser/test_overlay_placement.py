"""The leak-tracing watermark stays on the labelling page but is never painted over the task being
labelled: at the text's centre, and on the form's see-through parts, the task is on top; around
the task the watermark is."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from bastion.services import imports, workspaces
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system

TOP_AT = """([x, y]) => {
  const overlay = document.querySelector('.overlay[data-overlay]');
  overlay.style.pointerEvents = 'auto';  // hit-testing skips pointer-events: none; ask what is painted on top
  const top = document.elementFromPoint(x, y);
  overlay.style.pointerEvents = '';
  return top === overlay ? 'overlay' : (top.closest('#task-text') ? 'text' : (top.closest('#label-form') ? 'form' : top.tagName));
}"""


def test_watermark_is_shown_but_not_over_the_text(rt, live_url, page):
    person = make_user(rt, "mark.ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Watermark", owner=person.id)
    project = make_project(rt, ws.id, name="Texts")
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": "A sentence to read. " * 20}})])
    login(page, live_url, person.email)
    start_labelling(page, live_url, project.id)
    overlay = page.locator(".overlay[data-overlay]")
    expect(overlay).to_have_attribute("data-overlay", re.compile("^" + re.escape(person.id) + " · "))
    box = page.locator("#task-text").bounding_box()
    centre = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
    assert page.evaluate(TOP_AT, centre) == "text"
    submit = page.locator("#label-form button[type=submit]").bounding_box()  # beside the button: the form's own ground
    assert page.evaluate(TOP_AT, [submit["x"] + submit["width"] + 40, submit["y"] + 4]) == "form"
    header = page.locator("h2, .crumbs").first.bounding_box()  # outside the task form: the watermark is there
    assert page.evaluate(TOP_AT, [header["x"] + 2, header["y"] + 2]) == "overlay"
