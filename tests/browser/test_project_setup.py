"""A data lead sets a project up in the browser, no CLI: a config typed from scratch, checked as it is
typed (an error shown with its path, then fixed), a live preview that follows it; then settings, and a
member added by e-mail."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from bastion.services import projects, workspaces
from browser_support import PASSWORD, login
from factories import make_user, system

WITH_ERROR = {"type": "classification", "labels": ["yes", {"value": "no", "hotkey": "s"}]}
FIXED = {"type": "classification", "labels": ["yes", {"value": "no", "hotkey": "n"}], "instructions": "Is it **spam**?"}
MORE = {**FIXED, "labels": [*FIXED["labels"], {"value": "unsure", "hotkey": "u"}]}


def test_owner_sets_up_a_project_from_scratch(rt, live_url, page):
    owner = make_user(rt, "lead.setup@example.com", password=PASSWORD)
    expert = make_user(rt, "expert.setup@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Setup Client", owner=owner.id)

    login(page, live_url, owner.email)
    page.click(f"section[data-workspace='{ws.id}'] a.new-project-link")
    expect(page.locator("h1")).to_have_text("New project")
    page.fill("#project-name", "Spam or not")

    # A config with an error: the check names its path; nothing previews yet.
    page.fill("#config-text", json.dumps(WITH_ERROR, indent=2))
    problems = page.locator("#config-problems")
    expect(problems).to_contain_text("labels[1].hotkey")
    expect(problems).to_contain_text("reserved")
    expect(page.locator("#config-preview")).not_to_contain_text("Choose one")

    # Fixed: valid, and the widget previews on a sample item, its submit disabled.
    page.fill("#config-text", json.dumps(FIXED, indent=2))
    expect(page.locator("#config-valid")).to_be_visible()
    preview = page.locator("#config-preview")
    expect(preview).to_contain_text("Choose one")
    expect(preview.locator("input[value=no]")).to_have_count(1)
    expect(preview.locator("strong")).to_have_text("spam")
    expect(preview.locator("button:has-text('Submit')")).to_be_disabled()

    # The preview follows the config.
    page.fill("#config-text", json.dumps(MORE, indent=2))
    expect(preview.locator("input[value=unsure]")).to_have_count(1)

    page.click("#create-project")
    page.wait_for_url(f"{live_url}/projects/*")
    project_id = page.url.rsplit("/", 1)[1]
    if page.locator("#open-workspace").count():  # the first look at the client's data is a deliberate POST
        page.click("#open-workspace")
    page.click("#settings-link")
    expect(page.locator("h1")).to_contain_text("Settings")

    # A bad value is named beside its field and saves nothing; a good one saves.
    page.fill("#f-overlap", "2")
    page.fill("#f-quality-gold_rate", "2")
    page.click("#save-settings")
    expect(page.locator("#settings-problems")).to_contain_text("quality.gold_rate")
    expect(page.locator("#e-quality-gold_rate")).to_contain_text("Gold rate")
    page.fill("#f-quality-gold_rate", "0.1")
    page.select_option("#f-quality-review", "all")
    page.click("#save-settings")
    expect(page.locator("#saved")).to_have_text("Settings saved.")
    settings = projects.get_project(system(rt), project_id).settings
    assert (settings.overlap, settings.quality.gold_rate, settings.quality.review) == (2, 0.1, "all")

    # Members: add an existing account by e-mail.
    page.goto(f"{live_url}/")
    page.click(f"section[data-workspace='{ws.id}'] a.members-link")
    page.fill("#member-email", expert.email)
    page.select_option("#member-role", "annotator")
    page.click("#add-member-button")
    expect(page.locator("#saved")).to_have_text("Member added.")
    expect(page.locator("#members")).to_contain_text(expert.email)
    roles = {m.email: m.role.value for m in workspaces.list_members(system(rt), ws.id)}
    assert roles[expert.email] == "annotator"
