"""Preference in Chromium: choose B with "clear" strength, write a rationale, all from the keyboard."""

from __future__ import annotations

import orjson
from playwright.sync_api import expect

from bastion.services import exports, imports, workspaces
from bastion.services.exports import ExportRequest
from bastion.tasktypes._order import shown_order
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system


def test_choose_b_clearly_and_say_why(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ann = make_user(rt, "ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Prefs", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    config = dict(TEMPLATES["preference"], criteria=[])
    project = make_project(rt, ws.id, name="Pairs", config=config)
    conversation = [
        {"role": "user", "content": "Remove duplicates, keep order?"},
        {"role": "assistant", "content": "In which language?"},
        {"role": "user", "content": "Python. <script>alert(1)</script>"},
    ]
    responses = [
        "Use `list(dict.fromkeys(xs))`:\n\n```python\nlist(dict.fromkeys([3, 1, 3]))\n```",
        "Use `list(set(xs))` — it keeps the order.",
    ]
    imports.import_tasks(
        system(rt),
        project.id,
        [(1, {"data": {"conversation": conversation, "responses": responses}, "external_id": "pair-1"})],
    )

    login(page, live_url, "ann@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator(".turn")).to_have_count(3)
    expect(page.locator(".turn").nth(2)).to_contain_text("<script>alert(1)</script>")  # text, not markup
    expect(page.locator("#pair pre code")).to_have_count(1)  # the code block renders as code
    right = page.locator("#response-B").inner_text()
    page.keyboard.press("b")
    expect(page.locator("#response-B")).to_have_class("response preferred")
    page.keyboard.press("2")
    expect(page.locator("input[name=strength][value=clear]")).to_be_checked()
    page.keyboard.press("r")
    page.keyboard.type("B keeps the order; A's claim about sets is wrong.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    task_id = next(
        iter(orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines())
    )["id"]
    order = shown_order(2, task_id, ann.id)
    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    result = row["annotations"][0]["result"]
    assert result == {
        "preferred": order[1],
        "strength": "clear",
        "shown_order": order,
        "rationale": "B keeps the order; A's claim about sets is wrong.",
    }
    assert responses[order[1]].split("`")[1] in right
    (pair,) = [
        orjson.loads(x)
        for x in b"".join(
            exports.start_export(system(rt), project.id, request=ExportRequest(fmt="dpo")).chunks()
        ).splitlines()
    ]
    assert pair["chosen"] == [{"role": "assistant", "content": responses[order[1]]}]
    assert pair["prompt"] == conversation
