"""The annotator's own work in Chromium: Backspace undoes the last answer and its task comes back;
a question asked while labelling is answered by a manager and read by the asker; preference
criteria answered by their keys; an error about the last submit clears once the answer changes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from bastion.services import imports, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, open_project, start_labelling
from factories import add_tasks, make_project, make_user, system

CLASSIFY = {"type": "classification", "field": "text", "labels": ["pos", "neg", "neutral"]}


def _people(rt, *roles):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Annotators", owner=owner.id)
    people = {"owner": owner}
    for role in roles:
        people[role] = make_user(rt, f"{role}@example.com", password=PASSWORD)
        workspaces.add_member(system(rt), ws.id, people[role].id, role)
    return ws, people


def test_backspace_undoes_the_last_answer_and_the_task_comes_back(rt, live_url, page):
    ws, _ = _people(rt, "annotator")
    project = make_project(rt, ws.id, name="Sentiment", config=CLASSIFY)
    add_tasks(rt, project.id, 3, prefix="item")
    login(page, live_url, "annotator@example.com")
    start_labelling(page, live_url, project.id)
    page.goto(f"{live_url}/projects/{project.id}/label")  # the GET shows the held task and the progress
    expect(page.locator("#my-done")).to_have_text("0")
    expect(page.locator("#my-left")).to_have_text("3")
    first = page.locator("#task").get_attribute("data-task-id")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", first)
    expect(page.locator("#my-done")).to_have_text("1")
    expect(page.locator("#my-left")).to_have_text("2")

    page.keyboard.press("Backspace")  # untouched next task: Backspace is undo
    expect(page.locator("#task")).to_have_attribute("data-task-id", first)
    expect(page.locator("input[name=label][value=neg]")).to_be_checked()  # my answer, ready to change
    expect(page.locator("#my-done")).to_have_text("0")
    page.keyboard.press("3")  # touched now: Backspace no longer undoes
    page.keyboard.press("Backspace")
    expect(page.locator("#task")).to_have_attribute("data-task-id", first)
    page.keyboard.press("Enter")
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", first)
    expect(page.locator("#my-done")).to_have_text("1")

    page.click("#my-annotations-link")
    expect(page.locator("#annotation-table tbody tr")).to_have_count(1)
    expect(page.locator(".annotation-summary")).to_contain_text("neutral (version 2)")
    page.click(".edit-link")
    expect(page.locator("input[name=label][value=neutral]")).to_be_checked()
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#edited-notice")).to_be_visible()
    expect(page.locator(".annotation-summary")).to_contain_text("pos (version 3)")


def test_a_question_is_answered_by_a_manager_and_read_by_the_asker(rt, live_url, page):
    ws, _ = _people(rt, "annotator", "manager")
    project = make_project(rt, ws.id, name="Sentiment", config=CLASSIFY)
    add_tasks(rt, project.id, 2, prefix="item")
    login(page, live_url, "annotator@example.com")
    start_labelling(page, live_url, project.id)
    task = page.locator("#task").get_attribute("data-task-id")
    page.keyboard.press("?")
    expect(page.locator("#ask-text")).to_be_focused()
    page.keyboard.type("Is sarcasm negative?")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task .notice")).to_contain_text("went to the project's managers")
    expect(page.locator("#task")).to_have_attribute("data-task-id", task)  # kept the task

    page.context.clear_cookies()
    login(page, live_url, "manager@example.com")
    open_project(page, live_url, project.id)
    page.click("#questions-link")
    expect(page.locator(".question .q-text")).to_have_text("Is sarcasm negative?")
    page.fill(".answer-form textarea", "Yes, when it mocks the speaker.")
    page.click(".answer-form button")
    expect(page.locator("#no-questions")).to_be_visible()

    page.context.clear_cookies()
    login(page, live_url, "annotator@example.com")
    page.goto(f"{live_url}/projects/{project.id}/label")
    expect(page.locator("#answers-notice")).to_be_visible()
    page.click("#answers-notice a")
    expect(page.locator("#my-questions .q-answer")).to_have_text("Yes, when it mocks the speaker.")
    page.click("#mark-read-form button")
    page.goto(f"{live_url}/projects/{project.id}/label")
    expect(page.locator("#answers-notice")).to_have_count(0)


def test_preference_criteria_by_their_keys(rt, live_url, page):
    ws, people = _people(rt, "annotator")
    project = make_project(rt, ws.id, name="Pairs", config=dict(TEMPLATES["preference"], randomize=False))
    imports.import_tasks(
        system(rt), project.id, [(1, {"data": {"prompt": "Say hi", "responses": ["Hi!", "Hello there."]}})]
    )
    login(page, live_url, "annotator@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator("#criteria caption")).to_contain_text("Shift")
    rows = page.locator("#criteria tbody tr")
    expect(rows.nth(0)).to_have_class(re.compile("current"))
    page.keyboard.press("b")
    page.keyboard.press("1")
    page.keyboard.press("Shift+B")
    expect(rows.nth(1)).to_have_class(re.compile("current"))
    page.keyboard.press("Shift+T")
    page.keyboard.press("Shift+A")
    expect(rows.nth(0).locator("input[value=B]")).to_be_checked()
    expect(rows.nth(1).locator("input[value=tie]")).to_be_checked()
    expect(rows.nth(2).locator("input[value=A]")).to_be_checked()
    expect(page.locator("input[name=choice][value=B]")).to_be_checked()  # Shift+B left the main choice alone
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()
    import orjson

    from bastion.services import exports

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    result = row["annotations"][0]["result"]
    assert result["preferred"] == 1 and result["criteria"] == {"helpfulness": 1, "honesty": "tie", "harmlessness": 0}


def test_the_error_about_a_missing_label_clears_when_one_is_chosen(rt, live_url, page):
    ws, _ = _people(rt, "annotator")
    project = make_project(rt, ws.id, name="Multi", config={**CLASSIFY, "multiple": True})
    add_tasks(rt, project.id, 2, prefix="item")
    login(page, live_url, "annotator@example.com")
    start_labelling(page, live_url, project.id)
    page.keyboard.press("Enter")  # nothing chosen
    expect(page.locator("#task > p.error")).to_contain_text("choose at least one label")
    page.keyboard.press("1")
    expect(page.locator("#task > p.error")).to_have_count(0)
