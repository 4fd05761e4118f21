"""Reclaiming expired leases never deadlocks with the late submit of one of them (PostgreSQL).

Found by ``python -m benchmarks.crash --db postgresql`` (a 500 on submit after a kill):
a submit takes its assignment row (``CONSUME``) and then its task row (the slot's
count); ``reclaim_expired``, run by another person's next, walked the expired leases
taking each assignment row and then its task row. With two expired leases on one task
— one of them the submitter's, past its expiry but not yet reclaimed — the reclaim held
the task row (from the other lease) and waited for the submitter's assignment row while
the submitter waited for the task row: PostgreSQL's deadlock detector then failed one of
them. The reclaim now passes over assignment rows another transaction holds (a lease
being submitted or renewed is not the reclaim's to expire), so it never waits for one.
SQLite runs one writer at a time: no deadlock is possible there.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from bastion.services import queue, workspaces
from bastion.storage import queue_store as qs
from bastion.storage import schema
from factories import as_user, make_side, make_user, operator_tx, system


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_reclaim_and_a_late_submit_of_an_expired_lease_do_not_deadlock(rt):
    side = make_side(rt, "dl", n_tasks=1, settings={"overlap": 2, "lease_seconds": 10})
    ws, project = side.workspace_id, side.project_id
    people = []
    for name in ("x", "s", "r"):
        user = make_user(rt, f"{name}.dl@example.com")
        workspaces.add_member(system(rt), ws, user.id, "annotator")
        people.append(user.id)
    x, s, _ = people
    task = queue.next_task(as_user(rt, x), project)["id"]
    assert queue.next_task(as_user(rt, s), project)["id"] == task  # overlap 2: both hold the one task
    A = schema.assignments
    with operator_tx(rt) as tx:
        lease = dict(tx.execute(select(A.c.user_id, A.c.id).where(A.c.task_id == task)).all())
        # both expired, x's first (the order the reclaim meets them in)
        tx.execute(A.update().where(A.c.id == lease[x]).values(expires_at=1))
        tx.execute(A.update().where(A.c.id == lease[s]).values(expires_at=2))

    failures: list[BaseException] = []

    def reclaim() -> None:
        try:
            with system(rt).write() as u:
                queue.reclaim_expired(u, ws, project)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    reclaimer = threading.Thread(target=reclaim)
    with operator_tx(rt) as tx:  # s's late submit, its two row updates in submit_annotation's order
        assert qs.CONSUME.run(tx, ws=ws, id=lease[s], now=int(time.time() * 1000))
        reclaimer.start()
        # Until the reclaim is done, or waits for a lock (on s's assignment row, holding the task's)
        with rt.db.engine.connect() as probe:
            deadline = time.monotonic() + 30
            while reclaimer.is_alive() and time.monotonic() < deadline:
                waiting = probe.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).scalar()
                if waiting:
                    break
                time.sleep(0.01)
        try:
            counted = qs.COUNT_SLOT_LEASED.one(tx, ws=ws, id=task, overlap=2, yes=True, no=False)
        except Exception as exc:  # noqa: BLE001 - a deadlock victim
            failures.append(exc)
            raise
        finally:
            reclaimer.join(60)
    assert not failures, failures
    assert counted is not None
    with operator_tx(rt) as tx:
        states = dict(tx.execute(select(A.c.user_id, A.c.state).where(A.c.task_id == task)).all())
        counts = tx.execute(
            select(schema.tasks.c.annotation_count, schema.tasks.c.lease_count).where(schema.tasks.c.id == task)
        ).one()
    assert states == {x: "expired", s: "submitted"}
    assert tuple(counts) == (1, 0)  # one slot counted, both leases gone: each released once
