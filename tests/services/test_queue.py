"""The queue: overlap, leases, expiry, skip, and the same task twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.domain.errors import Conflict, NotFound, PermissionDenied
from bastion.services import annotations, projects, queue
from bastion.storage import schema
from factories import as_user, make_side, make_user, system
from bastion.services import workspaces


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
    with rt.db.transaction(write=False) as tx:
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
    with rt.db.transaction() as tx:
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
    with rt.db.transaction() as tx:
        tx.execute(schema.assignments.update().values(expires_at=0))
    annotations.submit_annotation(as_user(rt, w1), task["id"], {"label": "pos"})
    with rt.db.transaction(write=False) as tx:
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


def test_queue_uses_the_open_task_index(rt):
    """The next-task query reads ix_tasks_queue (cost independent of project size)."""
    side = make_side(rt, "ix", n_tasks=3)
    from bastion.services.queue import candidate_query

    query = candidate_query(side.workspace_id, side.project_id, 1, side.users["annotator"],
                            skip_locked=rt.db.dialect.name == "postgresql")
    with rt.db.transaction() as tx:
        sql = str(query.compile(dialect=tx.conn.dialect, compile_kwargs={"literal_binds": True}))
        if rt.db.dialect.name == "sqlite":
            plan = tx.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        else:
            tx.conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = tx.conn.exec_driver_sql("EXPLAIN " + sql).all()
    assert any("ix_tasks_queue" in str(row) for row in plan), plan
