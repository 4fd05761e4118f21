"""Pay statements reconcile with the annotations they pay: a Hypothesis state machine on SQLite.

Two annotators submit (with and without an active time), a reviewer accepts, rejects (with a
reason) and corrects, a manager changes rates (from now, or back in time), makes statements for
days, approves and locks them, while time passes. The machine keeps its own model of what each
annotation is owed — its rate in force, its active time, whether it was rejected — computed
apart from ``domain/pay.py``.

After every step:

* every statement's total is the sum of its lines;
* no annotation has two lines on one statement, nor lines on two drafts;
* a locked statement's lines and total are exactly as they were when it was locked;
* once every day so far has a statement and a last draft stands open after them all
  (``cover``, also run at the end), the lines about each annotation, over all the person's
  statements, add up to what the model says it is owed — paid exactly once, rejections
  and corrections included.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bastion.domain.errors import Conflict
from bastion.services import annotations, pay, queue, reviews, workspaces
from bastion.storage import database
from environment import make_settings
from factories import add_tasks, as_user, make_project, make_user, system

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_800_000_000_000
FAR = T0 + 1000 * DAY
_template: list[Path] = []


def _template_db() -> Path:
    if not _template:
        from bastion.storage import migrate
        from bastion.storage.database import Database

        path = Path(tempfile.mkdtemp(prefix="pay-template-")) / "bastion.db"
        db = Database(f"sqlite:///{path}")
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        _template.append(path)
    return _template[0]


def owed(created_at: int, active_ms: int | None, rates: list[tuple[int, int, int, int]], rejected: bool) -> int:
    """The model: the latest rate (by effective_from, then order set) in force when the work was made."""
    if rejected:
        return 0
    live = [r for r in rates if r[0] <= created_at]
    if not live:
        return 0
    _, _, per_task, per_hour = max(live)
    hours = 0 if active_ms is None else (2 * per_hour * active_ms + HOUR) // (2 * HOUR)
    return per_task + hours


class PayHistory(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from bastion.services.runtime import Runtime

        self.dir = Path(tempfile.mkdtemp(prefix="pay-machine-"))
        target = self.dir / "data" / "bastion.db"
        target.parent.mkdir(parents=True)
        shutil.copy(_template_db(), target)
        self.now = T0
        self._real_now = database.now_ms
        database.now_ms = lambda: self.now
        self.rt = rt = Runtime.open(make_settings(self.dir, f"sqlite:///{target}"), migrate_schema="never")
        owner = make_user(rt, "owner@example.com").id
        self.ws = workspaces.create_workspace(system(rt), "W", owner=owner).id
        self.manager, self.reviewer = make_user(rt, "m@example.com").id, make_user(rt, "r@example.com").id
        workspaces.add_member(system(rt), self.ws, self.manager, "workforce_manager")
        workspaces.add_member(system(rt), self.ws, self.reviewer, "reviewer")
        self.people = [make_user(rt, f"p{i}@example.com").id for i in range(2)]
        for person in self.people:
            workspaces.add_member(system(rt), self.ws, person, "annotator")
        self.project = make_project(rt, self.ws, settings={"overlap": 2, "quality": {"review": "all"}}).id
        add_tasks(rt, self.project, 40)
        self.m = as_user(rt, self.manager)
        pay.set_settings(self.m, self.ws, currency="EUR")
        # the model
        self.rates: list[tuple[int, int, int, int]] = []  # (effective_from, order, per_task, per_hour)
        self.work: dict[str, tuple[str, int, int | None]] = {}  # annotation -> (person, created_at, active)
        self.rejected: set[str] = set()
        self.locked: dict[str, dict] = {}
        self.covered = False

    def teardown(self) -> None:
        try:
            if self.work:
                self.cover()
        finally:
            database.now_ms = self._real_now
            self.rt.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the history -------------------------------------------------------------------------------

    @rule(ms=st.integers(1, 20 * HOUR))
    def wait(self, ms: int) -> None:
        self.now += ms

    @rule(
        who=st.integers(0, 1), active=st.lists(st.one_of(st.none(), st.integers(0, 2 * HOUR)), min_size=1, max_size=3)
    )
    def annotate(self, who: int, active: list[int | None]) -> None:
        ctx = as_user(self.rt, self.people[who])
        for ms in active:
            task = queue.next_task(ctx, self.project)
            if task is None:
                return
            made = annotations.submit_annotation(ctx, task["id"], {"label": "pos"}, lead_time_ms=ms)
            self.work[made["id"]] = (self.people[who], self.now, ms)
            self.now += 1
            self.covered = False

    @rule(decisions=st.lists(st.sampled_from(["accept", "reject", "correct"]), min_size=1, max_size=3))
    def review(self, decisions: list[str]) -> None:
        ctx = as_user(self.rt, self.reviewer)
        for decision in decisions:
            held = reviews.review_next(ctx, self.project)
            if held is None:
                return
            annotation_id = held["annotation"]["id"]
            extra: dict = {"comment": "wrong"} if decision == "reject" else {}
            if decision == "correct":
                extra = {"correction": {"label": "neg"}}
            reviews.review_annotation(ctx, annotation_id, decision, **extra)
            if decision == "reject":
                self.rejected.add(annotation_id)
            self.now += 1
            self.covered = False

    @rule(
        per_task=st.integers(0, 500),
        per_hour=st.integers(0, 5000),
        back=st.one_of(st.just(0), st.integers(1, 3 * DAY)),
    )
    def set_rate(self, per_task: int, per_hour: int, back: int) -> None:
        start = max(T0 - DAY, self.now - back)
        pay.set_rate(
            self.m, self.ws, task_type="classification", per_task=per_task, per_hour=per_hour, effective_from=start
        )
        self.rates.append((start, len(self.rates), per_task, per_hour))
        self.now += 1
        self.covered = False

    @rule(who=st.integers(0, 1), day=st.integers(0, 6))
    def make_statement(self, who: int, day: int) -> None:
        start = T0 + day * DAY
        try:
            pay.create_statement(self.m, self.ws, self.people[who], start, start + DAY)
        except Conflict:
            pass  # that day already has one

    def _statements(self, status: str) -> list[dict]:
        return pay.list_statements(self.m, self.ws, status=status)

    @rule(who=st.integers(0, 1), days_back=st.integers(0, 1), then_lock=st.booleans())
    def settle(self, who: int, days_back: int, then_lock: bool) -> None:
        """The person's statement for today (or yesterday), made if need be, approved, perhaps locked."""
        start = T0 + ((self.now - T0) // DAY - days_back) * DAY
        mine = pay.list_statements(self.m, self.ws, user_id=self.people[who])
        found = next((x for x in mine if x["period_start"] <= start < x["period_end"]), None)
        if found is None:
            found = pay.create_statement(self.m, self.ws, self.people[who], start, start + DAY)
            found["status"] = "draft"
        if found["status"] == "draft":
            pay.approve_statement(self.m, found["id"])
            self.covered = False
        if then_lock and found["status"] != "locked":
            self.locked[found["id"]] = pay.lock_statement(self.m, found["id"])

    @rule(data=st.data())
    def approve(self, data) -> None:
        drafts = self._statements("draft")
        if drafts:
            chosen = data.draw(st.sampled_from(drafts))
            pay.approve_statement(self.m, chosen["id"])
            self.covered = False

    @rule(data=st.data())
    def lock(self, data) -> None:
        approved = self._statements("approved")
        if approved:
            chosen = data.draw(st.sampled_from(approved))
            locked = pay.lock_statement(self.m, chosen["id"])
            self.locked[chosen["id"]] = locked

    @precondition(lambda self: not self.covered)
    @rule()
    def cover(self) -> None:
        """Statements for every day so far and a last open draft: then everything must reconcile."""
        last_day = (self.now - T0) // DAY
        for person in self.people:
            for day in range(-1, last_day + 1):
                start = T0 + day * DAY
                try:
                    pay.create_statement(self.m, self.ws, person, start, start + DAY)
                except Conflict:
                    pass
            mine = pay.list_statements(self.m, self.ws, user_id=person)
            last = max(mine, key=lambda statement: statement["period_start"])
            if last["status"] != "draft":  # a last draft after them all takes what is still owed
                start = max(FAR, last["period_end"])
                pay.create_statement(self.m, self.ws, person, start, start + DAY)
        lines = self._all_lines()
        for annotation_id, (person, created_at, active) in self.work.items():
            expected = owed(created_at, active, self.rates, annotation_id in self.rejected)
            paid = sum(line["amount"] for _, line in lines.get(annotation_id, []))
            assert paid == expected, (annotation_id, paid, expected, lines.get(annotation_id))
            assert {statement["user_id"] for statement, _ in lines.get(annotation_id, [])} <= {person}
        self.covered = True

    # -- the invariants ----------------------------------------------------------------------------

    def _all_lines(self) -> dict[str, list[tuple[dict, dict]]]:
        out: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
        for listed in pay.list_statements(self.m, self.ws):
            statement = pay.get_statement(self.m, listed["id"])
            for line in statement["lines"]:
                if line["annotation_id"]:
                    out[line["annotation_id"]].append((statement, line))
        return out

    @invariant()
    def statements_add_up(self) -> None:
        drafts_holding: dict[str, str] = {}
        for listed in pay.list_statements(self.m, self.ws):
            statement = pay.get_statement(self.m, listed["id"])
            assert statement["total"] == sum(line["amount"] for line in statement["lines"]) == listed["total"]
            ids = [line["annotation_id"] for line in statement["lines"] if line["annotation_id"]]
            assert len(ids) == len(set(ids))
            if statement["status"] == "draft":
                for annotation_id in ids:
                    assert annotation_id not in drafts_holding, "two drafts claim one annotation"
                    drafts_holding[annotation_id] = statement["id"]
            if statement["id"] in self.locked:
                before = self.locked[statement["id"]]
                assert statement["lines"] == before["lines"] and statement["total"] == before["total"]
                assert statement["status"] == "locked"


TestPayHistory = PayHistory.TestCase
TestPayHistory.settings = settings(
    max_examples=10,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
