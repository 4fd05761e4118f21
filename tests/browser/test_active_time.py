"""The labelling page's active time (static/activetime.js, docs/workforce.md "Time"): hidden time and time
past the idle gap do not count, the measure goes with the submit, the server refuses a claim longer than
the lease has lasted, and a paste into a writing task is recorded (never blocked).

The page's clock is Playwright's (``page.clock``): paused and moved by hand, so the counts are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from playwright.sync_api import expect

from bastion.services import annotations, imports, time_report, workspaces
from browser_support import PASSWORD, login, start_labelling
from factories import add_tasks, as_user, make_project, make_user, system

HIDE = (
    "hidden => { Object.defineProperty(document, 'visibilityState', {configurable: true, "
    "get: () => hidden ? 'hidden' : 'visible'}); document.dispatchEvent(new Event('visibilitychange')); }"
)


def _pause(page) -> None:
    """Stop the page's clock a second ahead of where it is."""
    page.clock.pause_at(datetime.fromtimestamp(page.evaluate("Date.now()") / 1000 + 1, tz=UTC))


def _posted(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.post_data or "", keep_blank_values=True).items()}


def test_hidden_and_idle_time_do_not_count_and_a_longer_claim_than_the_lease_is_refused(rt, live_url, page):
    owner = make_user(rt, "time.owner@example.com", password=PASSWORD)
    annotator = make_user(rt, "time.ann@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Time WS", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, annotator.id, "annotator")
    project = make_project(rt, ws.id, name="Timed", settings={"idle_after_s": 10})
    add_tasks(rt, project.id, 3)

    page.clock.install()
    login(page, live_url, "time.ann@example.com")
    start_labelling(page, live_url, project.id)
    expect(page.locator("#label-form")).to_have_attribute("data-idle-after-s", "10")
    _pause(page)
    page.mouse.move(10, 10)
    page.mouse.move(20, 20)
    before = page.evaluate("window.bastionActiveTime()")
    page.clock.run_for(4_000)  # active: 4 s
    page.evaluate(HIDE, True)
    page.clock.run_for(60_000)  # hidden: nothing
    page.evaluate(HIDE, False)  # coming back counts as input
    page.clock.run_for(30_000)  # no input: only the idle gap (10 s) counts
    assert page.evaluate("window.bastionActiveTime()") - before == 14_000

    # ~15 s of active time on a lease a moment old: the server refuses it, nothing is written.
    task_id = page.locator("#task").get_attribute("data-task-id")
    page.clock.resume()
    page.keyboard.press("1")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/label")) as posted:
        page.keyboard.press("Enter")
    claimed = int(_posted(posted.value)["lead_time_ms"])
    assert claimed >= 14_000
    expect(page.locator("#task p.error")).to_contain_text("lead_time_ms: at most")
    assert page.locator("#task").get_attribute("data-task-id") == task_id
    assert annotations.list_annotations(as_user(rt, annotator.id), task_id) == []

    # A fresh page starts from nothing: ten minutes hidden, a moment visible — accepted, the hidden time left out.
    page.reload()
    expect(page.locator("#task")).to_have_attribute("data-task-id", task_id)
    _pause(page)
    page.mouse.move(30, 30)
    before = page.evaluate("window.bastionActiveTime()")
    page.evaluate(HIDE, True)
    page.clock.run_for(600_000)
    page.evaluate(HIDE, False)
    page.clock.run_for(300)
    measured = page.evaluate("window.bastionActiveTime()")
    assert measured - before == 300
    page.clock.resume()
    page.keyboard.press("1")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/label")) as posted:
        page.keyboard.press("Enter")
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", task_id)
    sent = _posted(posted.value)
    (stored,) = annotations.list_annotations(as_user(rt, annotator.id), task_id)
    assert stored["lead_time_ms"] == int(sent["lead_time_ms"])
    assert measured <= stored["lead_time_ms"] < 60_000  # not the 600 s it was hidden
    assert sent["paste_count"] == "0" and sent["pasted_chars"] == "0"


def test_a_paste_into_a_writing_task_is_recorded_and_kept(rt, live_url, page):
    owner = make_user(rt, "paste.owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Paste WS", owner=owner.id)
    project = make_project(rt, ws.id, name="Write", config={"type": "writing", "min_length": 5})
    imports.import_tasks(
        system(rt),
        project.id,
        [(1, {"data": {"conversation": [{"role": "user", "content": "Say hello."}]}, "external_id": "p1"})],
    )
    login(page, live_url, "paste.owner@example.com")
    start_labelling(page, live_url, project.id)
    task_id = page.locator("#task").get_attribute("data-task-id")
    answer = page.locator("#answer")
    answer.click()
    answer.evaluate(
        "el => { const dt = new DataTransfer(); dt.setData('text/plain', 'Hello from elsewhere');"
        " el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true})); }"
    )
    page.keyboard.type("Hello there")
    expect(answer).to_have_value("Hello there")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task")).not_to_have_attribute("data-task-id", task_id)
    (mine,) = annotations.list_annotations(as_user(rt, owner.id), task_id)
    report = time_report.time_report(as_user(rt, owner.id), ws.id)
    (flag,) = report["flags"]
    assert flag["annotation_id"] == mine["id"] and flag["reason"] == "pasted"
    assert (flag["paste_count"], flag["pasted_chars"]) == (1, len("Hello from elsewhere"))
