"""Rubric in Chromium: grade four criteria with the number keys and comment on one."""

from __future__ import annotations

import orjson
from playwright.sync_api import expect

from bastion.services import exports, imports, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system


def test_grade_a_response_with_the_keyboard(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Grades", owner=owner.id)
    project = make_project(rt, ws.id, name="Rubric", config=TEMPLATES["rubric"])
    imports.import_tasks(
        system(rt),
        project.id,
        [
            (
                1,
                {
                    "data": {
                        "conversation": [{"role": "user", "content": "Tallest mountain?"}],
                        "response": "**Mount Everest**, 8,849 m above sea level.",
                    },
                    "external_id": "g1",
                },
            )
        ],
    )

    login(page, live_url, "owner@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator(".turn.graded strong")).to_have_text("Mount Everest")
    for key in ("4", "5", "3"):  # accuracy, helpfulness, clarity: each moves on to the next
        page.keyboard.press(key)
    expect(page.locator(".criterion.current legend")).to_contain_text("safety")
    page.keyboard.press("1")  # pass
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("c")
    page.keyboard.type("No risky advice.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    assert row["annotations"][0]["result"] == {
        "scores": {"accuracy": 4, "helpfulness": 5, "clarity": 3, "safety": "pass"},
        "comments": {"safety": "No risky advice."},
    }
