"""Two owners in the browser: one asks for approval, the other sees the alert, approves, marks it read."""

from __future__ import annotations

from playwright.sync_api import expect

from bastion.services import workspaces
from browser_support import PASSWORD, login
from factories import make_user, system


def test_second_owner_approves_from_the_alert(rt, live_url, page):
    first = make_user(rt, "first.br@example.com", password=PASSWORD)
    second = make_user(rt, "second.br@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Approvals WS", owner=first.id)
    workspaces.add_member(system(rt), ws.id, second.id, "owner")

    login(page, live_url, "first.br@example.com")
    page.click(f"a[href='/workspaces/{ws.id}/approvals']")
    page.select_option("select[name=kind]", "keys.rotate")
    page.fill("input[name=reason]", "yearly rotation")
    page.click("text=Ask a second owner")
    expect(page.locator("#pending")).to_contain_text("keys.rotate")
    expect(page.locator("#pending")).to_contain_text("yours: another owner decides")

    page.context.clear_cookies()
    login(page, live_url, "second.br@example.com")
    expect(page.locator("#alerts")).to_contain_text("asks for approval of keys.rotate")
    page.click(f"a[href='/workspaces/{ws.id}/approvals']")
    page.click("#pending button[value=approve]")
    expect(page.locator("#decided")).to_contain_text("approved")
    page.goto(live_url + "/")
    page.click("text=Mark all read")
    expect(page.locator("#alerts")).to_have_count(0)
