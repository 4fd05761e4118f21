"""Browser tests: Playwright driving Debian's Chromium (no browser downloads).

Marked ``browser``. They skip when Chromium or Playwright is missing — except
under ``CI=true``, where they must run.
"""

from __future__ import annotations

import os
import shutil

import pytest

from environment import IN_CI
from live_server import serving

CHROMIUM = os.environ.get("BASTION_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    problem = None
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        problem = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed (pip install '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the browser tests: {problem}")
        pytest.skip(problem)
    with sync_playwright() as p:
        args = [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def db_kind():
    return "sqlite"  # the browser journeys need one database; storage is covered on both elsewhere


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert not errors, f"browser errors (CSP violations show up here too): {errors}"


@pytest.fixture
def live_url(rt):
    with serving(rt) as url:
        yield url
