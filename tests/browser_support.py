"""What the browser tests share: the people's password and signing in through the login page."""

from __future__ import annotations

PASSWORD = "browser-test-password"


def login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
