"""A reviewer works the review queue with the keyboard; the quality page renders its figures."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from bastion.services import annotations, imports, queue, workspaces
from browser_support import PASSWORD, login, open_project
from factories import as_user, make_project, make_user, system


def test_review_with_the_keyboard_then_read_the_quality_page(rt, live_url, page):
    owner = make_user(rt, "owner.rq@example.com", password=PASSWORD)
    reviewer = make_user(rt, "rev.rq@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Review WS", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, reviewer.id, "reviewer")
    project = make_project(rt, ws.id, name="Reviewed", settings={"overlap": 2, "quality": {"review": "all"}})
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"text {i}"}}) for i in range(1, 4)])
    workers = []
    for i in range(2):
        user = make_user(rt, f"w{i}.rq@example.com")
        workspaces.add_member(system(rt), ws.id, user.id, "annotator")
        workers.append(user)
        while (task := queue.next_task(as_user(rt, user.id), project.id)) is not None:
            annotations.submit_annotation(as_user(rt, user.id), task["id"], {"label": "pos" if i else "neg"})

    login(page, live_url, reviewer.email)
    page.goto(f"{live_url}/projects/{project.id}/review")
    expect(page.locator("#review-start")).to_be_visible()  # the page leases nothing: Start is a form POST
    page.keyboard.press("Enter")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", re.compile("ann_"))
    first = page.locator("#review").get_attribute("data-annotation-id")
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    expect(page.locator("#review")).not_to_have_attribute("data-annotation-id", first)
    second = page.locator("#review").get_attribute("data-annotation-id")
    page.keyboard.press("r")  # focus moves to the comment
    page.keyboard.type("Please read the guideline on sarcasm.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#review")).not_to_have_attribute("data-annotation-id", second)

    page.context.clear_cookies()
    login(page, live_url, owner.email)
    open_project(page, live_url, project.id)
    page.click("#quality-link")
    expect(page.locator("#agreement .summary")).to_contain_text("α = ")
    expect(page.locator("#throughput svg rect")).to_have_count(30)
    assert "Accepted" in page.locator("dl.counts").inner_text()
    assert page.locator("dl.counts dd").nth(3).inner_text() == "1"  # accepted
    assert page.locator("dl.counts dd").nth(4).inner_text() == "1"  # rejected


def test_review_errors_show_on_the_page(rt, live_url, page):
    owner = make_user(rt, "owner.re@example.com", password=PASSWORD)
    reviewer = make_user(rt, "rev.re@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Review errors WS", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, reviewer.id, "reviewer")
    project = make_project(rt, ws.id, name="Refused", settings={"quality": {"review": "all"}})
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": "text 1"}})])
    worker = make_user(rt, "w.re@example.com")
    workspaces.add_member(system(rt), ws.id, worker.id, "annotator")
    task = queue.next_task(as_user(rt, worker.id), project.id)
    annotations.submit_annotation(as_user(rt, worker.id), task["id"], {"label": "pos"})

    login(page, live_url, reviewer.email)
    page.goto(f"{live_url}/projects/{project.id}/review")
    page.click("#start-review")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", re.compile("ann_"))
    held = page.locator("#review").get_attribute("data-annotation-id")

    page.check("input[name=decision][value=reject]")  # an empty comment: refused
    page.click("#review-form button[type=submit]")
    expect(page.locator("#review p.error")).to_contain_text("comment")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", held)  # still held, still shown

    page.check("input[name=decision][value=correct]")
    page.fill("#review-correction", "{not json")
    page.click("#review-form button[type=submit]")
    expect(page.locator("#review p.error")).to_have_text("correction: not valid JSON")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", held)
