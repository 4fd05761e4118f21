"""Ranking in Chromium: order four responses by pressing their numbers, best first."""

from __future__ import annotations

import orjson
from playwright.sync_api import expect

from bastion.services import exports, imports, workspaces
from bastion.services.exports import ExportRequest
from browser_support import PASSWORD, login, start_labelling
from factories import make_project, make_user, system


def test_order_four_responses_with_the_keyboard(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Ranks", owner=owner.id)
    project = make_project(rt, ws.id, name="Rank", config={"type": "ranking"})
    responses = ["Maple — warm, golden, easy to call.", "Dog.", "I can't choose names.", "Biscuit, Sunny or Honey."]
    imports.import_tasks(
        system(rt),
        project.id,
        [(1, {"data": {"prompt": "Name a golden retriever puppy", "responses": responses}, "external_id": "r1"})],
    )
    login(page, live_url, "owner@example.com")
    start_labelling(page, live_url, project.id)
    cards = page.locator(".rank-card")
    expect(cards).to_have_count(4)
    number_of = {
        int(cards.nth(i).get_attribute("data-index")): cards.nth(i).get_attribute("data-number") for i in range(4)
    }
    wanted = [0, 3, 1, 2]  # best first, as original indices
    page.keyboard.press("Enter")  # nothing ranked yet: the browser holds the form (every rank is required)
    expect(page.locator("select[name=rank_0]")).to_have_value("")
    expect(page.locator("#queue-empty")).to_have_count(0)
    for index in wanted[:3]:
        page.keyboard.press(number_of[index])
    expect(page.locator(".rank-card").first).to_have_attribute("data-index", "0")
    expect(page.locator("select[name=rank_2]")).to_have_value("4")  # the last one fell into place
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()

    (row,) = [orjson.loads(x) for x in b"".join(exports.start_export(system(rt), project.id).chunks()).splitlines()]
    result = row["annotations"][0]["result"]
    assert result["ranks"] == [1, 3, 4, 2]
    assert sorted(result["shown_order"]) == [0, 1, 2, 3]
    pairs = [
        orjson.loads(x)
        for x in b"".join(
            exports.start_export(system(rt), project.id, request=ExportRequest(fmt="dpo")).chunks()
        ).splitlines()
    ]
    assert len(pairs) == 6 and {p["chosen"] for p in pairs if p["rejected"] == responses[2]} == set(responses) - {
        responses[2]
    }
