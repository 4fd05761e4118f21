"""Pay, on both databases: rates and their history, statements' lines, the lifecycle (draft → approved
→ locked), adjustments after a lock, the gold bonus, CSV, earnings, and who may do what.

Invariants tried: a locked (or approved) statement refuses every change, in the store as in the
service; a correction after a lock lands in the next draft, never in the locked one; nobody approves
or locks their own statement; roles without people.read are refused (403) and another workspace's
statement does not exist (404); statements carry no task content.
"""

from __future__ import annotations

import csv
import io
import json
from functools import partial

import pytest

from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied
from bastion.domain.pay import Line, StatementLocked
from bastion.services import annotations, imports, pay, queue, reviews, workspaces
from bastion.storage import database, pay_store
from factories import make_side, make_user, operator_tx, system

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_800_000_000_000  # the clock tests run on


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = T0

        def advance(self, ms: int) -> int:
            self.now += ms
            return self.now

    c = Clock()
    monkeypatch.setattr(database, "now_ms", lambda: c.now)
    return c


def _side(rt, tag="p", n_tasks=6, settings=None):
    side = make_side(rt, tag, n_tasks=n_tasks, settings=settings or {"quality": {"review": "all"}})
    wfm = make_user(rt, f"wfm.{tag}@example.com").id
    workspaces.add_member(system(rt), side.workspace_id, wfm, "workforce_manager")
    side.users["workforce_manager"] = wfm
    pay.set_settings(side.ctx(rt, "owner"), side.workspace_id, currency="EUR")
    return side


def _annotate(rt, side, role="annotator", lead_time_ms=60_000, label="pos"):
    ctx = side.ctx(rt, role)
    task = queue.next_task(ctx, side.project_id)
    assert task is not None
    return annotations.submit_annotation(ctx, task["id"], {"label": label}, lead_time_ms=lead_time_ms)


def _review(rt, side, decision, **kw):
    reviewer = side.ctx(rt, "reviewer")
    held = reviews.review_next(reviewer, side.project_id)
    assert held is not None
    reviews.review_annotation(reviewer, held["annotation"]["id"], decision, **kw)
    return held["annotation"]["id"]


def _kinds(statement):
    return [(line["kind"], line["annotation_id"], line["amount"]) for line in statement["lines"]]


def test_a_draft_pays_each_annotation_once_at_the_rate_in_force(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100, per_hour=1200)
    clock.advance(HOUR)
    a1 = _annotate(rt, side, lead_time_ms=60_000)  # 1 minute at 12.00/hour: 20 cents
    a2 = _annotate(rt, side, lead_time_ms=None)  # no active time: 0 hours, flagged
    clock.advance(HOUR)
    pay.set_rate(manager, side.workspace_id, project_id=side.project_id, per_task=250)  # the project's own
    clock.advance(HOUR)
    a3 = _annotate(rt, side, lead_time_ms=90_000)
    made = pay.create_statement(manager, side.workspace_id, side.users["annotator"], T0, T0 + DAY)
    statement = pay.get_statement(manager, made["id"])
    assert statement["status"] == "draft" and statement["currency"] == "EUR"
    assert _kinds(statement) == [
        ("annotation", a1["id"], 120),
        ("annotation", a2["id"], 100),
        ("annotation", a3["id"], 250),
    ]
    assert "no active time" in statement["lines"][1]["note"]
    assert statement["total"] == 470 == sum(line["amount"] for line in statement["lines"])
    # the history is kept, oldest first
    rates = pay.list_rates(side.ctx(rt, "workforce_manager"), side.workspace_id)
    assert [(r["project_id"], r["per_task"], r["per_hour"]) for r in rates] == [
        (None, 100, 1200),
        (side.project_id, 250, None),
    ]
    # no task content anywhere in a statement
    text = json.dumps(statement)
    assert "item" not in text and '"pos"' not in text


def test_a_rejection_with_a_reason_is_not_paid_and_names_the_review(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100)
    clock.advance(1000)
    for _ in range(3):
        _annotate(rt, side)
    rejected = _review(rt, side, "reject", comment="label contradicts the text")
    accepted = _review(rt, side, "accept")
    corrected = _review(rt, side, "correct", correction={"label": "neg"})
    made = pay.create_statement(manager, side.workspace_id, side.users["annotator"], T0, T0 + DAY)
    lines = {line["annotation_id"]: line for line in pay.get_statement(manager, made["id"])["lines"]}
    assert lines[rejected]["kind"] == "rejected" and lines[rejected]["amount"] == 0
    assert lines[rejected]["review_id"].startswith("rev") and lines[rejected]["task_amount"] == 100
    assert "label contradicts" not in json.dumps(lines)  # the reason's text is the client's content
    assert lines[accepted]["amount"] == lines[corrected]["amount"] == 100


def test_lifecycle_and_a_locked_statement_refuses_every_change(rt, clock):
    side = _side(rt)
    manager, owner = side.ctx(rt, "manager"), side.ctx(rt, "owner")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100)
    clock.advance(1000)
    first = _annotate(rt, side)
    second = _annotate(rt, side)
    person = side.users["annotator"]
    january = pay.create_statement(manager, side.workspace_id, person, T0, T0 + DAY)
    february = pay.create_statement(manager, side.workspace_id, person, T0 + DAY, T0 + 2 * DAY)
    with pytest.raises(StatementLocked, match="overlaps"):
        pay.create_statement(manager, side.workspace_id, person, T0 + DAY - 1, T0 + DAY + 1)
    with pytest.raises(StatementLocked, match="approve this statement before"):
        pay.lock_statement(manager, january["id"])
    approved = pay.approve_statement(side.ctx(rt, "workforce_manager"), january["id"])
    assert approved["status"] == "approved" and approved["total"] == 200
    locked = pay.lock_statement(owner, january["id"])
    assert locked["status"] == "locked" and locked["locked_by"] == side.users["owner"]
    for change in (pay.approve_statement, pay.lock_statement, pay.delete_statement):
        with pytest.raises(StatementLocked):
            change(manager, january["id"])
    # the store refuses too, whatever a caller tries
    with operator_tx(rt) as tx:
        for attempt in (
            lambda: pay_store.freeze(tx, side.workspace_id, january["id"], [Line("bonus", 1)], by="x", at=1),
            lambda: pay_store.lock(tx, side.workspace_id, january["id"], by="x", at=1),
            lambda: pay_store.delete_draft(tx, side.workspace_id, january["id"]),
        ):
            with pytest.raises(StatementLocked):
                attempt()
    # a rejection after the lock: the locked statement stays, the next draft takes it back
    clock.advance(DAY + HOUR)
    rejected = _review(rt, side, "reject", comment="wrong")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=130, effective_from=T0)
    after = pay.get_statement(manager, january["id"])
    assert _kinds(after) == _kinds(locked) and after["total"] == 200
    other = second["id"] if rejected == first["id"] else first["id"]
    adjustments = {line["annotation_id"]: line for line in pay.get_statement(manager, february["id"])["lines"]}
    assert adjustments[rejected]["kind"] == "adjustment" and adjustments[rejected]["amount"] == -100
    assert adjustments[rejected]["review_id"] is not None
    assert adjustments[other]["amount"] == 30  # the rate corrected back in time
    # changes are audited
    from bastion.services import audit

    actions = [e["action"] for e in audit.list_entries(owner, side.workspace_id, limit=500)["items"]]
    for action in ("pay.settings_set", "pay.rate_set", "pay.statement_created", "pay.statement_approved",
                   "pay.statement_locked"):  # fmt: skip
        assert action in actions


def test_late_work_into_an_approved_period_goes_into_the_next_draft(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100)
    person = side.users["annotator"]
    early = pay.create_statement(manager, side.workspace_id, person, T0, T0 + DAY)
    pay.approve_statement(manager, early["id"])  # approved before the period ended
    clock.advance(HOUR)
    late = _annotate(rt, side)
    assert pay.get_statement(manager, early["id"])["lines"] == []
    later = pay.create_statement(manager, side.workspace_id, person, T0 + DAY, T0 + 2 * DAY)
    lines = pay.get_statement(manager, later["id"])["lines"]
    assert [(x["kind"], x["annotation_id"], x["amount"]) for x in lines] == [("annotation", late["id"], 100)]
    assert "late" in lines[0]["note"]


def test_nobody_approves_or_locks_their_own_statement(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100)
    mine = pay.create_statement(side.ctx(rt, "owner"), side.workspace_id, side.users["manager"], T0, T0 + DAY)
    with pytest.raises(PermissionDenied, match="your own"):
        pay.approve_statement(manager, mine["id"])
    pay.approve_statement(side.ctx(rt, "owner"), mine["id"])
    with pytest.raises(PermissionDenied, match="your own"):
        pay.lock_statement(manager, mine["id"])


def test_gold_accuracy_over_the_threshold_earns_the_bonus(rt, clock):
    side = _side(rt, n_tasks=0, settings={"overlap": 1, "quality": {"gold_rate": 1.0}})
    owner = side.ctx(rt, "owner")
    pay.set_settings(owner, side.workspace_id, currency="EUR", bonus_threshold=0.75, bonus_min_gold=2, bonus_amount=500)
    pay.set_rate(owner, side.workspace_id, task_type="classification", per_task=10)
    imports.import_tasks(
        system(rt),
        side.project_id,
        [(i + 1, {"data": {"text": f"gold {i}"}, "gold": {"label": "pos"}}) for i in range(4)],
    )
    clock.advance(1000)
    person = side.users["annotator"]
    for label in ("pos", "pos", "pos", "neg"):
        _annotate(rt, side, label=label)
    made = pay.create_statement(owner, side.workspace_id, person, T0, T0 + DAY)
    statement = pay.get_statement(owner, made["id"])
    assert [x["kind"] for x in statement["lines"]].count("bonus") == 1
    assert statement["total"] == 4 * 10 + 500
    pay.set_settings(owner, side.workspace_id, currency="EUR", bonus_threshold=0.8, bonus_min_gold=2, bonus_amount=500)
    assert pay.get_statement(owner, made["id"])["total"] == 40  # 3 of 4 right: under 80%


def test_csv_is_one_row_per_line_and_formula_safe(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100)
    clock.advance(1000)
    done = [_annotate(rt, side)["id"] for _ in range(2)]
    made = pay.create_statement(manager, side.workspace_id, side.users["annotator"], T0, T0 + DAY)
    name, text = pay.statement_csv(side.ctx(rt, "workforce_manager"), made["id"])
    assert name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["annotation_id"] for r in rows if r["kind"] == "annotation"] == done
    assert rows[-1]["kind"] == "total" and rows[-1]["amount"] == "200"
    assert pay.safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and pay.safe_cell("@x") == "'@x"
    assert pay.safe_cell("+1") == "'+1" and pay.safe_cell("-1") == "'-1" and pay.safe_cell(-100) == -100


def test_a_person_with_a_formula_name_is_quoted_in_the_csv(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    from bastion.services import users

    evil = users.create_user(system(rt), "evil@example.com", name="=cmd|' /C calc'!A0", password=None).id
    workspaces.add_member(system(rt), side.workspace_id, evil, "annotator")
    made = pay.create_statement(manager, side.workspace_id, evil, T0, T0 + DAY)
    _, text = pay.statement_csv(manager, made["id"])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["person"].startswith("'=")


def test_earnings_to_date_counts_drafts_approved_and_locked(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    pay.set_rate(manager, side.workspace_id, task_type="classification", per_task=100)
    person = side.users["annotator"]
    clock.advance(1000)
    _annotate(rt, side)
    first = pay.create_statement(manager, side.workspace_id, person, T0, T0 + DAY)
    pay.approve_statement(manager, first["id"])
    clock.advance(DAY)
    _annotate(rt, side)
    _annotate(rt, side)
    pay.create_statement(manager, side.workspace_id, person, T0 + DAY, T0 + 2 * DAY)
    assert pay.earnings_to_date(side.ctx(rt, "workforce_manager"), side.workspace_id) == {person: {"EUR": 300}}
    with pytest.raises(PermissionDenied):
        pay.earnings_to_date(side.ctx(rt, "reviewer"), side.workspace_id)


def test_bad_input_names_the_field(rt, clock):
    side = _side(rt)
    manager = side.ctx(rt, "manager")
    for kwargs, field in (
        ({"task_type": "classification"}, "per_task"),
        ({"task_type": "classification", "per_task": -1}, "per_task"),
        ({"task_type": "classification", "per_task": 1.5}, "per_task"),
        ({"task_type": "nope", "per_task": 1}, "task_type"),
        ({"per_task": 1}, "task_type"),
        ({"task_type": "classification", "per_hour": 5, "effective_from": "soon"}, "effective_from"),
    ):
        with pytest.raises(InvalidInput, match=field):
            pay.set_rate(manager, side.workspace_id, **kwargs)
    with pytest.raises(InvalidInput, match="currency"):
        pay.set_settings(manager, side.workspace_id, currency="euro")
    with pytest.raises(InvalidInput, match="period_end"):
        pay.create_statement(manager, side.workspace_id, side.users["annotator"], T0, T0)


ROLES_REFUSED = ("annotator", "reviewer", "auditor")


def test_access_roles_foreign_ids_and_own_statements(rt, clock):
    a, b = _side(rt, "a"), _side(rt, "b")
    manager = a.ctx(rt, "manager")
    pay.set_rate(manager, a.workspace_id, task_type="classification", per_task=100)
    theirs = pay.create_statement(manager, a.workspace_id, a.users["reviewer"], T0, T0 + DAY)
    own = pay.create_statement(manager, a.workspace_id, a.users["annotator"], T0, T0 + DAY)
    for role in ROLES_REFUSED:
        ctx = a.ctx(rt, role)
        for call in (
            partial(pay.list_statements, ctx, a.workspace_id),
            partial(pay.list_rates, ctx, a.workspace_id),
            partial(pay.get_settings, ctx, a.workspace_id),
            partial(pay.set_rate, ctx, a.workspace_id, task_type="classification", per_task=1),
            partial(pay.set_settings, ctx, a.workspace_id, currency="USD"),
            partial(pay.create_statement, ctx, a.workspace_id, a.users["annotator"], T0 + DAY, T0 + 2 * DAY),
            partial(pay.approve_statement, ctx, own["id"]),
            partial(pay.lock_statement, ctx, own["id"]),
            partial(pay.delete_statement, ctx, own["id"]),
            partial(pay.earnings_to_date, ctx, a.workspace_id),
        ):
            with pytest.raises(PermissionDenied):
                call()
        if a.users[role] != a.users["reviewer"]:
            with pytest.raises(PermissionDenied):
                pay.get_statement(ctx, theirs["id"])
    # the person paid reads their own statement (and its CSV), nobody else's
    assert pay.get_statement(a.ctx(rt, "annotator"), own["id"])["id"] == own["id"]
    pay.statement_csv(a.ctx(rt, "annotator"), own["id"])
    # another workspace's people: not found, in every role, for every id
    for role in ("owner", "manager", "workforce_manager", "annotator"):
        ctx = b.ctx(rt, role)
        for call in (
            partial(pay.get_statement, ctx, own["id"]),
            partial(pay.statement_csv, ctx, own["id"]),
            partial(pay.approve_statement, ctx, own["id"]),
            partial(pay.lock_statement, ctx, own["id"]),
            partial(pay.delete_statement, ctx, own["id"]),
            partial(pay.list_statements, ctx, a.workspace_id),
            partial(pay.set_rate, ctx, a.workspace_id, task_type="classification", per_task=1),
        ):
            with pytest.raises(NotFound):
                call()
    # a project of another workspace is not a project here
    with pytest.raises(NotFound):
        pay.set_rate(b.ctx(rt, "owner"), b.workspace_id, project_id=a.project_id, per_task=1)
    # a person from outside the workspace gets no statement here
    with pytest.raises(NotFound):
        pay.create_statement(manager, a.workspace_id, b.users["annotator"], T0, T0 + DAY)
