"""Counters stay true under any mix of next, submit, skip, undo, edit and review: a Hypothesis state
machine on SQLite, through the real services.

Three people work a project of four tasks with overlap 2 (a review of every answer), in any order.
After every step the stored counters equal what the rows say:

* each task's ``annotation_count`` is its annotations, ``lease_count`` its live leases, their sum
  never over the overlap, and ``done`` is "all its answers are in";
* the project's counters: annotations, and done tasks;
* each person's progress: their answers (done) — and their kept versions are numbered 1, 2, … per task;
* undo and edit succeed exactly when the model says the answer may change (unreviewed, the newest).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select

from bastion.domain.errors import Conflict
from bastion.services import annotations, own_annotations, projects, queue, reviews, workspaces
from bastion.storage import schema
from environment import make_settings
from factories import add_tasks, as_user, make_project, make_user, system

N_PEOPLE, N_TASKS, OVERLAP = 3, 4, 2
LABELS = ("pos", "neg", "neutral")
PERSON = st.integers(0, N_PEOPLE - 1)
_template: list[Path] = []


def _template_db() -> Path:
    if not _template:
        from bastion.storage import migrate
        from bastion.storage.database import Database

        path = Path(tempfile.mkdtemp(prefix="answers-template-")) / "bastion.db"
        db = Database(f"sqlite:///{path}")
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        _template.append(path)
    return _template[0]


class AnswerCounters(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from bastion.services.runtime import Runtime

        self.dir = Path(tempfile.mkdtemp(prefix="answers-machine-"))
        target = self.dir / "data" / "bastion.db"
        target.parent.mkdir(parents=True)
        shutil.copy(_template_db(), target)
        self.rt = rt = Runtime.open(make_settings(self.dir, f"sqlite:///{target}"), migrate_schema="never")
        owner = make_user(rt, "owner@example.com")
        ws = workspaces.create_workspace(system(rt), "W", owner=owner.id)
        self.project = make_project(rt, ws.id, settings={"overlap": OVERLAP, "quality": {"review": "all"}}).id
        add_tasks(rt, self.project, N_TASKS)
        self.people = []
        for p in range(N_PEOPLE):
            person = make_user(rt, f"person{p}@example.com").id
            workspaces.add_member(system(rt), ws.id, person, "annotator")
            self.people.append(person)
        self.reviewer = make_user(rt, "reviewer@example.com").id
        workspaces.add_member(system(rt), ws.id, self.reviewer, "reviewer")
        # The model: each person's answers, newest last, with whether a reviewer decided on them.
        self.given: dict[int, list[dict]] = {p: [] for p in range(N_PEOPLE)}

    def teardown(self) -> None:
        self.rt.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _ctx(self, p: int):
        return as_user(self.rt, self.people[p])

    # -- rules ------------------------------------------------------------------------

    @rule(p=PERSON, label=st.sampled_from(LABELS))
    def next_and_submit(self, p, label):
        task = queue.next_task(self._ctx(p), self.project)
        if task is None:
            return
        made = annotations.submit_annotation(self._ctx(p), task["id"], {"label": label})
        self.given[p].append({"id": made["id"], "task": task["id"], "reviewed": False})

    @rule(p=PERSON)
    def next_and_skip(self, p):
        task = queue.next_task(self._ctx(p), self.project)
        if task is not None:
            queue.skip_task(self._ctx(p), task["id"])

    def _someone_with_answers(self, p: int) -> int:
        """Person ``p``, or (more often useful) the next one who gave an answer."""
        for q in [*range(p, N_PEOPLE), *range(p)]:
            if self.given[q]:
                return q
        return p

    @rule(p=PERSON)
    def undo(self, p):
        p = self._someone_with_answers(p)
        mine = self.given[p]
        try:
            taken = own_annotations.undo_last(self._ctx(p), self.project)
        except Conflict:
            assert not mine or mine[-1]["reviewed"], "an unreviewed newest answer must be undoable"
            event("undo refused")
            return
        assert mine and not mine[-1]["reviewed"] and taken.task["id"] == mine[-1]["task"]
        mine.pop()
        event("undo")

    @rule(p=PERSON, pick=st.integers(0, 50), label=st.sampled_from(LABELS))
    def edit(self, p, pick, label):
        p = self._someone_with_answers(p)
        mine = self.given[p]
        if not mine:
            return
        answer = mine[pick % len(mine)]
        try:
            own_annotations.edit_annotation(self._ctx(p), self.project, answer["id"], {"label": label})
        except Conflict:
            assert answer["reviewed"], "an unreviewed answer must be editable"
            event("edit refused")
            return
        assert not answer["reviewed"]
        event("edit")

    @rule(decision=st.sampled_from(("accept", "reject")))
    def review(self, decision):
        ctx = as_user(self.rt, self.reviewer)
        item = reviews.review_next(ctx, self.project)
        if item is None:
            return
        annotation_id = item["annotation"]["id"]
        reviews.review_annotation(ctx, annotation_id, decision, comment="no" if decision == "reject" else None)
        for mine in self.given.values():
            for answer in mine:
                if answer["id"] == annotation_id:
                    answer["reviewed"] = True

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def counters_are_what_the_rows_say(self):
        t, n, a, v = schema.tasks, schema.annotations, schema.assignments, schema.annotation_versions
        with self.rt.db.transaction(write=False) as tx:
            tasks = tx.execute(select(t.c.id, t.c.annotation_count, t.c.lease_count, t.c.done)).all()
            counted = dict(
                tx.execute(
                    select(n.c.task_id, func.count())
                    .where(n.c.review_status != "rejected")  # a rejected answer gives its slot back
                    .group_by(n.c.task_id)
                ).all()
            )
            leased = dict(
                tx.execute(select(a.c.task_id, func.count()).where(a.c.state == "leased").group_by(a.c.task_id)).all()
            )
            total = tx.execute(select(func.count()).select_from(n).where(n.c.review_status != "rejected")).scalar_one()
            versions = tx.execute(select(v.c.task_id, v.c.user_id, v.c.version)).all()
        for task_id, annotation_count, lease_count, done in tasks:
            assert annotation_count == counted.get(task_id, 0), task_id
            assert lease_count == leased.get(task_id, 0), task_id
            assert annotation_count + lease_count <= OVERLAP
            assert bool(done) == (annotation_count >= OVERLAP)
        counts = projects.get_project(system(self.rt), self.project).counts
        assert counts.annotations == total
        assert counts.done == sum(1 for row in tasks if row[3])
        by_answer: dict[tuple[str, str], list[int]] = {}
        for task_id, user_id, version in versions:
            by_answer.setdefault((task_id, user_id), []).append(version)
        assert all(sorted(kept) == list(range(1, len(kept) + 1)) for kept in by_answer.values())

    @invariant()
    def each_persons_progress_is_their_answers(self):
        for p in range(N_PEOPLE):
            progress = own_annotations.my_progress(self._ctx(p), self.project)
            assert progress.done == len(self.given[p])


AnswerCounters.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAnswerCounters = AnswerCounters.TestCase
