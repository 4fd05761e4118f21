"""A data lead's whole day in the browser, no CLI: sign in, create a project from scratch, add members,
import a file and watch the counts, filter the data browser to the disagreements, open a task, review
and correct an annotation in its widget, export DPO. The annotators' own work is done by them (through
the services, as their browsers would); everything the data lead does goes through pages."""

from __future__ import annotations

import json

import orjson
from playwright.sync_api import expect

from bastion.services import annotations, queue, workspaces
from browser_support import PASSWORD, login
from factories import as_user, make_user, system

CONFIG = {
    "type": "preference",
    "responses_field": "responses",
    "strength": True,
    "allow_tie": False,
    "criteria": [],
    "rationale": "off",
    "instructions": "Which reply would you rather receive?",
    "leak_tracing": {"variants": {"enabled": False}},
}
PAIRS = [
    {
        "data": {
            "conversation": [{"role": "user", "content": f"Question {i}?"}],
            "responses": [f"Good answer {i}", f"Poor answer {i}"],
        },
        "external_id": f"pair-{i}",
    }
    for i in range(4)
]


def _annotate_all(rt, project_id: str, user_id: str, disagree_on: str | None) -> dict[str, str]:
    """One annotator works the whole queue: the good answer everywhere, except on ``disagree_on``.
    Their annotations' ids by the tasks' questions."""
    worker = as_user(rt, user_id)
    done = {}
    while (task := queue.next_task(worker, project_id)) is not None:
        question = task["data"]["conversation"][0]["content"]
        preferred = 1 if question == disagree_on else 0
        made = annotations.submit_annotation(worker, task["id"], {"preferred": preferred, "strength": "clear"})
        done[question] = made["id"]
    return done


def test_a_data_lead_from_sign_in_to_a_dpo_export_with_no_cli(rt, live_url, page):
    lead = make_user(rt, "lead.day@example.com", password=PASSWORD)
    ana = make_user(rt, "ana.day@example.com")
    ben = make_user(rt, "ben.day@example.com")
    ws = workspaces.create_workspace(system(rt), "Day Client", owner=lead.id)

    # Sign in; a project from scratch, its config typed and checked as typed.
    login(page, live_url, lead.email)
    page.click(f"section[data-workspace='{ws.id}'] a.new-project-link")
    page.fill("#project-name", "Helpful replies")
    page.fill("#config-text", json.dumps({**CONFIG, "rationale": "sometimes"}, indent=2))
    expect(page.locator("#config-problems")).to_contain_text("rationale")
    page.fill("#config-text", json.dumps(CONFIG, indent=2))
    expect(page.locator("#config-valid")).to_be_visible()
    page.click("#create-project")
    page.wait_for_url(f"{live_url}/projects/prj_*")
    project_id = page.url.split("?")[0].rsplit("/", 1)[1]
    if page.locator("#open-workspace").count():
        page.click("#open-workspace")

    # Settings: two annotations per task, every annotation reviewed.
    page.click("#settings-link")
    page.fill("#f-overlap", "2")
    page.select_option("#f-quality-review", "all")
    page.click("#save-settings")
    expect(page.locator("#saved")).to_have_text("Settings saved.")

    # Members, by e-mail.
    page.goto(f"{live_url}/")
    page.click(f"section[data-workspace='{ws.id}'] a.members-link")
    for person in (ana, ben):
        page.fill("#member-email", person.email)
        page.select_option("#member-role", "annotator")
        page.click("#add-member-button")
        expect(page.locator("#saved")).to_have_text("Member added.")
    expect(page.locator("#members")).to_contain_text(ben.email)

    # Import a file from the project page; the report and the counts show it.
    page.goto(f"{live_url}/projects/{project_id}")
    body = b"".join(orjson.dumps(p) + b"\n" for p in PAIRS)
    page.set_input_files(
        "input[name=file]", files=[{"name": "pairs.jsonl", "mimeType": "application/x-ndjson", "buffer": body}]
    )
    page.click("form[action$='/import'] button[type=submit]")
    expect(page.locator("#import-report")).to_contain_text("Imported 4")
    expect(page.locator("#count-tasks")).to_have_text("4")

    # The annotators work; the lead watches the counts move on a reload.
    _annotate_all(rt, project_id, ana.id, disagree_on=None)
    bens = _annotate_all(rt, project_id, ben.id, disagree_on="Question 2?")
    page.reload()
    expect(page.locator("#count-done")).to_have_text("4")
    expect(page.locator("#count-annotations")).to_have_text("8")

    # The data browser, filtered to the disagreements: the one pair they split on.
    page.click("#browse-link")
    page.fill("input[name=agreement_below]", "1")
    page.locator("input[name=agreement_below]").press("Enter")
    page.wait_for_url("**agreement_below=1**")
    rows = page.locator("#task-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Question 2?")

    # Its own page: both annotations, each in its widget, the split marked.
    rows.first.locator("a[href^='/tasks/']").first.click()
    page.wait_for_url(f"{live_url}/tasks/tsk_*")
    disputed_task = page.url.rsplit("/", 1)[1]
    expect(page.locator(".widget[data-mode=read]")).to_have_count(2)
    expect(page.locator("body")).to_contain_text("ana.day")  # each annotation under its annotator
    expect(page.locator("body")).to_contain_text("ben.day")
    expect(page.locator(".widget .differs").first).to_be_visible()

    # Review: accept what everyone agreed on; correct Ben's answer on the split pair in its widget.
    page.goto(f"{live_url}/projects/{project_id}/review")
    page.click("#start-review")
    corrected = False
    for _ in range(8):
        review = page.locator("#review[data-annotation-id]")
        expect(review).to_be_visible()
        annotation_id = review.get_attribute("data-annotation-id")
        if annotation_id == bens["Question 2?"]:
            expect(page.locator(f"#review a[href='/tasks/{disputed_task}']")).to_have_count(1)  # the filtered one
            expect(page.locator("#review-compare article")).to_have_count(2)  # Ana's beside it
            page.check("#review-decision input[value=correct]")
            widget = page.locator("article.reviewed .widget[data-mode=correct]")
            expect(widget.locator("fieldset.widget-lock")).to_be_enabled()
            letter = widget.locator("section.response", has_text="Good answer 2").get_attribute("data-letter")
            widget.locator(f".pref-choice input[value='{letter}']").check()
            widget.locator(".pref-strength input[value=strong]").check()
            corrected = True
        else:
            page.check("#review-decision input[value=accept]")
        page.click("#review-form button[type=submit]")
        expect(page.locator(f"#review[data-annotation-id='{annotation_id}']")).to_have_count(0)
        if page.locator("#review-empty").count():
            break
    assert corrected, "Ben's answer on the split pair never came up for review"
    expect(page.locator("#review-empty")).to_be_visible()

    # Export DPO from the browser: the correction replaces Ben's answer on the split pair (uncorrected, its
    # row would prefer the poor reply), so every row prefers the good one.
    page.goto(f"{live_url}/projects/{project_id}")
    page.click("#export-link")
    dpo = page.locator("#format-dpo")
    dpo.locator("summary").click()
    dpo.locator("input[name=accepted_only]").check()  # reviewed work only: a correction replaces the answer
    with page.expect_download() as download:
        dpo.locator("button[type=submit]").click()
    with open(download.value.path(), "rb") as fh:
        exported = [orjson.loads(line) for line in fh.read().splitlines()]
    assert len(exported) == 8
    for row in exported:
        assert row["chosen"][-1]["content"].startswith("Good answer"), row
        assert row["rejected"][-1]["content"].startswith("Poor answer"), row
    expect(dpo.locator(".export-progress[data-status=complete]")).to_contain_text("8 rows", timeout=10_000)
