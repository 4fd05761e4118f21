"""Writing in Chromium: improve a draft and confirm the checklist, keyboard only; the SFT row loads as TRL expects."""

from __future__ import annotations

import orjson
from playwright.sync_api import expect

from bastion.services import exports, imports, workspaces
from bastion.services.exports import ExportRequest
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system


def test_write_an_answer_from_a_draft(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "SFT", owner=owner.id)
    project = make_project(
        rt,
        ws.id,
        name="Answers",
        config={"type": "writing", "min_length": 40, "checklist": ["No invented facts", "Answers every part"]},
    )
    draft = "Threads share memory; processes do not."
    imports.import_tasks(
        system(rt),
        project.id,
        [
            (
                1,
                {
                    "data": {"conversation": [{"role": "user", "content": "Process or thread for CPU-bound Python?"}]},
                    "predictions": [{"text": draft}],
                    "external_id": "w1",
                },
            )
        ],
    )

    login(page, live_url, "owner@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator("#answer")).to_have_value(draft)
    page.keyboard.press("e")
    page.keyboard.press("Control+End")
    page.keyboard.type("\nFor CPU-bound work use processes: the GIL lets one thread run Python at a time.")
    expect(page.locator("#answer-count")).not_to_have_class("short")
    page.keyboard.press("Escape")
    task_id = page.locator("#task").get_attribute("data-task-id")
    page.keyboard.press("Enter")  # the checklist is not confirmed: the browser holds the form, nothing is lost
    expect(page.locator("#answer")).to_have_value(
        draft + "\nFor CPU-bound work use processes: the GIL lets one thread run Python at a time."
    )
    expect(page.locator("#task")).to_have_attribute("data-task-id", task_id)
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    result = row["annotations"][0]["result"]
    final = draft + "\nFor CPU-bound work use processes: the GIL lets one thread run Python at a time."
    assert result["text"] == final and result["draft"] == draft
    assert "+For CPU-bound work use processes" in result["diff"]
    assert result["checklist"] == ["No invented facts", "Answers every part"]
    (sft,) = [
        orjson.loads(x)
        for x in b"".join(
            exports.start_export(system(rt), project.id, request=ExportRequest(fmt="sft")).chunks()
        ).splitlines()
    ]
    assert sft == {
        "messages": [
            {"role": "user", "content": "Process or thread for CPU-bound Python?"},
            {"role": "assistant", "content": final},
        ]
    }
