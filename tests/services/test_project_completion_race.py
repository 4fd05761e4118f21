"""``project.completed`` is announced exactly once when the last two tasks are completed at the same moment
(PostgreSQL: each transaction sees the other's counter shard uncommitted; services/annotations.py)."""

from __future__ import annotations

import threading

import pytest

from bastion.services import annotations, events, queue
from bastion.services import projects as projects_service
from bastion.storage import projects_store
from factories import make_side


class _ShardByThread:
    """Each submitting thread bumps its own counter shard, so neither waits on the other's row lock."""

    def randrange(self, n: int) -> int:
        return {"a": 0, "b": 1}.get(threading.current_thread().name, 2) % n


@pytest.mark.parametrize("db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_last_completions_at_once_announce_the_project_once(rt, monkeypatch):
    side = make_side(rt, "race", n_tasks=2, settings={"overlap": 1})
    workers = [side.ctx(rt, "annotator"), side.ctx(rt, "reviewer")]
    leased = [queue.next_task(ctx, side.project_id)["id"] for ctx in workers]
    assert len(set(leased)) == 2

    # Both transactions have bumped their counters and summed them before either commits.
    both_summed = threading.Barrier(2, timeout=20)
    first_sum = threading.local()
    real_sum = projects_store.sum_counts

    def sum_counts(tx, project_ids, *, workspace_id):
        counts = real_sum(tx, project_ids, workspace_id=workspace_id)
        if threading.current_thread().name in ("a", "b") and not getattr(first_sum, "done", False):
            first_sum.done = True
            both_summed.wait()
        return counts

    monkeypatch.setattr(projects_store, "sum_counts", sum_counts)
    monkeypatch.setattr(projects_service, "random", _ShardByThread())
    failures: list[BaseException] = []

    def submit(ctx, task_id):
        try:
            annotations.submit_annotation(ctx, task_id, {"label": "pos"})
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [
        threading.Thread(target=submit, args=(ctx, task_id), name=name)
        for name, ctx, task_id in zip("ab", workers, leased, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    kinds = [e["kind"] for e in events.list_events(side.ctx(rt, "owner"), side.workspace_id)["events"]]
    assert kinds.count("task.completed") == 2
    assert kinds.count("project.completed") == 1, kinds
