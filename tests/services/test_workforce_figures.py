"""The workforce dashboard on a controlled clock: who is active now, hourly throughput, quality per
person, the forecast with its interval, the earnings hook, the audit record and who may see it.

Time is the transaction clock (``storage.database.now_ms``), set by the ``clock`` fixture.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from bastion.domain.errors import NotFound, PermissionDenied
from bastion.services import annotations, dashboard, imports, queue, reviews, workspaces
from bastion.storage import schema
from factories import as_user, fold_audit, make_project, make_side, make_user, operator_tx, system

HOUR = 3600 * 1000
MINUTE = 60 * 1000
CANARY = "CANARY-dashboard-4f1e"


@pytest.fixture
def clock(monkeypatch):
    from bastion.storage import database

    class Clock:
        now = 1_800_000_000_000  # a fixed instant, whole minutes

    clock = Clock()
    monkeypatch.setattr(database, "now_ms", lambda: clock.now)
    return clock


def _entries(rt, ws, action):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaves = (
            tx.execute(select(schema.audit_events.c.leaf).where(schema.audit_events.c.workspace_id == ws))
            .scalars()
            .all()
        )
    return [e for e in map(orjson.loads, leaves) if e["action"] == action]


def _work(rt, ctx, project_id: str, label: str = "pos") -> str:
    task = queue.next_task(ctx, project_id)
    return annotations.submit_annotation(ctx, task["id"], {"label": label})["id"]


def _world(rt, clock):
    """A project made 60 hours ago with 10 tasks at overlap 2; one annotator's work spread over the
    window; a gold project with two gold answers (one right); reviews (one accepted, one rejected)."""
    t0 = clock.now
    clock.now = t0 - 60 * HOUR
    side = make_side(rt, "dash", n_tasks=0, settings={"overlap": 2, "quality": {"review": "all"}})
    items = [(i + 1, {"data": {"text": f"{CANARY} item {i}"}, "external_id": f"x{i}"}) for i in range(10)]
    imports.import_tasks(system(rt), side.project_id, items)
    gold = make_project(rt, side.workspace_id, name="Gold", settings={"overlap": 1, "quality": {"gold_rate": 1.0}})
    gold_items = [
        (i + 1, {"data": {"text": f"{CANARY} gold {i}"}, "gold": {"label": "pos"}, "external_id": f"g{i}"})
        for i in range(2)
    ]
    imports.import_tasks(system(rt), gold.id, gold_items)
    worker = side.ctx(rt, "annotator")
    clock.now = t0 - 50 * HOUR
    early = [_work(rt, worker, side.project_id) for _ in range(2)]
    clock.now = t0 - 3 * HOUR
    late = [_work(rt, worker, side.project_id) for _ in range(2)]
    clock.now = t0 - 2 * HOUR
    _work(rt, worker, gold.id, "pos")
    _work(rt, worker, gold.id, "neg")
    clock.now = t0 - 1 * HOUR
    reviewer = side.ctx(rt, "reviewer")
    for decision, comment in (("accept", None), ("reject", f"{CANARY} wrong")):
        item = reviews.review_next(reviewer, side.project_id)
        reviews.review_annotation(reviewer, item["annotation"]["id"], decision, comment=comment)
    clock.now = t0 - 5 * MINUTE
    _work(rt, worker, side.project_id)
    queue.next_task(worker, side.project_id)  # held at t0
    clock.now = t0
    return side, gold, early + late


def test_figures_on_a_controlled_clock(rt, clock):
    side, gold, _ = _world(rt, clock)
    t0 = clock.now
    found = dashboard.workspace_dashboard(side.ctx(rt, "manager"), side.workspace_id)
    assert found["generated_at"] == t0
    annotator = side.users["annotator"]

    # Active now: the annotator (a lease held, an annotation 5 minutes ago); nobody else.
    (active,) = found["active_now"]
    assert active["user_id"] == annotator and active["name"] == "annotator.dash@example.com"
    assert active["task_leases"] == 1 and active["review_leases"] == 0
    assert active["last_annotation_at"] == t0 - 5 * MINUTE
    assert [p["id"] for p in active["projects"]] == [side.project_id]

    # Throughput: 24 whole hours ending now; the last 3 hours hold 2, 2 (gold) and 1.
    tp = found["throughput"]
    assert tp["hours"] == 24 and len(tp["per_hour"]) == 24 and tp["hour_starts"][-1] == t0 - HOUR
    assert tp["per_hour"][-3:] == [2, 2, 1] and tp["total"] == 5 and sum(tp["per_hour"][:-3]) == 0
    by_project = {p["project_id"]: p for p in tp["per_project"]}
    assert by_project[side.project_id]["total"] == 3 and by_project[gold.id]["total"] == 2
    assert by_project[gold.id]["per_hour"][-2] == 2

    # Quality per person: gold 1 of 2 right (the quality report's Wilson figures), reviews 1 accepted 1 rejected.
    people = {p["user_id"]: p for p in found["people"]}
    me = people[annotator]
    assert me["annotations_24h"] == 5 and me["last_annotation_at"] == t0 - 5 * MINUTE
    assert me["gold"]["gold_answers"] == 2 and me["gold"]["accuracy"] == 0.5
    assert 0 < me["gold"]["low"] < 0.5 < me["gold"]["high"] < 1
    assert me["review"]["accepted"] == 1 and me["review"]["rejected"] == 1
    assert me["review"]["pending"] == 3  # the other answers wait for review
    assert me["review"]["acceptance_rate"] == 0.5 and me["review"]["rejection_rate"] == 0.5
    assert people[side.users["reviewer"]]["gold"] is None  # listed (a reviewer), nothing yet
    assert side.users["owner"] not in people and side.users["manager"] not in people

    # Forecast: 20 answers needed, 5 given, 1 rejected -> 16 to make; rate 5 regular answers over the
    # project's 60 hours (gold answers are not the project's work).
    fc = {f["project_id"]: f for f in found["forecast"]}
    main = fc[side.project_id]
    assert main["tasks"] == 10 and main["overlap"] == 2 and main["remaining_annotations"] == 16
    assert main["rate"]["hours"] == 60 and main["rate"]["annotations"] == 5
    assert main["rate"]["per_hour"] == pytest.approx(5 / 60, abs=1e-3)
    assert main["status"] == "forecast"
    assert main["eta"] == t0 + round(16 / (5 / 60) * HOUR)
    assert main["earliest"] < main["eta"]
    assert main["latest"] is None or main["latest"] > main["eta"]
    assert fc[gold.id]["status"] == "done" and fc[gold.id]["remaining_annotations"] == 0
    assert found["earnings_shown"] is False and me["earnings"] is None

    # Two hours on, nobody holds a lease or has annotated lately; the 24 hours slide with the clock.
    clock.now = t0 + 2 * HOUR
    later = dashboard.workspace_dashboard(side.ctx(rt, "manager"), side.workspace_id)
    assert later["active_now"] == []
    assert later["throughput"]["per_hour"][-5:] == [2, 2, 1, 0, 0]
    _work(rt, side.ctx(rt, "annotator"), side.project_id)  # made at the very instant the dashboard is read
    now = dashboard.workspace_dashboard(side.ctx(rt, "manager"), side.workspace_id)
    assert now["throughput"]["per_hour"][-1] == 1 and now["throughput"]["total"] == 6
    assert [a["user_id"] for a in now["active_now"]] == [side.users["annotator"]]


def test_no_recent_work_and_the_earnings_hook(rt, clock):
    side = make_side(rt, "quiet", n_tasks=3)
    ctx = side.ctx(rt, "owner")
    found = dashboard.workspace_dashboard(ctx, side.workspace_id)
    (f,) = found["forecast"]
    assert f["status"] == "no_recent_work" and f["eta"] is None and "no annotations" in f["note"]
    assert f["remaining_annotations"] == 3

    calls = []

    def pay(c, ws):
        calls.append(ws)
        return {side.users["annotator"]: {"amount": "12.50", "currency": "EUR"}}

    shown = dashboard.workspace_dashboard(ctx, side.workspace_id, earnings=pay)
    assert calls == [side.workspace_id] and shown["earnings_shown"] is True
    people = {p["user_id"]: p for p in shown["people"]}
    assert people[side.users["annotator"]]["earnings"] == {"amount": "12.50", "currency": "EUR"}
    assert people[side.users["reviewer"]]["earnings"] is None


def test_earnings_come_from_the_pay_statements_once_the_workspace_pays(rt, clock):
    from bastion.services import pay

    side = make_side(rt, "paid", n_tasks=3)
    owner, annotator = side.ctx(rt, "owner"), side.ctx(rt, "annotator")
    start = clock.now
    clock.now += 60_000
    for _ in range(2):
        _work(rt, annotator, side.project_id)
    no_currency = dashboard.workspace_dashboard(owner, side.workspace_id)
    assert no_currency["earnings_shown"] is False  # the workspace does not pay through Bastion

    pay.set_settings(owner, side.workspace_id, currency="EUR")
    pay.set_rate(owner, side.workspace_id, task_type="classification", per_task=125, effective_from=start)
    shown = dashboard.workspace_dashboard(owner, side.workspace_id)
    people = {p["user_id"]: p for p in shown["people"]}
    assert shown["earnings_shown"] is True and people[side.users["annotator"]]["earnings"] is None  # no statement

    pay.create_statement(owner, side.workspace_id, side.users["annotator"], start, clock.now + 60_000)
    people = {p["user_id"]: p for p in dashboard.workspace_dashboard(owner, side.workspace_id)["people"]}
    assert people[side.users["annotator"]]["earnings"] == {
        "amount": "2.50",
        "currency": "EUR",
        "minor_units": {"EUR": 250},
    }
    assert people[side.users["reviewer"]]["earnings"] is None


def test_who_may_see_it_and_the_audit_record(rt, clock):
    a = make_side(rt, "wa", n_tasks=2)
    b = make_side(rt, "wb", n_tasks=2)
    wm = make_user(rt, "wm@example.com")
    workspaces.add_member(system(rt), a.workspace_id, wm.id, "workforce_manager")
    mine = as_user(rt, wm.id)
    for role in ("owner", "manager"):
        assert dashboard.workspace_dashboard(a.ctx(rt, role), a.workspace_id)["workspace_id"] == a.workspace_id
    assert dashboard.workspace_dashboard(mine, a.workspace_id)["workspace_id"] == a.workspace_id
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            dashboard.workspace_dashboard(a.ctx(rt, role), a.workspace_id)
        assert dashboard.dashboard(a.ctx(rt, role))["workspaces"] == []
    for role in ("owner", "manager", "annotator"):
        with pytest.raises(NotFound):
            dashboard.workspace_dashboard(a.ctx(rt, role), b.workspace_id)
    with pytest.raises(NotFound):
        dashboard.workspace_dashboard(mine, b.workspace_id)
    admin = make_user(rt, "dash.admin@example.com", admin=True)
    with pytest.raises(NotFound):  # platform admins see no workspace's people by being admins
        dashboard.workspace_dashboard(as_user(rt, admin.id, is_admin=True), a.workspace_id)

    # Across workspaces: exactly those where the person holds the role, one section each.
    assert [s["workspace_id"] for s in dashboard.dashboard(mine)["workspaces"]] == [a.workspace_id]
    workspaces.add_member(system(rt), b.workspace_id, wm.id, "workforce_manager")
    both = dashboard.dashboard(mine)["workspaces"]
    assert sorted(s["workspace_id"] for s in both) == sorted([a.workspace_id, b.workspace_id])
    workspaces.add_member(system(rt), b.workspace_id, wm.id, "annotator")  # the role changed: B leaves the view
    assert [s["workspace_id"] for s in dashboard.dashboard(mine)["workspaces"]] == [a.workspace_id]

    # Every view is in the log of each workspace it showed, by whom.
    views = _entries(rt, a.workspace_id, "workforce.dashboard_read")
    assert len(views) == 6 and wm.id in {v["actor"] for v in views}
    assert len(_entries(rt, b.workspace_id, "workforce.dashboard_read")) == 1


def test_every_statement_reads_an_index_not_a_table(rt):
    """What keeps the dashboard cheap at a million annotations (benchmarks/workforce.py): each statement on
    annotations and assignments reads one of its indexes — the recent annotations by time, gold answers,
    reviewed annotations, live leases — and never scans the table."""
    if not rt.db.is_sqlite:
        pytest.skip("PostgreSQL's planner picks from table statistics, and an empty table says nothing")
    from sqlalchemy import event

    side = make_side(rt, "plans", n_tasks=2)
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, params, context, executemany):
        if " annotations " in statement or " assignments " in statement:
            seen.append((statement, params))

    event.listen(rt.db.engine, "before_cursor_execute", grab)
    try:
        dashboard.workspace_dashboard(side.ctx(rt, "owner"), side.workspace_id)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", grab)
    reads = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
    used = set()
    with operator_tx(rt, write=False) as tx:
        for statement, params in reads:
            plan = " ".join(row[-1] for row in tx.raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall())
            assert "SCAN annotations" not in plan and "SCAN assignments" not in plan, (statement, plan)
            used |= {
                ix
                for ix in (
                    "ix_annotations_recent",
                    "ix_annotations_gold",
                    "ix_annotations_reviewed",
                    "ix_assignments_expiry",
                )
                if f"INDEX {ix} " in plan + " "
            }
    assert used == {"ix_annotations_recent", "ix_annotations_gold", "ix_annotations_reviewed", "ix_assignments_expiry"}
