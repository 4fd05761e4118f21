"""axe-core on every page type, in the light and the dark colour scheme: no serious or critical violation.

The pages are enumerated from the app's routes (``page_gets``), so a page added tomorrow is
checked the day it lands: its path parameters are filled from the ids of the world below (a
parameter with no id fails the test, naming it). Some pages are visited in several states
(the labelling page holding a task of each task type, a Start button and "All done"; the review
page holding an annotation; the error pages; the first-access page; the login page with an
error), each with real content from the demo's projects.

axe-core comes from the npm registry, never from this repository: ``BASTION_AXE_JS`` names its
``axe.min.js`` (.ci/run installs a pinned version). Without it the test skips with the reason,
except under ``CI=true``, where it fails. The script is added as an init script (the DevTools
protocol's, which the page's strict CSP does not apply to), so the pages are checked under
their real CSP, and any CSP error still fails the test through the ``page`` fixture.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from bastion.demo import setup_demo
from bastion.services import (
    annotations,
    approvals,
    credentials,
    exports,
    guidelines,
    jobs,
    labelling,
    pay,
    projects,
    questions,
    queue,
    reviews,
    tasks,
    workforce,
    workspaces,
)
from bastion.storage.database import now_ms
from bastion.tasktypes import installed
from browser_support import PASSWORD, login
from environment import IN_CI
from factories import add_tasks, as_user, make_project, make_user, system
from page_routes import page_gets

AXE_VERSION_HINT = "npm install --prefix .ci-axe axe-core@4.10.3"
FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source() -> str:
    path = os.environ.get("BASTION_AXE_JS", "")
    if not path or not Path(path).is_file():
        reason = f"BASTION_AXE_JS is not set to axe-core's axe.min.js ({AXE_VERSION_HINT}; .ci/run does it)"
        if IN_CI:
            pytest.fail(f"CI must run the accessibility tests: {reason}")
        pytest.skip(reason)
    return Path(path).read_text()


@pytest.fixture
def page(browser):
    """As conftest's ``page``, except that the error pages' own status (401, 403, 404), which Chromium
    logs to the console, is expected here; every other console error (CSP included) fails the test."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    expected = re.compile(r"Failed to load resource: the server responded with a status of (40[134]|422)")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" and not expected.search(msg.text) else None,
    )
    yield page
    context.close()
    assert not errors, f"browser errors (CSP violations show up here too): {errors}"


@dataclass
class Visit:
    """One page in one state, seen by one person (None: signed out)."""

    name: str
    url: str
    who: str | None
    shows: str | None = None  # a selector the page must show in this state (so the state checked is the one meant)
    then: str | None = None  # an action before the check: "submit-empty" presses Submit with nothing chosen


@dataclass
class World:
    ids: dict[str, str]
    people: dict[str, str]  # name -> e-mail
    visits: list[Visit] = field(default_factory=list)


def _world(rt) -> World:
    """The demo (a project of each task type, with its items and images), and around it: annotations
    to agree on and review, a competing workspace behind a wall, a pending approval, an alert."""
    sys = system(rt)
    setup_demo(rt)
    # The demo's workspace with a project of every task type (it may hold other workspaces besides).
    kinds = {
        ws.id: {p.task_type: p for p in projects.list_projects(sys, ws.id)} for ws in workspaces.list_workspaces(sys)
    }
    demo = next(ws for ws in workspaces.list_workspaces(sys) if ws.id == max(kinds, key=lambda ws: len(kinds[ws])))
    demo_projects = kinds[demo.id]
    assert set(demo_projects) >= set(installed().names()), sorted(demo_projects)
    lead = make_user(rt, "lead.a11y@example.com", admin=True, password=PASSWORD)
    newcomer = make_user(rt, "newcomer.a11y@example.com", password=PASSWORD)
    co_owner = make_user(rt, "co-owner.a11y@example.com")
    workspaces.add_member(sys, demo.id, lead.id, "owner")
    workspaces.add_member(sys, demo.id, co_owner.id, "owner")

    # Two annotators disagree on a few requests, with review on: figures for quality, items for review.
    reviewed = make_project(
        rt,
        demo.id,
        name="Reviewed requests",
        settings={"overlap": 2, "quality": {"review": "all"}},
        config={"type": "classification", "field": "text", "labels": ["coding", "math", "writing"]},
    )
    add_tasks(rt, reviewed.id, 6, prefix="Explain how to sort a list in Python, request")
    for n in range(2):
        annotator = make_user(rt, f"annotator{n}.a11y@example.com")
        workspaces.add_member(sys, demo.id, annotator.id, "annotator")
        worker = as_user(rt, annotator.id)
        for i in range(5):
            task = queue.next_task(worker, reviewed.id)
            assert task is not None
            annotations.submit_annotation(worker, task["id"], {"label": ["coding", "math", "writing"][(i + n) % 3]})
    lead_ctx = as_user(rt, lead.id)
    held = reviews.review_next(lead_ctx, reviewed.id)  # the review page shows the annotation held
    assert held is not None

    # The labelling page holds a task of each type.
    for project in demo_projects.values():
        assert queue.next_task(lead_ctx, project.id) is not None

    # A competitor behind a wall: the lead (bound to the demo) is refused it; the newcomer has opened neither.
    rival = workspaces.create_workspace(sys, "Rival Lab", owner=make_user(rt, "rival.owner@example.com").id)
    rival_project = make_project(rt, rival.id, name="Rival triage")
    add_tasks(rt, rival_project.id, 2, prefix="rival request")
    workforce.add_conflict(lead_ctx, demo.id, rival.id)
    for person in (lead, newcomer):
        workspaces.add_member(sys, rival.id, person.id, "annotator")
    workspaces.add_member(sys, demo.id, newcomer.id, "annotator")

    # A request for approval by another owner: pending on the approvals page, an alert on the lead's home.
    pending = approvals.request(as_user(rt, co_owner.id), demo.id, "keys.rotate", {}, "yearly rotation")

    # Credentials: a member's NDA on the credentials page; a project requiring one the lead lacks (its refusal).
    credentials.add_credential(
        sys,
        co_owner.email,
        kind="nda",
        name="Demo NDA",
        issuer="Demo Legal",
        workspace_id=demo.id,
        expires_at=now_ms() + 30 * 24 * 3600 * 1000,
    )
    needs_nda = make_project(
        rt, demo.id, name="NDA only", settings={"required_credentials": [{"kind": "nda", "name": "Demo NDA"}]}
    )
    add_tasks(rt, needs_nda.id, 1, prefix="NDA request")

    # A job with its progress bar (a reindex of the reviewed project, queued: the page polls while it waits).
    jobs.submit(lead_ctx, demo.id, "search.reindex", {"project_id": reviewed.id})

    # The lead's own annotation (their list, its edit page), a question to answer, and a finished export.
    own_task = queue.next_task(lead_ctx, reviewed.id)
    assert own_task is not None
    own = annotations.submit_annotation(lead_ctx, own_task["id"], {"label": "math"})
    asker = make_user(rt, "asker.a11y@example.com")
    workspaces.add_member(sys, demo.id, asker.id, "annotator")
    asked = queue.next_task(as_user(rt, asker.id), demo_projects["classification"].id)
    assert asked is not None
    labelling.ask_view(
        as_user(rt, asker.id),
        demo_projects["classification"].id,
        asked["id"],
        "Is sarcasm negative?",
        keep_lease=True,
    )
    export = exports.start_export(lead_ctx, reviewed.id, fmt="jsonl")
    b"".join(export.chunks())
    # Guidelines: two versions on the reviewed project (written by the lead, who has read them), and a project
    # whose guidelines the lead has not acknowledged yet (the labelling page waits for them); an answered question.
    rules = "# How to label\n\nPick **coding** for code, **math** for sums.\n\n- Be brief.\n- Ask when unsure.\n"
    guidelines.create_version(lead_ctx, reviewed.id, rules)
    guidelines.create_version(lead_ctx, reviewed.id, rules + "\n## FAQ\n\n**Q:** Proofs?\n\n**A:** math.\n")
    guided = make_project(rt, demo.id, name="Guided requests")
    add_tasks(rt, guided.id, 2, prefix="Explain recursion, request")
    guidelines.create_version(as_user(rt, co_owner.id), guided.id, rules)
    answered = labelling.ask_view(
        as_user(rt, asker.id), demo_projects["classification"].id, asked["id"], "And irony?", keep_lease=True
    )
    assert answered.task is not None
    second = [q for q in questions.my_questions(as_user(rt, asker.id), demo_projects["classification"].id)][0]
    questions.answer_question(lead_ctx, demo_projects["classification"].id, second["id"], "Negative too.")

    # A pay statement of the last annotator, with a line per annotation (a draft, computed when shown).
    pay.set_settings(sys, demo.id, currency="EUR", bonus_threshold=0.9, bonus_amount=500)
    pay.set_rate(sys, demo.id, task_type="classification", per_task=120, per_hour=1800, effective_from=0)
    statement = pay.create_statement(sys, demo.id, annotator.id, 0, 10**13)

    # The ids a route's parameters are filled with, all of one project (annotated, reviewed, with figures).
    a_task = tasks.list_tasks(lead_ctx, reviewed.id, limit=1)["items"][0]
    ids = {
        "workspace_id": demo.id,
        "project_id": reviewed.id,
        "task_id": a_task["id"],
        "annotation_id": own["id"],
        "export_id": export.id,
        "user_id": newcomer.id,
        "approval_id": pending["id"],
        "provider": "no-such-provider",  # single sign-on's callback: the sign-in page with the reason
        "statement_id": statement["id"],
    }
    # A workforce manager of the demo: the dashboard without any content.
    people_manager = make_user(rt, "workforce.a11y@example.com", password=PASSWORD)
    workspaces.add_member(sys, demo.id, people_manager.id, "workforce_manager")
    world = World(ids, {"lead": lead.email, "newcomer": newcomer.email, "workforce": people_manager.email})
    label, review = "#task[data-task-id]", "#review[data-annotation-id]"
    classification, spans = demo_projects["classification"].id, demo_projects["spans"].id
    world.visits += [
        Visit(f"label: {kind}", f"/projects/{p.id}/label", "lead", label) for kind, p in sorted(demo_projects.items())
    ]
    world.visits += [
        Visit("label: an answer refused", f"/projects/{classification}/label", "lead", label, "submit-empty"),
        Visit("label: all done", f"/projects/{reviewed.id}/label?finished=1", "lead", "#queue-empty"),
        Visit("label: start", f"/projects/{reviewed.id}/label", "lead", "#start"),
        Visit("review: an annotation held", f"/projects/{reviewed.id}/review", "lead", review),
        Visit("review: start", f"/projects/{spans}/review", "lead", "#start-review"),
        Visit("review: off here", f"/projects/{spans}/review?finished=1", "lead", "#review-off"),
        Visit("review: nothing waits", f"/projects/{reviewed.id}/review?finished=1", "lead", "#review, #review-empty"),
        Visit("quality: agreement and review figures", f"/projects/{reviewed.id}/quality", "lead", "table.confusion"),
        Visit("data browser: reviewed", f"/projects/{reviewed.id}/tasks", "lead", "#task-table"),
        Visit(
            "walls: a decision explained",
            f"/workspaces/{demo.id}/walls?person={newcomer.email}",
            "lead",
            "#explanation",
        ),
        Visit("people", "/people", "lead", "#people"),
        Visit("credentials: a member's NDA", f"/workspaces/{demo.id}/credentials", "lead", "#credentials"),
        Visit("label: a credential required", f"/projects/{needs_nda.id}/label", "lead", "main h1 >> text=Not allowed"),
        Visit("workforce: a workspace", f"/workspaces/{demo.id}/workforce", "lead", "table.active-now"),
        Visit("workforce: every workspace", "/workforce", "workforce", "table.people"),
        Visit("workforce: none managed", "/workforce", "newcomer", "main h1"),
        Visit("home: alerts", "/", "lead", "#alerts"),
        Visit("approvals: one pending", f"/workspaces/{demo.id}/approvals", "lead", "#pending"),
        Visit("jobs: one queued", f"/workspaces/{demo.id}/jobs", "lead", "#job-table"),
        Visit("working time: a day's rows", f"/workspaces/{demo.id}/time", "lead", "#time-people, #time-rows"),
        Visit("pay: statements and rates", f"/workspaces/{demo.id}/pay", "lead", "#statements"),
        Visit("pay statement: a draft with its lines", f"/pay-statements/{statement['id']}", "lead", "#lines"),
        Visit("error 403: walled off", f"/projects/{rival_project.id}", "lead", "main h1 >> text=Not allowed"),
        Visit("error 404", "/projects/prj_00000000000000000000000000", "lead", "main h1 >> text=Not found"),
        Visit("home: a newcomer choosing a side", "/", "newcomer", "section.card .wall-note"),
        Visit("first access", f"/projects/{rival_project.id}", "newcomer", "#first-access"),
        Visit("label: first access", f"/projects/{classification}/label", "newcomer", "#start-form p.muted"),
        Visit("login: an error", "/login", None, "form", "login-wrong"),
        Visit("questions: one to answer", f"/projects/{classification}/questions", "lead", "form"),
        Visit(
            "questions: answered, with the FAQ form",
            f"/projects/{classification}/questions?state=answered",
            "lead",
            "details.promote",
        ),
        Visit("label: new guidelines to acknowledge", f"/projects/{guided.id}/label", "lead", "#acknowledge-form"),
        Visit("guidelines: a version to acknowledge", f"/projects/{guided.id}/guidelines", "lead", "#guidelines-owed"),
        Visit("guidelines: read", f"/projects/{reviewed.id}/guidelines", "lead", "#guidelines-body"),
        Visit(
            "guidelines: the change", f"/projects/{reviewed.id}/guidelines/diff?from=1&to=2", "lead", "ins.diff-added"
        ),
        Visit("guidelines: write the next", f"/projects/{reviewed.id}/guidelines/edit", "lead", "#guidelines-form"),
        Visit("mine: the lead's annotations", f"/projects/{reviewed.id}/mine", "lead", "table, ol, ul"),
        Visit("task page: annotations in their widgets", f"/tasks/{own_task['id']}", "lead", ".widget"),
    ]
    world.visits += [
        Visit(f"quality: {kind}", f"/projects/{p.id}/quality", "lead", "#agreement")
        for kind, p in sorted(demo_projects.items())
    ]
    return world


def _route_visits(app, world: World) -> list[Visit]:
    """Every page GET route, its parameters filled from the world's ids (the lead sees it; /login signed out)."""
    out = []
    for path in page_gets(app):
        url = path
        for name in re.findall(r"{(\w+)}", path):
            assert name in world.ids, f"no id for the path parameter {name} of {path}: add one to this test's world"
            url = url.replace("{" + name + "}", world.ids[name])
        out.append(Visit(f"route {path}", url, None if path == "/login" else "lead"))
    return out


def _check(page, base: str, visit: Visit, scheme: str) -> list[str]:
    try:
        response = page.goto(base + visit.url)
    except PlaywrightError as exc:
        if "Download is starting" in str(exc):
            return []  # a file to save (an export), not a page
        raise
    assert response is not None
    if "text/html" not in response.headers.get("content-type", ""):
        return []  # /healthz and the like: not a page
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
    if visit.shows:
        assert page.locator(visit.shows).count(), f"{visit.name}: {visit.url} does not show {visit.shows}"
    if visit.then == "submit-empty":
        page.click("#label-form button[type=submit]")
        page.wait_for_selector("#task p.error")
    elif visit.then == "login-wrong":
        page.fill("input[name=email]", "nobody@example.com")
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        page.wait_for_selector("p.error")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for v in result["violations"]:
        if v["impact"] in FAILING_IMPACTS:
            where = "; ".join(
                " ".join(n["target"]) + ": " + n.get("failureSummary", "").replace("\n", " ") for n in v["nodes"][:4]
            )
            found.append(f"{visit.name} ({visit.url}): {v['impact']} {v['id']}: {v['help']} — {where}")
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_has_no_serious_accessibility_violation(rt, live_url, page, axe_source, scheme):
    from bastion.web.app import create_app

    world = _world(rt)
    visits = _route_visits(create_app(rt), world) + world.visits
    page.emulate_media(color_scheme=scheme)
    page.add_init_script(script=axe_source)
    problems: list[str] = []
    signed_in = None
    for visit in visits:
        if visit.who != signed_in:
            page.context.clear_cookies()
            if visit.who:
                login(page, live_url, world.people[visit.who])
            signed_in = visit.who
        problems += _check(page, live_url, visit, scheme)
        if visit.then == "login-wrong":
            signed_in = None
    assert not problems, f"{len(problems)} serious or critical accessibility violations ({scheme}):\n" + "\n".join(
        problems
    )
