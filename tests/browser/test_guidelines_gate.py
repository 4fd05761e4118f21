"""Guidelines in Chromium: a manager publishes them; the annotator's labelling page waits until they
acknowledge them; they label, ask a question, a manager answers it and adds it to the guidelines' FAQ;
the annotator reads the answer, finishes the task they held, and acknowledges the new version
before the next task. Annotations record the version they were made under."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from bastion.services import workspaces
from bastion.storage import schema
from browser_support import PASSWORD, login, open_project
from factories import add_tasks, make_project, make_user, operator_tx, system

CLASSIFY = {"type": "classification", "field": "text", "labels": ["pos", "neg", "neutral"]}


def _made_under(rt, project_id):
    with operator_tx(rt, write=False) as tx:
        return sorted(
            tx.execute(
                select(schema.annotations.c.guideline_version).where(schema.annotations.c.project_id == project_id)
            ).scalars()
        )


def test_guidelines_gate_the_queue_and_an_answer_joins_their_faq(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Guided", owner=owner.id)
    annotator = make_user(rt, "annotator@example.com", password=PASSWORD)
    for person, role in (
        (annotator, "annotator"),
        (make_user(rt, "manager@example.com", password=PASSWORD), "manager"),
    ):
        workspaces.add_member(system(rt), ws.id, person.id, role)
    project = make_project(rt, ws.id, name="Sentiment", config=CLASSIFY)
    add_tasks(rt, project.id, 4, prefix="item")

    # The manager publishes the first version from the project page.
    login(page, live_url, "manager@example.com")
    open_project(page, live_url, project.id)
    page.click("#guidelines-link")
    expect(page.locator("#no-guidelines")).to_be_visible()
    page.click("#write-guidelines")
    page.fill("#guidelines-text", "# Sentiment\n\nPick **pos** when the text praises.\n")
    page.click("#guidelines-form button[type=submit]")
    expect(page.locator("#guidelines-body strong")).to_have_text("pos")

    # The annotator is shown the guidelines instead of a task, with their overlay, and acknowledges them.
    page.context.clear_cookies()
    login(page, live_url, "annotator@example.com")
    page.goto(f"{live_url}/projects/{project.id}/label")
    page.click("#start")  # a first access: Start opens the client's data, then the guidelines come first
    expect(page.locator("#guidelines-owed")).to_contain_text("version 1")
    expect(page.locator("#guidelines-body")).to_contain_text("when the text praises")
    assert page.locator("#task .overlay").get_attribute("data-overlay").startswith(annotator.id)
    expect(page.locator("#start")).to_have_count(0)
    page.click("#acknowledge")
    page.click("#start")
    page.wait_for_selector("#task[data-task-id]")
    first = page.locator("#task").get_attribute("data-task-id")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", first)
    page.wait_for_selector("#task[data-task-id]")
    assert _made_under(rt, project.id) == [1]

    # They ask about the next task and keep it.
    page.keyboard.press("?")
    page.keyboard.type("Is 'great, just great' praise?")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task .notice")).to_contain_text("went to the project's managers")
    held = page.locator("#task").get_attribute("data-task-id")

    # The manager answers, then adds the question, reworded, to the FAQ: version 2.
    page.context.clear_cookies()
    login(page, live_url, "manager@example.com")
    page.goto(f"{live_url}/projects/{project.id}/questions")
    page.fill(".answer-form textarea", "No: sarcasm is neg.")
    page.click(".answer-form button")
    page.goto(f"{live_url}/projects/{project.id}/questions?state=answered")
    page.click("details.promote summary")
    page.fill(".promote-form textarea[name=question]", "Is sarcastic praise pos?")
    page.click(".promote-form button")
    expect(page.locator("main h1")).to_contain_text("version 2")
    expect(page.locator("#guidelines-body")).to_contain_text("Is sarcastic praise pos?")
    page.goto(f"{live_url}/projects/{project.id}/guidelines/diff?from=1&to=2")
    expect(page.locator("ins.diff-added").first).to_be_visible()

    # The annotator reads the answer; the task they hold is still theirs, and the next waits for version 2.
    page.context.clear_cookies()
    login(page, live_url, "annotator@example.com")
    page.goto(f"{live_url}/projects/{project.id}/label")
    expect(page.locator("#task")).to_have_attribute("data-task-id", held)
    expect(page.locator("#guidelines-next")).to_contain_text("version 2")
    expect(page.locator("#answers-notice")).to_be_visible()
    page.click("#answers-notice a")
    expect(page.locator("#my-questions .q-answer")).to_have_text("No: sarcasm is neg.")
    page.goto(f"{live_url}/projects/{project.id}/label")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#guidelines-owed")).to_contain_text("version 2")  # the submit stood; no next task
    expect(page.locator("#guidelines-body")).to_contain_text("Is sarcastic praise pos?")
    assert _made_under(rt, project.id) == [1, 1]
    page.click("#acknowledge")
    page.click("#start")
    page.wait_for_selector("#task[data-task-id]")
    last = page.locator("#task").get_attribute("data-task-id")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", last)
    assert _made_under(rt, project.id) == [1, 1, 2]
