"""A reviewer works the review queue with the keyboard, in the annotations' own widgets; errors show;
the quality page renders its figures; the task page shows every annotation in its widget."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from bastion.services import annotations, imports, queue, reviews, workspaces
from browser_support import PASSWORD, login, open_project
from factories import as_user, make_project, make_user, system

OTHER = {
    "type": "classification",
    "field": "text",
    "labels": ["pos", "neg", "neutral"],
    "other": {"value": "other", "hotkey": "o"},
}
SPANS = {
    "type": "spans",
    "field": "text",
    "labels": [{"value": "PER", "hotkey": "p"}, {"value": "ORG", "hotkey": "g"}, {"value": "LOC", "hotkey": "l"}],
    "leak_tracing": {"variants": {"enabled": False}},
}
TEXT = "Ada Lovelace met Charles Babbage in London"


def _annotated(rt, ws_id, project_id, results, tag):
    """One annotator per result, each answering the project's one task with it; their ids."""
    people = []
    for i, result in enumerate(results):
        user = make_user(rt, f"w{i}.{tag}@example.com")
        workspaces.add_member(system(rt), ws_id, user.id, "annotator")
        task = queue.next_task(as_user(rt, user.id), project_id)
        annotations.submit_annotation(as_user(rt, user.id), task["id"], result)
        people.append(user.id)
    return people


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
    # The annotation in its widget, locked, beside the task's other annotation; the labels they differ on marked.
    compare = page.locator("#review-compare > article")
    expect(compare).to_have_count(2)
    expect(compare.first.locator(".widget[data-mode=correct] fieldset.widget-lock")).to_have_js_property(
        "disabled", True
    )
    expect(compare.nth(1).locator(".widget[data-mode=read]")).to_be_visible()
    assert {t.strip() for t in compare.locator(".annotator").all_inner_texts()} == {"w0.rq", "w1.rq"}
    expect(compare.first.locator("label.choice.differs input")).to_be_checked()
    expect(compare.nth(1).locator("label.choice.differs input")).to_be_checked()
    checked = [compare.nth(i).locator("label.choice:has(input:checked)").inner_text() for i in range(2)]
    assert sorted(c.strip()[-3:] for c in checked) == ["neg", "pos"]  # each shows its own answer
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


def _one_for_review(rt, tag, config, result):
    owner = make_user(rt, f"owner.{tag}@example.com", password=PASSWORD)
    reviewer = make_user(rt, f"rev.{tag}@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), f"Review {tag}", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, reviewer.id, "reviewer")
    project = make_project(rt, ws.id, name=f"Refused {tag}", config=config, settings={"quality": {"review": "all"}})
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": "text 1"}})])
    (worker,) = _annotated(rt, ws.id, project.id, [result], tag)
    return ws, project, reviewer, worker


def test_review_errors_show_on_the_page_and_a_correction_is_made_in_the_widget(rt, live_url, page):
    ws, project, reviewer, worker = _one_for_review(rt, "re", OTHER, {"label": "pos"})
    login(page, live_url, reviewer.email)
    page.goto(f"{live_url}/projects/{project.id}/review")
    page.click("#start-review")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", re.compile("ann_"))
    held = page.locator("#review").get_attribute("data-annotation-id")

    page.check("input[name=decision][value=reject]")  # an empty comment: refused
    page.click("#review-form button[type=submit]")
    expect(page.locator("#review p.error")).to_contain_text("comment")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", held)  # still held, still shown

    # Correct: the annotation's own widget unlocks; its keys choose "other", whose text is left empty.
    widget = page.locator("#review .reviewed .widget")
    expect(widget.locator("fieldset.widget-lock")).to_have_js_property("disabled", True)
    page.locator("body").press("c")
    expect(widget.locator("fieldset.widget-lock")).to_have_js_property("disabled", False)
    expect(widget.locator("input[value=pos]")).to_be_checked()  # it starts from the annotation
    page.locator("body").press("o")
    expect(widget.locator("input.other-choice")).to_be_checked()
    expect(widget.locator("input.other-text-input")).to_be_focused()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#review p.error")).to_contain_text("other_text")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", held)
    # Shown again as the reviewer left it: Correct chosen, the widget unlocked on their draft.
    expect(page.locator("input[name=decision][value=correct]")).to_be_checked()
    expect(widget.locator("fieldset.widget-lock")).to_have_js_property("disabled", False)
    expect(widget.locator("input.other-choice")).to_be_checked()
    widget.locator("input.other-text-input").fill("sarcasm")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#review-empty")).to_be_visible()

    (feedback,) = reviews.my_feedback(as_user(rt, worker), ws.id)
    assert feedback["review"]["decision"] == "corrected"
    assert feedback["review"]["correction"] == {"label": "other", "other_text": "sarcasm"}


def test_a_refused_review_without_script_answers_422_with_the_error(rt, live_url, browser):
    """The plain form post (no htmx): a refusal is a 422 page that shows its error."""
    ws, project, reviewer, _ = _one_for_review(rt, "nojs", OTHER, {"label": "neg"})
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, live_url, reviewer.email)
        page.goto(f"{live_url}/projects/{project.id}/review")
        page.click("#start-review")  # a plain POST, then a 303 back to the page
        expect(page.locator("#review")).to_have_attribute("data-annotation-id", re.compile("ann_"))
        page.check("input[name=decision][value=reject]")
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/review")) as answer:
            page.click("#review-form button[type=submit]")
        assert answer.value.status == 422
        expect(page.locator("#review p.error")).to_contain_text("comment")
        expect(page.locator("#review")).to_have_attribute("data-annotation-id", re.compile("ann_"))
    finally:
        context.close()


def test_spans_are_reviewed_side_by_side_and_corrected_in_the_widget(rt, live_url, page):
    owner = make_user(rt, "owner.sp@example.com", password=PASSWORD)
    reviewer = make_user(rt, "rev.sp@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Spans review", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, reviewer.id, "reviewer")
    project = make_project(
        rt, ws.id, name="Entities", config=SPANS, settings={"overlap": 2, "quality": {"review": "all"}}
    )
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": TEXT}})])
    ada = {"start": 0, "end": 12, "label": "PER"}
    charles = {"start": 17, "end": 32, "label": "PER"}
    workers = _annotated(rt, ws.id, project.id, [{"spans": [ada]}, {"spans": [ada, charles]}], "sp")

    login(page, live_url, reviewer.email)
    page.goto(f"{live_url}/projects/{project.id}/review")
    page.keyboard.press("Enter")
    expect(page.locator("#review")).to_have_attribute("data-annotation-id", re.compile("ann_"))
    held = page.locator("#review").get_attribute("data-annotation-id")
    cards = page.locator("#review-compare > article")
    expect(cards).to_have_count(2)
    # Each annotation drawn in its widget; the span only one of them marked is marked as not shared.
    for i in range(2):
        expect(cards.nth(i).locator(".span-text mark.sp").first).to_be_visible()
    differing = page.locator("#review-compare mark.sp-differs")
    expect(differing).to_have_count(1)
    expect(differing).to_have_text("Charles Babbage")
    reviewed = cards.first.locator(".widget")
    other = cards.nth(1).locator(".widget")
    spans_before = other.locator(".span-list li").count()

    page.locator("body").press("c")  # Correct: the widget unlocks and takes the keys
    expect(reviewed.locator("fieldset.widget-lock")).to_have_js_property("disabled", False)
    page.keyboard.press("ArrowLeft")  # the last word: "London"
    page.keyboard.press("l")  # marked LOC
    expect(reviewed.locator("mark.sp", has_text="London")).to_be_visible()
    expect(other.locator(".span-list li")).to_have_count(spans_before)  # the read-only one took no key
    expect(other.locator("mark.sp", has_text="London")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator("#review")).not_to_have_attribute("data-annotation-id", held)

    author = next(
        w for w in workers if any(f["annotation_id"] == held for f in reviews.my_feedback(as_user(rt, w), ws.id))
    )
    (feedback,) = reviews.my_feedback(as_user(rt, author), ws.id)
    corrected = feedback["review"]["correction"]["spans"]
    start = TEXT.index("London")
    assert {"start": start, "end": start + 6, "label": "LOC", "text": "London"} in corrected
    assert {**ada, "text": "Ada Lovelace"} in corrected

    # The task page: every annotation read-only in its widget, the correction in the review history.
    page.context.clear_cookies()
    login(page, live_url, owner.email)
    task_id = feedback["task_id"]
    page.goto(f"{live_url}/tasks/{task_id}")
    if page.locator("#open-workspace").count():  # a first look offers the Open button (a view binds nobody)
        page.click("#open-workspace")
        page.wait_for_selector("#annotations")
    shown = page.locator("#annotations .widget[data-mode=read]")
    expect(shown).to_have_count(2)
    expect(page.locator("#annotations mark.sp-differs")).to_have_text("Charles Babbage")
    expect(page.locator("#reviews .decision")).to_have_text("corrected")
    expect(page.locator("#reviews .widget mark.sp", has_text="London")).to_be_visible()
    marks = page.locator("#annotations mark.sp").count()
    page.locator("body").press("ArrowRight")
    page.locator("body").press("p")  # nothing on this page takes a widget's keys
    assert page.locator("#annotations mark.sp").count() == marks
    expect(page.locator("#shown")).to_contain_text("rev.sp")
