"""An annotator labels three tasks with the keyboard; the manager's export contains them."""

from __future__ import annotations

import re

import orjson
from playwright.sync_api import expect

from bastion.services import workspaces
from browser_support import PASSWORD, login, open_project
from factories import add_tasks, make_project, make_user, system


def test_label_three_tasks_with_the_keyboard_then_export(rt, live_url, page):
    manager = make_user(rt, "boss@example.com", password=PASSWORD)
    annotator = make_user(rt, "ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Browser WS", owner=manager.id)
    workspaces.add_member(system(rt), ws.id, annotator.id, "annotator")
    project = make_project(
        rt,
        ws.id,
        name="Sentiment",
        config={
            "type": "classification",
            "field": "text",
            "labels": ["pos", "neg", "neutral"],
            "instructions": "Pick the **sentiment**. <script>alert(1)</script>",
        },
    )
    add_tasks(rt, project.id, 5, prefix="<b>untrusted</b>")

    login(page, live_url, "ann@example.com")
    page.click(f"a[href='/projects/{project.id}/label']")
    expect(page.locator("#start-form")).to_be_visible()  # the link leases nothing: Start is a form POST
    assert page.locator(".instructions").count() == 0  # not opened yet: no content shown
    page.keyboard.press("Enter")
    expect(page.locator("#task")).to_have_attribute("data-task-id", re.compile("tsk_"))
    assert page.locator(".instructions strong").inner_text() == "sentiment"
    assert "<script>" in page.locator(".instructions").inner_text()  # shown as text, never run
    seen = []
    for key in ("1", "2", "3"):
        task = page.locator("#task")
        task_id = task.get_attribute("data-task-id")
        assert "<b>untrusted</b>" in page.locator("#task-text").inner_text()  # escaped, not bold
        seen.append(task_id)
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        expect(page.locator("#task")).not_to_have_attribute("data-task-id", task_id)
    assert len(set(seen)) == 3

    page.context.clear_cookies()
    login(page, live_url, "boss@example.com")
    open_project(page, live_url, project.id)
    assert page.locator("#count-annotations").inner_text() == "3"
    with page.expect_download() as download:
        page.click("#export-jsonl")
    with open(download.value.path(), "rb") as fh:
        rows = [orjson.loads(line) for line in fh.read().splitlines()]
    labelled = {row["id"]: row["annotations"][0]["result"]["label"] for row in rows if row["annotations"]}
    assert labelled == dict(zip(seen, ["pos", "neg", "neutral"]))


def test_manager_browses_the_tasks_page_by_page(rt, live_url, page):
    manager = make_user(rt, "browse.boss@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Browse WS", owner=manager.id)
    project = make_project(
        rt, ws.id, name="Browse", config={"type": "classification", "field": "text", "labels": ["pos", "neg"]}
    )
    add_tasks(rt, project.id, 60, prefix="<i>row</i>")
    login(page, live_url, "browse.boss@example.com")
    open_project(page, live_url, project.id)
    page.click("#browse-link")
    rows = page.locator("#task-table tbody tr")
    expect(rows).to_have_count(50)
    assert "<i>row</i>" in rows.first.inner_text()  # shown as text
    first_page = rows.first.locator("code").inner_text()
    page.click("#next-page")
    expect(rows).to_have_count(10)
    assert rows.first.locator("code").inner_text() > first_page
    assert page.locator("#next-page").count() == 0
