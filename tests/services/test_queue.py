"""The queue: overlap, leases, expiry, skip, and the same task twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.domain.errors import Conflict, NotFound, PermissionDenied
from bastion.services import annotations, projects, queue, workspaces
from bastion.storage import schema
from factories import as_user, make_side, make_user, operator_tx, system


def _annotators(rt, side, n):
    ids = []
    for i in range(n):
        user = make_user(rt, f"worker{i}.{side.workspace_id[-6:]}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        ids.append(user.id)
    return ids


def test_next_hands_oldest_first_and_same_task_again(rt):
    side = make_side(rt, "q", n_tasks=3)
    ctx = side.ctx(rt, "annotator")
    first = queue.next_task(ctx, side.project_id)
    again = queue.next_task(ctx, side.project_id)
    assert first["id"] == again["id"]
    assert first["data"] == {"text": "q 0"}
    assert "meta" not in first  # workers see only what they label


def test_overlap_is_never_exceeded_and_nobody_annotates_twice(rt):
    side = make_side(rt, "o", n_tasks=2, settings={"overlap": 2})
    workers = _annotators(rt, side, 5)
    done = []
    for uid in workers:
        ctx = as_user(rt, uid)
        while (task := queue.next_task(ctx, side.project_id)) is not None:
            annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
            done.append((uid, task["id"]))
    assert len(done) == 4  # 2 tasks x overlap 2
    assert len(set(done)) == 4
    with operator_tx(rt, write=False) as tx:
        counts = tx.execute(select(schema.tasks.c.annotation_count, schema.tasks.c.done)).all()
    assert all(c == (2, True) for c in counts)
    project = projects.get_project(system(rt), side.project_id)
    assert (project.counts.tasks, project.counts.done, project.counts.annotations) == (2, 2, 4)
    # The same person submitting again is refused by the database constraint path.
    uid, task_id = done[0]
    with pytest.raises(Conflict):
        annotations.submit_annotation(as_user(rt, uid), task_id, {"label": "neg"})


def test_lease_blocks_others_until_it_expires(rt):
    side = make_side(rt, "l", n_tasks=1, settings={"overlap": 1, "lease_seconds": 10})
    w1, w2 = _annotators(rt, side, 2)
    task = queue.next_task(as_user(rt, w1), side.project_id)
    assert queue.next_task(as_user(rt, w2), side.project_id) is None
    # Expire the lease in the database (no sleeping in tests).
    with operator_tx(rt) as tx:
        tx.execute(schema.assignments.update().values(expires_at=0))
    again = queue.next_task(as_user(rt, w2), side.project_id)
    assert again is not None and again["id"] == task["id"]
    # w1's lease was reclaimed and the slot handed on: w1's late submit is refused.
    with pytest.raises(Conflict):
        annotations.submit_annotation(as_user(rt, w1), task["id"], {"label": "pos"})
    annotations.submit_annotation(as_user(rt, w2), task["id"], {"label": "neg"})


def test_late_submit_on_unreclaimed_lease_counts(rt):
    side = make_side(rt, "late", n_tasks=1, settings={"overlap": 1, "lease_seconds": 10})
    (w1,) = _annotators(rt, side, 1)
    task = queue.next_task(as_user(rt, w1), side.project_id)
    with operator_tx(rt) as tx:
        tx.execute(schema.assignments.update().values(expires_at=0))
    annotations.submit_annotation(as_user(rt, w1), task["id"], {"label": "pos"})
    with operator_tx(rt, write=False) as tx:
        row = tx.execute(select(schema.tasks.c.annotation_count, schema.tasks.c.lease_count)).one()
    assert tuple(row) == (1, 0)


def test_skip_gives_task_back_and_never_again_to_skipper(rt):
    side = make_side(rt, "s", n_tasks=2)
    w1, w2 = _annotators(rt, side, 2)
    ctx1 = as_user(rt, w1)
    first = queue.next_task(ctx1, side.project_id)
    queue.skip_task(ctx1, first["id"])
    second = queue.next_task(ctx1, side.project_id)
    assert second["id"] != first["id"]
    assert queue.next_task(as_user(rt, w2), side.project_id)["id"] == first["id"]
    with pytest.raises(Conflict):
        queue.skip_task(ctx1, first["id"])
    assert projects.get_project(system(rt), side.project_id).counts.skips == 1


def test_annotator_cannot_touch_tasks_not_handed_to_them(rt):
    side = make_side(rt, "n", n_tasks=2)
    w1, w2 = _annotators(rt, side, 2)
    task = queue.next_task(as_user(rt, w1), side.project_id)
    from bastion.services import tasks

    with pytest.raises(PermissionDenied):
        tasks.get_task(as_user(rt, w2), task["id"])
    with pytest.raises(PermissionDenied):
        annotations.submit_annotation(as_user(rt, w2), task["id"], {"label": "pos"})
    with pytest.raises(PermissionDenied):
        queue.skip_task(as_user(rt, w2), task["id"])
    assert tasks.get_task(as_user(rt, w1), task["id"])["id"] == task["id"]


def test_foreign_workspace_queue_is_not_found(rt):
    a = make_side(rt, "fa", n_tasks=1)
    b = make_side(rt, "fb", n_tasks=1)
    with pytest.raises(NotFound):
        queue.next_task(a.ctx(rt, "annotator"), b.project_id)
    task_b = queue.next_task(b.ctx(rt, "annotator"), b.project_id)
    with pytest.raises(NotFound):
        annotations.submit_annotation(a.ctx(rt, "owner"), task_b["id"], {"label": "pos"})


def test_auditor_cannot_work_the_queue(rt):
    side = make_side(rt, "au", n_tasks=1)
    with pytest.raises(PermissionDenied):
        queue.next_task(side.ctx(rt, "auditor"), side.project_id)


def test_priority_orders_the_queue(rt):
    side = make_side(rt, "p", n_tasks=0)
    from bastion.services import imports

    items = [(1, {"data": {"text": "low"}, "priority": 0}), (2, {"data": {"text": "high"}, "priority": 5})]
    imports.import_tasks(system(rt), side.project_id, items)
    task = queue.next_task(side.ctx(rt, "annotator"), side.project_id)
    assert task["data"]["text"] == "high"


def test_overlap_change_rederives_done(rt):
    side = make_side(rt, "ov", n_tasks=1, settings={"overlap": 1})
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    assert projects.get_project(system(rt), side.project_id).counts.done == 1
    projects.update_project(side.ctx(rt, "manager"), side.project_id, settings={"overlap": 2})
    assert projects.get_project(system(rt), side.project_id).counts.done == 0
    assert queue.next_task(side.ctx(rt, "reviewer"), side.project_id)["id"] == task["id"]
    assert queue.next_task(ctx, side.project_id) is None


def _plan(rt, sql: str, params: dict) -> str:
    with operator_tx(rt) as tx:
        if rt.db.is_sqlite:
            return str(tx.raw.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
        tx.raw.execute("SET LOCAL enable_seqscan = off")
        return str(tx.raw.execute("EXPLAIN " + sql, params).fetchall())


def _plan_on_the_queue_index_alone(rt, sql: str, params: dict) -> str:
    """PostgreSQL: the plan with every other index of ``tasks`` dropped, in a transaction rolled back (as
    the table's owner). The planner's choice between indexes follows statistics (on a test's few rows two
    indexes cost the same and either is picked); what must hold whatever it picks is that the queue's
    index can serve the statement in its order, without a sort."""
    import psycopg

    from environment import owner_url

    with psycopg.connect(owner_url(rt.settings.database_url)) as conn:
        try:
            others = conn.execute(
                "SELECT i.indexrelid::regclass::text, c.conname FROM pg_index i LEFT JOIN pg_constraint c "
                "ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid "
                "WHERE i.indrelid = 'tasks'::regclass AND i.indexrelid::regclass::text <> 'ix_tasks_queue'"
            ).fetchall()
            assert others, "tasks has no index but the queue's"
            for index, constraint in others:
                if constraint:
                    conn.execute(f'ALTER TABLE tasks DROP CONSTRAINT "{constraint}" CASCADE')
                else:
                    conn.execute(f'DROP INDEX "{index}"')
            conn.execute("SET LOCAL enable_seqscan = off")
            return str(conn.execute("EXPLAIN " + sql, params).fetchall())
        finally:
            conn.rollback()


def test_queue_statements_read_their_indexes(rt):
    """The next-task scans can read ix_tasks_queue in its order (no sort of the project's open tasks),
    the held-lease lookup reads the person's assignments (not every assignment of the workspace)."""
    from bastion.storage import queue_store as qs

    make_side(rt, "ix", n_tasks=3)
    params = {
        "ws": "ws_x",
        "project": "prj_x",
        "user": "usr_x",
        "overlap": 2,
        "priority": 0,
        "id": "tsk_x",
        "now": 0,
        "limit": 10,
    }
    for statements in (qs.PEEK, *([] if rt.db.is_sqlite else [qs.CLAIM_SLOT])):
        for start, statement in statements.items():
            if rt.db.is_sqlite:  # one planner, no statistics: it picks the queue's index itself
                plan = _plan(rt, statement.sqlite, params)
            else:
                plan = _plan_on_the_queue_index_alone(rt, statement.postgresql, params)
            assert "ix_tasks_queue" in plan, (start, plan)
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, (start, plan)
    if not rt.db.is_sqlite:
        return  # PostgreSQL's planner picks from table statistics; an empty table says nothing
    for statement, index in ((qs.HELD, "ix_assignments_user"), (qs.EXPIRED, "ix_assignments_expiry")):
        plan = _plan(rt, statement.sqlite if rt.db.is_sqlite else statement.postgresql, params)
        assert index in plan, plan


def _expected_next(rt, project_id: str, user_id: str) -> str | None:
    """The spec, computed apart from the queue's SQL: the caller's live lease, else the first
    open task (priority desc, id) with a free slot that the caller has not touched."""
    T, A, P = schema.tasks, schema.assignments, schema.projects
    with system(rt).read() as r:
        overlap = r.tx.execute(select(P.c.overlap).where(P.c.id == project_id)).scalar_one()
        mine = {
            row.task_id: row.state
            for row in r.tx.execute(
                select(A.c.task_id, A.c.state).where(A.c.project_id == project_id, A.c.user_id == user_id)
            )
        }
        leased = sorted(task for task, state in mine.items() if state == "leased")
        if leased:
            return leased[0]
        rows = r.tx.execute(
            select(T.c.id, T.c.priority, T.c.annotation_count, T.c.lease_count, T.c.done).where(
                T.c.project_id == project_id
            )
        ).all()
    open_ = [
        (-row.priority, row.id)
        for row in rows
        if not row.done
        and row.annotation_count + row.lease_count < overlap
        and mine.get(row.id, "expired") == "expired"
    ]
    return min(open_)[1] if open_ else None


def test_next_resumes_its_scan_but_serves_whatever_reopened_first(rt, settings):
    """Each person's scan resumes where it stopped (services/queue.py); whatever can put a task
    back before that point — another person's skip or expired lease, an import, a raised
    priority, a raised overlap, done from a second server — must still be served in order.
    A seeded random run checks every next call against the queue's definition."""
    import random

    from bastion.services import imports
    from bastion.services.runtime import Runtime

    other_rt = Runtime.open(settings, migrate_schema="never")  # a second server on the same database
    try:
        side = make_side(rt, "mk", n_tasks=0, settings={"overlap": 2})
        pid = side.project_id
        me, peer = _annotators(rt, side, 2)
        mine, theirs = as_user(rt, me), as_user(other_rt, peer)
        serial = iter(range(10**6))

        def add(n: int, priorities=(0,)) -> None:
            items = [
                (i + 1, {"data": {"text": f"item {next(serial)}"}, "priority": rnd.choice(priorities)})
                for i in range(n)
            ]
            imports.import_tasks(system(other_rt), pid, items)

        def step(ctx, user_id, then: str) -> None:
            expected = _expected_next(rt, pid, user_id)
            task = queue.next_task(ctx, pid)
            assert (task or {}).get("id") == expected, then
            if task is None:
                return
            if then == "submit":
                annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
            elif then == "skip":
                queue.skip_task(ctx, task["id"])
            elif then == "expire":  # the lease runs out; the next call of anyone reclaims it
                with system(other_rt).write() as w:
                    w.tx.execute(
                        schema.assignments.update()
                        .where(
                            schema.assignments.c.task_id == task["id"],
                            schema.assignments.c.user_id == user_id,
                        )
                        .values(expires_at=0)
                    )

        rnd = random.Random(20261128)
        add(40, priorities=(0, 0, 0, 1))
        marks_used = 0
        for i in range(260):
            roll = rnd.random()
            if roll < 0.55:
                step(mine, me, "submit")
                marks_used += (side.workspace_id, pid, me) in rt.queue_marks
            elif roll < 0.75:
                step(theirs, peer, rnd.choice(["submit", "skip", "expire"]))
            elif roll < 0.82:
                step(mine, me, "skip")
            elif roll < 0.90:
                add(rnd.randint(1, 4), priorities=(-1, 0, 1, 2))
            elif roll < 0.97:
                with system(other_rt).write() as w:  # a raised priority (no API yet: the row itself)
                    T = schema.tasks
                    ids_ = (
                        w.tx.execute(select(T.c.id).where(T.c.project_id == pid, T.c.done.is_(False))).scalars().all()
                    )
                    if ids_:
                        w.tx.execute(T.update().where(T.c.id == rnd.choice(ids_)).values(priority=T.c.priority + 3))
            elif i > 150:
                projects.update_project(side.ctx(other_rt, "manager"), pid, settings={"overlap": 3})
        while _expected_next(rt, pid, me) is not None:  # drain: the end of the queue is reached in order too
            step(mine, me, "submit")
        assert queue.next_task(mine, pid) is None
        assert marks_used > 50  # the resumed scan was exercised, not only the fallback
    finally:
        other_rt.close()


def test_a_deleted_project_takes_its_queue_epoch_along(rt):
    """The epoch row goes with its project; an expired lease in a cascade does not recreate it."""
    side = make_side(rt, "del", n_tasks=3)
    queue.next_task(side.ctx(rt, "annotator"), side.project_id)
    with system(rt).read() as r:
        assert (
            r.tx.execute(
                select(schema.queue_epochs.c.epoch).where(schema.queue_epochs.c.project_id == side.project_id)
            ).scalar_one()
            == 1
        )  # the import bumped it
    projects.delete_project(side.ctx(rt, "owner"), side.project_id)
    with system(rt).read() as r:
        assert (
            r.tx.execute(select(schema.queue_epochs).where(schema.queue_epochs.c.project_id == side.project_id)).first()
            is None
        )
