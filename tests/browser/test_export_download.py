"""Export from the browser: a preference project's DPO file downloads from its export page, with
the options chosen there, and the page shows the export finished with its signed manifest."""

from __future__ import annotations

import re

import orjson
from playwright.sync_api import expect

from bastion.services import annotations, imports, queue, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, open_project
from factories import as_user, make_project, make_user, system


def _pairs(rt, project_id: str, annotator_id: str, n: int) -> None:
    items = [
        (
            i + 1,
            {
                "data": {
                    "conversation": [{"role": "user", "content": f"Question {i}?"}],
                    "responses": [f"Good answer {i}", f"Poor answer {i}"],
                },
                "external_id": f"pair-{i}",
            },
        )
        for i in range(n)
    ]
    imports.import_tasks(system(rt), project_id, items)
    worker = as_user(rt, annotator_id)
    for i in range(n):
        task = queue.next_task(worker, project_id)
        strength = "slight" if i == 0 else "strong"
        annotations.submit_annotation(worker, task["id"], {"preferred": 0, "strength": strength})


def test_a_dpo_export_downloads_from_the_project_page(rt, live_url, page):
    owner = make_user(rt, "export.owner@example.com", password=PASSWORD)
    worker = make_user(rt, "export.worker@example.com")
    ws = workspaces.create_workspace(system(rt), "Prefs export", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, worker.id, "annotator")
    project = make_project(rt, ws.id, name="Pairs", config=dict(TEMPLATES["preference"], criteria=[]))
    _pairs(rt, project.id, worker.id, 3)

    login(page, live_url, owner.email)
    open_project(page, live_url, project.id)
    page.click("#export-link")
    expect(page.locator("h1")).to_contain_text("Export")
    dpo = page.locator("#format-dpo")
    dpo.locator("summary").click()
    dpo.locator("select[name=dpo_min_strength]").select_option("clear")  # the slight preference is left out
    dpo.locator("input[name=with_ids]").check()
    with page.expect_download() as download:
        dpo.locator("button[type=submit]").click()
    assert download.value.suggested_filename == f"{project.id}.dpo.jsonl"
    with open(download.value.path(), "rb") as fh:
        rows = [orjson.loads(line) for line in fh.read().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["chosen"][0]["content"].startswith("Good answer")
        assert row["rejected"][0]["content"].startswith("Poor answer")
        assert row["task_id"].startswith("tsk_")  # with ids, as chosen
    done = dpo.locator(".export-progress[data-status=complete]")
    expect(done).to_contain_text("2 rows", timeout=10_000)
    expect(done.locator("a")).to_have_attribute("href", re.compile(r"^/api/v1/exports/exp_[0-9a-f]+/manifest$"))
    expect(page.locator("#format-dpo .error")).to_have_count(0)
