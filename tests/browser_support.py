"""What the browser tests share: the people's password and signing in through the login page."""

from __future__ import annotations

PASSWORD = "browser-test-password"


def login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def start_labelling(page, base: str, project_id: str) -> None:
    """Open the labelling page and press Start with the keyboard (a page view leases nothing; Start is a POST)."""
    page.goto(f"{base}/projects/{project_id}/label")
    page.keyboard.press("Enter")
    page.wait_for_selector("#task[data-task-id]")


def open_project(page, base: str, project_id: str) -> None:
    """The project page; a first visit shows the Open button instead (a page view binds nobody), pressed here."""
    page.goto(f"{base}/projects/{project_id}")
    if page.locator("#open-workspace").count():
        page.click("#open-workspace")
        page.wait_for_selector("dl.counts")
