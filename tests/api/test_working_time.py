"""Working time (docs/workforce.md, "Time"): the time claim check on every submit path (API, submit and
next, the labelling page), the paste record, the report per person, project and day, its flags, and who
may read it. The transaction clock (``storage.database.now_ms``) is moved by hand."""

from __future__ import annotations

import re

import pytest

from bastion.domain.errors import InvalidInput
from bastion.services import annotations, audit, imports, own_annotations, queue, tasks, time_report, users, workspaces
from bastion.services.annotations import CLAIM_TOLERANCE_MS
from bastion.storage import database
from bastion.storage.time_store import Timing
from factories import add_tasks, as_user, make_project, make_side, make_token, make_user, system

PASSWORD = "working time password"
HX = {"HX-Request": "true"}
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000


class Clock:
    def __init__(self) -> None:
        self.now = T0


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(database, "now_ms", lambda: c.now)
    return c


def _lease(client, side, role="annotator") -> str:
    r = client.post(f"/api/v1/projects/{side.project_id}/next", headers=side.headers(role))
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_a_submit_may_claim_no_more_time_than_its_lease_has_lasted(client, rt, clock):
    side = make_side(rt, "claim", n_tasks=4)
    ann = side.headers("annotator")
    task = _lease(client, side)
    clock.now += 5_000
    limit = 5_000 + CLAIM_TOLERANCE_MS
    url = f"/api/v1/tasks/{task}/annotations"
    r = client.post(url, headers=ann, json={"result": {"label": "pos"}, "lead_time_ms": limit + 1})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert message.startswith("lead_time_ms:") and str(limit) in message
    assert annotations.list_annotations(side.ctx(rt, "annotator"), task) == []  # nothing written
    r = client.post(url, headers=ann, json={"result": {"label": "pos"}, "lead_time_ms": limit})
    assert r.status_code == 201 and r.json()["lead_time_ms"] == limit

    # submit-and-next: the same rule; the next lease starts its own clock.
    task = _lease(client, side)
    clock.now += 2_000
    url = f"/api/v1/tasks/{task}/submit-and-next"
    r = client.post(url, headers=ann, json={"result": {"label": "neg"}, "lead_time_ms": 3_001})
    assert r.status_code == 422 and "lead_time_ms: at most 3000" in r.json()["error"]["message"]
    r = client.post(url, headers=ann, json={"result": {"label": "neg"}, "lead_time_ms": 3_000})
    assert r.status_code == 200
    following = r.json()["next"]["id"]
    r = client.post(
        f"/api/v1/tasks/{following}/annotations", headers=ann, json={"result": {"label": "pos"}, "lead_time_ms": 3_000}
    )
    assert r.status_code == 422  # this lease is a moment old: only the tolerance


def test_without_a_lease_only_the_tolerance_may_be_claimed(client, rt, clock):
    side = make_side(rt, "nolease", n_tasks=1)
    (task,) = [t["id"] for t in _tasks(rt, side)]
    mgr = side.headers("manager")  # may work without a lease
    url = f"/api/v1/tasks/{task}/annotations"
    r = client.post(url, headers=mgr, json={"result": {"label": "pos"}, "lead_time_ms": CLAIM_TOLERANCE_MS + 1})
    assert r.status_code == 422 and "no lease" in r.json()["error"]["message"]
    r = client.post(url, headers=mgr, json={"result": {"label": "pos"}, "lead_time_ms": CLAIM_TOLERANCE_MS})
    assert r.status_code == 201


def test_a_task_leased_again_counts_from_its_new_lease(rt, clock):
    """Undo leases the task again: an hour-old first lease gives the second answer no credit."""
    side = make_side(rt, "again", n_tasks=1)
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)["id"]
    clock.now += 3_600_000
    annotations.submit_annotation(worker, task, {"label": "pos"}, lead_time_ms=3_600_000)
    own_annotations.undo_last(worker, side.project_id)
    clock.now += 2_000
    with pytest.raises(InvalidInput, match="lead_time_ms: at most 3000 "):
        annotations.submit_annotation(worker, task, {"label": "neg"}, lead_time_ms=3_001)
    assert annotations.submit_annotation(worker, task, {"label": "neg"}, lead_time_ms=3_000)["lead_time_ms"] == 3_000


def _tasks(rt, side):
    return tasks.list_tasks(system(rt), side.project_id)["items"]


def _sign_in(client, rt, email):
    secret, csrf = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def test_the_labelling_page_refuses_a_longer_claim_and_records_pastes(client, rt, clock):
    owner = make_user(rt, "owner.page.time@example.com", password=PASSWORD)
    person = make_user(rt, "ann.page.time@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Page time", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, person.id, "annotator")
    project = make_project(rt, ws.id, name="Write", config={"type": "writing", "min_length": 2})
    imports.import_tasks(
        system(rt), project.id, [(1, {"data": {"conversation": [{"role": "user", "content": "Hi?"}]}})]
    )
    csrf = _sign_in(client, rt, person.email)
    start = client.post(f"/projects/{project.id}/next", data={"csrf_token": csrf}, headers=HX)
    task = re.search(r'data-task-id="(tsk_\w+)"', start.text).group(1)
    assert 'data-idle-after-s="60"' in start.text and 'name="lead_time_ms"' in start.text
    clock.now += 10_000
    form = {"csrf_token": csrf, "task_id": task, "text": "Hello", "paste_count": "2", "pasted_chars": "40"}
    r = client.post(f"/projects/{project.id}/label", data={**form, "lead_time_ms": "11001"})
    assert r.status_code == 422 and "lead_time_ms: at most 11000" in r.text
    assert annotations.list_annotations(as_user(rt, person.id), task) == []
    r = client.post(f"/projects/{project.id}/label", data={**form, "lead_time_ms": "soon"})
    assert r.status_code == 422 and "lead_time_ms: an integer" in r.text
    r = client.post(f"/projects/{project.id}/label", data={**form, "lead_time_ms": "9500"}, headers=HX)
    assert r.status_code == 200
    (mine,) = annotations.list_annotations(as_user(rt, person.id), task)
    assert mine["lead_time_ms"] == 9_500
    report = time_report.time_report(as_user(rt, owner.id), ws.id, since="2026-01-01", until="2026-01-01")
    (flag,) = report["flags"]
    assert (flag["annotation_id"], flag["reason"], flag["paste_count"], flag["pasted_chars"]) == (
        mine["id"],
        "pasted",
        2,
        40,
    )
    (row,) = report["rows"]
    assert (row["annotations"], row["active_ms"], row["pasted"], row["pasted_chars"]) == (1, 9_500, 1, 40)


def test_the_report_sums_per_person_project_and_day(rt, clock):
    side = make_side(rt, "sum", n_tasks=0, settings={"overlap": 3})
    second = make_project(rt, side.workspace_id, name="Second", settings={"overlap": 3})
    add_tasks(rt, side.project_id, 6, prefix="a")
    add_tasks(rt, second.id, 2, prefix="b")
    plan = [  # (person, project, day, lead)
        ("annotator", side.project_id, 0, 4_000),
        ("annotator", side.project_id, 0, 6_000),
        ("annotator", side.project_id, 0, 11_000),
        ("annotator", second.id, 0, 2_000),
        ("annotator", side.project_id, 1, 3_000),
        ("reviewer", side.project_id, 1, 7_000),
    ]
    for role, project, day, lead in plan:
        clock.now = T0 + day * DAY + 3_600_000
        task = queue.next_task(side.ctx(rt, role), project)["id"]
        clock.now += lead
        annotations.submit_annotation(side.ctx(rt, role), task, {"label": "pos"}, lead_time_ms=lead)
    ann, rev = side.users["annotator"], side.users["reviewer"]
    report = time_report.time_report(side.ctx(rt, "owner"), side.workspace_id, since="2026-01-01", until="2026-01-02")
    got = {
        (r["day"], r["project_id"], r["user_id"]): (r["annotations"], r["active_ms"], r["median_ms"])
        for r in report["rows"]
    }
    assert got == {
        ("2026-01-01", side.project_id, ann): (3, 21_000, 6_000),
        ("2026-01-01", second.id, ann): (1, 2_000, 2_000),
        ("2026-01-02", side.project_id, ann): (1, 3_000, 3_000),
        ("2026-01-02", side.project_id, rev): (1, 7_000, 7_000),
    }
    people = {p["user_id"]: (p["annotations"], p["active_ms"]) for p in report["people"]}
    assert people == {ann: (5, 26_000), rev: (1, 7_000)}
    medians = {p["project_id"]: (p["timed"], p["median_ms"], p["fast_below_ms"]) for p in report["projects"]}
    assert medians == {side.project_id: (5, 6_000, None), second.id: (1, 2_000, None)}  # too few for a fast flag
    # Filters: one day, one project, one person.
    one = time_report.time_report(
        side.ctx(rt, "owner"), side.workspace_id, since="2026-01-02", until="2026-01-02", user_id=rev
    )
    assert [(r["user_id"], r["active_ms"]) for r in one["rows"]] == [(rev, 7_000)]
    only = time_report.time_report(
        side.ctx(rt, "owner"), side.workspace_id, since="2026-01-01", until="2026-01-02", project_id=second.id
    )
    assert {r["project_id"] for r in only["rows"]} == {second.id}
    csv = time_report.report_csv(report)
    assert csv.splitlines()[0].startswith("day,project_id,project,user_id") and len(csv.splitlines()) == 5
    assert "pos" not in csv and "pos" not in str(report)  # never a result


def _timing(n: int, lead: int | None, *, user="usr_a", project="prj_a", pasted=None) -> Timing:
    return Timing(f"ann_{n:032x}", project, user, T0 + n, lead, 1 if pasted else None, pasted)


def test_fast_flags_need_a_median_of_enough_annotations_and_pasted_flags_any_paste():
    steady = [_timing(i, 10_000, user="usr_b") for i in range(time_report.MIN_FOR_MEDIAN - 1)]
    quick = _timing(100, 2_499)
    borderline = _timing(101, 2_500)  # exactly 25 %: not below
    first, last = time_report.span(T0, "2026-01-01", "2026-01-01")
    few = time_report.build_report(steady[1:] + [quick], first=first, last=last, projects={}, people={})
    assert few["flags"] == [] and few["projects"][0]["fast_below_ms"] is None  # 19 timed: no median to flag by
    rows = steady + [quick, borderline, _timing(102, None, pasted=12)]
    report = time_report.build_report(rows, first=first, last=last, projects={"prj_a": "A"}, people={"usr_a": "Ann"})
    assert report["projects"][0]["median_ms"] == 10_000 and report["projects"][0]["fast_below_ms"] == 2_500
    assert [(f["annotation_id"], f["reason"]) for f in report["flags"]] == [
        (quick.id, "fast"),
        (_timing(102, None).id, "pasted"),
    ]
    mine = next(r for r in report["rows"] if r["user_id"] == "usr_a")
    assert (mine["annotations"], mine["timed"], mine["fast"], mine["pasted"], mine["person"]) == (3, 2, 1, 1, "Ann")


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        ("2026-13-01", None, "from"),
        ("yesterday", None, "from"),
        (None, "2026-1-1", "to"),
        ("2026-01-02", "2026-01-01", "from"),
        ("2025-01-01", "2026-06-01", "to"),
    ],
)
def test_bad_days_are_refused_naming_the_field(since, until, field):
    with pytest.raises(InvalidInput, match=rf"^{field}:"):
        time_report.span(T0, since, until)


def test_who_may_read_the_time_report(client, rt):
    side = make_side(rt, "who", n_tasks=1)
    other = make_side(rt, "who2", n_tasks=1)
    wfm = make_user(rt, "wfm.who@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, wfm.id, "workforce_manager")
    url = f"/api/v1/workspaces/{side.workspace_id}/time"
    for role in ("owner", "manager"):
        assert client.get(url, headers=side.headers(role)).status_code == 200, role
    assert client.get(url, headers={"Authorization": f"Bearer {make_token(rt, wfm.id)}"}).status_code == 200
    for role in ("annotator", "reviewer", "auditor"):
        r = client.get(url, headers=side.headers(role))
        assert r.status_code == 403, role
    assert client.get(url, headers=other.headers("owner")).status_code == 404  # a foreign workspace
    r = client.get(url, headers=side.headers("owner"), params={"project": other.project_id})
    assert r.status_code == 404  # a foreign project
    r = client.get(url, headers=side.headers("owner"), params={"from": "soon"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("from:")
    r = client.get(url, headers=side.headers("owner"), params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    reads = [e for e in audit.list_entries(system(rt), side.workspace_id, limit=200)["items"]
             if e["action"] == "time.report_read"]  # fmt: skip
    assert len(reads) == 4 and {e["actor"] for e in reads} == {side.users["owner"], side.users["manager"], wfm.id}

    # The page: the same people.
    csrf = _sign_in(client, rt, wfm.email)
    assert csrf
    page = client.get(f"/workspaces/{side.workspace_id}/time")
    assert page.status_code == 200 and "Working time" in page.text
    assert client.get(f"/workspaces/{other.workspace_id}/time").status_code == 404
    assert 'href="/workspaces/' + side.workspace_id + '/time"' in client.get("/").text
    bad = client.get(f"/workspaces/{side.workspace_id}/time", params={"to": "later"})
    assert bad.status_code == 422 and "to: a day" in bad.text
    for role in ("annotator", "reviewer", "auditor"):
        person = make_user(rt, f"{role}.page.who@example.com", password=PASSWORD)
        workspaces.add_member(system(rt), side.workspace_id, person.id, role)
        _sign_in(client, rt, person.email)
        assert client.get(f"/workspaces/{side.workspace_id}/time").status_code == 403, role
        assert '/time"' not in client.get("/").text, role
