"""A third-party task type in the browser: its widget, with the keyboard, and its figures on the quality page.

The Likert distribution (tests/plugins/bastion_likert) is installed for this module the
way a third party's package is (tests/plugin_distributions.py); nothing imports it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bastion.services import imports, projects, workspaces
from browser_support import PASSWORD, login, open_project, start_labelling
from factories import make_user, system
from plugin_distributions import PLUGINS, installed_distribution


@pytest.fixture(scope="module", autouse=True)
def likert(tmp_path_factory):
    with installed_distribution(PLUGINS / "bastion_likert", tmp_path_factory.mktemp("site")) as name:
        yield name


def test_rate_on_a_likert_scale_with_the_keyboard_then_read_the_quality_page(rt, live_url, page):
    owner = make_user(rt, "owner.lk@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Likert WS", owner=owner.id)
    raters = []
    for i in range(2):
        raters.append(make_user(rt, f"rater{i}.lk@example.com", password=PASSWORD))
        workspaces.add_member(system(rt), ws.id, raters[-1].id, "annotator")
    project = projects.create_project(
        system(rt),
        ws.id,
        name="Politeness",
        settings={"overlap": 2},
        config={
            "type": "likert",
            "statement": "The reply is polite.",
            "points": ["No", "Hardly", "Somewhat", "Mostly", "Yes"],
        },
    )
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"Reply {i}"}}) for i in range(1, 4)])

    given: list[dict[str, str]] = []
    for rater, keys in zip(raters, (["4", "5", "2"], ["4", "ArrowLeft", "2"]), strict=True):
        given.append({})
        page.context.clear_cookies()
        login(page, live_url, rater.email)
        start_labelling(page, live_url, project.id)
        for key in keys:
            task_id = page.locator("#task").get_attribute("data-task-id")
            expect(page.locator("#likert legend")).to_have_text("The reply is polite.")
            if key == "ArrowLeft":  # from nothing chosen: the first point, then along the scale and back
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowRight")
                page.keyboard.press("ArrowLeft")
                expect(page.locator("input[name=rating][value='1']")).to_be_checked()
                given[-1][task_id] = "1"
            else:
                given[-1][task_id] = key
                page.keyboard.press(key)
                expect(page.locator(f"input[name=rating][value='{key}']")).to_be_checked()
            page.keyboard.press("Enter")
            expect(page.locator("#task")).not_to_have_attribute("data-task-id", task_id)
        expect(page.locator("#queue-empty")).to_be_visible()

    page.context.clear_cookies()
    login(page, live_url, owner.email)
    open_project(page, live_url, project.id)
    page.click("#quality-link")
    expect(page.locator("#agreement .summary")).to_contain_text(re.compile(r"ordinal α = "))
    expect(page.locator("#aggregation h2")).to_have_text("Aggregation (median)")
    page.click("#aggregation a[href='?method=mv']")
    expect(page.locator("#aggregation h2")).to_have_text("Aggregation (mv)")
    ties = sum(given[0][task] != given[1][task] for task in given[0])
    expect(page.locator("#aggregation")).to_contain_text(f"{ties} ties drawn at random")
