"""Pay from the browser: a workforce manager opens a person's statement, approves it, locks it and
downloads its CSV — whose rows are exactly the annotations the statement pays."""

from __future__ import annotations

import csv

from playwright.sync_api import expect

from bastion.services import annotations, pay, queue, reviews, workspaces
from browser_support import PASSWORD, login
from factories import add_tasks, as_user, make_project, make_user, system


def test_a_manager_approves_a_statement_and_downloads_its_csv(rt, live_url, page):
    owner = make_user(rt, "pay.owner@example.com")
    boss = make_user(rt, "pay.manager@example.com", password=PASSWORD)
    worker = make_user(rt, "pay.worker@example.com")
    reviewer = make_user(rt, "pay.reviewer@example.com")
    ws = workspaces.create_workspace(system(rt), "Pay lab", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, boss.id, "workforce_manager")
    workspaces.add_member(system(rt), ws.id, worker.id, "annotator")
    workspaces.add_member(system(rt), ws.id, reviewer.id, "reviewer")
    project = make_project(rt, ws.id, name="Triage", settings={"quality": {"review": "all"}})
    add_tasks(rt, project.id, 4)
    pay.set_settings(system(rt), ws.id, currency="EUR")
    pay.set_rate(system(rt), ws.id, task_type="classification", per_task=125, per_hour=1800, effective_from=0)
    made = []
    for ms in (60_000, 120_000, None):
        task = queue.next_task(as_user(rt, worker.id), project.id)
        made.append(
            annotations.submit_annotation(as_user(rt, worker.id), task["id"], {"label": "pos"}, lead_time_ms=ms)
        )
    held = reviews.review_next(as_user(rt, reviewer.id), project.id)
    rejected = held["annotation"]["id"]
    reviews.review_annotation(as_user(rt, reviewer.id), rejected, "reject", comment="off topic")
    statement = pay.create_statement(system(rt), ws.id, worker.id, 0, 10**13)

    login(page, live_url, boss.email)
    page.goto(f"{live_url}/workspaces/{ws.id}/pay")
    page.click(f"tr[data-statement='{statement['id']}'] a")
    expect(page.locator("#statement-status")).to_contain_text("draft")
    expect(page.locator("#lines tbody tr")).to_have_count(3)
    page.click("#approve")
    expect(page.locator("#statement-status")).to_have_text("approved")
    page.click("#lock")
    expect(page.locator("#statement-status")).to_have_text("locked")
    expect(page.locator("#approve")).to_have_count(0)
    with page.expect_download() as download:
        page.click("#download-csv")
    with open(download.value.path(), newline="") as fh:
        rows = list(csv.DictReader(fh))
    paid = [row for row in rows if row["kind"] in ("annotation", "rejected")]
    assert sorted(row["annotation_id"] for row in paid) == sorted(a["id"] for a in made)
    amounts = {row["annotation_id"]: int(row["amount"]) for row in paid}
    expected = {a["id"]: 125 + (a["lead_time_ms"] or 0) * 1800 // 3_600_000 for a in made}
    expected[rejected] = 0
    assert amounts == expected
    assert rows[-1]["kind"] == "total" and int(rows[-1]["amount"]) == sum(expected.values())
    assert all(row["status"] == "locked" for row in rows)
