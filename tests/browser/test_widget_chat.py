"""Chat in Chromium: three turns with two models side by side (tests/model_server.py), a pick each turn, one
reply rewritten, a reload in the middle, submitted from the keyboard; the DPO and SFT exports load with
``datasets`` in TRL's conversational forms."""

from __future__ import annotations

import json

import orjson
import pytest
from playwright.sync_api import expect

from bastion.services import exports, imports, model_endpoints, workspaces
from bastion.services.exports import ExportRequest
from browser_support import PASSWORD, login, start_labelling
from factories import as_user, make_project, make_user, system
from model_server import model_server, reply_for, served  # noqa: F401  (fixtures)
from trl_formats import check_trl_conversational

OPENING = "Name a prime number."


def test_three_turns_with_two_models(rt, live_url, page, served, tmp_path):
    datasets = pytest.importorskip("datasets")

    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ann = make_user(rt, "ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Chats", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    ids = [
        model_endpoints.create_endpoint(
            as_user(rt, owner.id),
            ws.id,
            name=name,
            base_url=served.url(),
            default_model=name,
            allowed_hosts=[f"127.0.0.1:{served.port}"],
        )["id"]
        for name in ("lab-7b", "vendor-x")
    ]
    config = {
        "type": "chat",
        "models": [{"endpoint": ids[0], "label": "Lab"}, {"endpoint": ids[1], "label": "Vendor"}],
        "max_turns": 3,
        "criteria": ["correct", "concise"],
    }
    project = make_project(rt, ws.id, name="Talk", config=config)
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"prompt": OPENING}, "external_id": "c1"})])

    login(page, live_url, "ann@example.com")
    start_labelling(page, live_url, project.id)
    box = page.locator(".chatw-input")
    expect(box).to_have_value(OPENING)
    expected_first = reply_for("lab-7b", [{"role": "user", "content": OPENING}])

    # turn 1: send from the keyboard, both replies stream in; B is much better for being correct
    page.keyboard.press("m")
    page.keyboard.press("Control+Enter")
    turns = page.locator(".chatw-turn")
    expect(turns).to_have_count(1)
    expect(turns.nth(0).locator(".chatw-reply").nth(0)).to_have_text(expected_first)
    expect(turns.nth(0).locator(".chatw-choice")).to_be_visible()
    page.keyboard.press("b")
    page.keyboard.press("3")
    page.keyboard.press("Shift+Digit1")
    expect(turns.nth(0).locator(".chatw-criteria input").nth(0)).to_be_checked()

    # the draft is the server's: a reload continues it, judgements included
    # saved a moment after the last change: the widget says when the server has them (not a fixed wait,
    # which a loaded machine outruns — and a change made during a save used to be dropped)
    expect(page.locator(".chatw[data-saving]")).to_have_count(0, timeout=15_000)
    page.reload()
    expect(page.locator(".chatw-turn")).to_have_count(1)
    expect(page.locator(".chatw-turn").nth(0).locator('.chatw-choice input[value="1"]')).to_be_checked()
    expect(page.locator('.chatw-strength input[value="much"]')).to_be_checked()

    # turn 2: A, slightly; rewrite A's reply (R), which the models then see
    box.fill("And an even one?")
    box.press("Control+Enter")
    expect(turns).to_have_count(2)
    expect(turns.nth(1).locator(".chatw-choice")).to_be_visible()
    page.keyboard.press("a")
    page.keyboard.press("1")
    page.keyboard.press("r")
    rewrite = turns.nth(1).locator(".chatw-rewrite-text").nth(0)
    expect(rewrite).to_be_focused()
    rewrite.fill("2 is the only even prime.")
    page.keyboard.press("Escape")

    # turn 3: a tie
    box.fill("Thanks!")
    box.press("Control+Enter")
    expect(turns).to_have_count(3)
    expect(turns.nth(2).locator(".chatw-choice")).to_be_visible()
    page.keyboard.press("t")
    sent = served.requests[-1]["body"]["messages"]
    assert {"role": "assistant", "content": "2 is the only even prime."} in sent
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    result = row["annotations"][0]["result"]
    assert [t["user"] for t in result["turns"]] == [OPENING, "And an even one?", "Thanks!"]
    assert [t["choice"]["preferred"] for t in result["turns"]] == [1, 0, "tie"]
    assert result["turns"][0]["choice"] == {"preferred": 1, "strength": "much", "criteria": ["correct"]}
    assert result["turns"][1]["rewrite"] == {"reply": 0, "content": "2 is the only even prime."}
    assert result["turns"][0]["replies"][0]["content"] == expected_first

    def rows(fmt):
        body = b"".join(exports.start_export(system(rt), project.id, request=ExportRequest(fmt=fmt)).chunks())
        return [orjson.loads(x) for x in body.splitlines()]

    (sft,) = rows("sft")
    dpo = rows("dpo")
    assert [m["role"] for m in sft["messages"]] == ["user", "assistant"] * 3
    assert sft["messages"][3]["content"] == "2 is the only even prime."
    assert len(dpo) == 3  # turn 1's pick, turn 2's pick and its rewrite (the tie makes none)
    assert dpo[1]["chosen"] == dpo[2]["chosen"] == [{"role": "assistant", "content": "2 is the only even prime."}]
    check_trl_conversational(sft, dpo)
    for name, data in (("sft", [sft]), ("dpo", dpo)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in data))
        assert datasets.load_dataset("json", data_files=str(path), split="train").num_rows == len(data)
