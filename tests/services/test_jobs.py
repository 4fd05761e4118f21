"""The jobs runner: submit, claim under a lease, chunks with their checkpoint, retries, cancel,
release, lease takeover — and who may see a job (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from bastion.access import Action
from bastion.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.services import jobs
from bastion.services.job_kinds import REINDEX_SEARCH, JobKinds, Prepared, Step
from bastion.services.job_runner import Runner, backoff_ms, error_text
from bastion.storage import schema
from factories import ROLES, add_tasks, as_user, fold_audit, make_side, make_user, operator_tx, system


class Flaky:
    """A test kind: ``chunks`` chunks, the first ``fail`` of them raising; each chunk counts itself in
    the checkpoint (committed with it)."""

    name = "test.flaky"
    action = Action.PROJECT_MANAGE
    description = "counts chunks; fails the first few"
    max_attempts = 2

    def __init__(self) -> None:
        self.calls = 0

    def prepare(self, u, workspace_id: str, params) -> Prepared:
        return Prepared({"chunks": int(params.get("chunks", 3)), "fail": int(params.get("fail", 0))})

    def run_chunk(self, u, job, checkpoint: dict[str, Any] | None) -> Step:
        self.calls += 1
        if self.calls <= job.params["fail"]:
            raise RuntimeError("the secret text of a task")  # must not be kept
        done = (checkpoint or {}).get("done", 0) + 1
        return Step({"done": done}, done=done, total=job.params["chunks"], finished=done >= job.params["chunks"])


@pytest.fixture
def flaky(rt):
    kind = Flaky()
    rt.job_kinds = JobKinds([REINDEX_SEARCH, kind])
    return kind


def _blocks(rt, side) -> tuple[int, int]:
    """(blocks, tasks named in blocks) of the side's project's search index."""
    B = schema.search_blocks
    with operator_tx(rt, write=False) as tx:
        row = tx.execute(
            select(func.count(), func.coalesce(func.sum(B.c.size), 0)).where(
                B.c.workspace_id == side.workspace_id, B.c.project_id == side.project_id
            )
        ).one()
    return int(row[0]), int(row[1])


def _actions(rt, side, job_id: str) -> list[str]:
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    E = schema.audit_events
    with operator_tx(rt, write=False) as tx:
        return list(
            tx.execute(
                select(E.c.action).where(E.c.workspace_id == side.workspace_id, E.c.target == job_id).order_by(E.c.seq)
            ).scalars()
        )


def test_a_reindex_job_runs_in_chunks_to_the_end(rt):
    side = make_side(rt, "j", n_tasks=25)
    owner = side.ctx(rt, "owner")
    job = jobs.submit(owner, side.workspace_id, "search.reindex", {"project_id": side.project_id, "batch": 10})
    assert job["state"] == "queued" and job["progress"] == {"done": 0, "total": None}
    assert jobs.submit(owner, side.workspace_id, "search.reindex", {"project_id": side.project_id})["id"] == job["id"]
    seen: list[tuple[int, int | None]] = []
    assert Runner(rt).run_once(progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 25), (10, 25), (20, 25), (25, 25), (25, 25)]
    done = jobs.get(owner, job["id"])
    assert done["state"] == "succeeded" and done["attempts"] == 1 and done["progress"] == {"done": 25, "total": 25}
    assert done["checkpoint"]["counts"]["tasks"] == 25 and done["finished_at"]
    assert _blocks(rt, side) == (3, 25)  # every task in exactly one block
    assert _actions(rt, side, job["id"]) == ["job.submitted", "job.started", "job.succeeded"]
    assert not Runner(rt).run_once()  # nothing left
    again = jobs.submit(owner, side.workspace_id, "search.reindex", {"project_id": side.project_id})
    assert again["id"] != job["id"]  # a finished job does not hold its dedupe key


def test_a_taken_over_lease_never_doubles_a_chunk(rt):
    side = make_side(rt, "l", n_tasks=12)
    job = jobs.submit(system(rt), side.workspace_id, "search.reindex", {"project_id": side.project_id, "batch": 5})
    first = Runner(rt)
    claimed = first._claim(None)  # a runner claims it, then stalls (or was killed)
    assert claimed is not None and claimed.id == job["id"]
    with operator_tx(rt) as tx:
        tx.execute(update(schema.jobs).where(schema.jobs.c.id == job["id"]).values(lease_expires_at=1))
    assert Runner(rt).run_once()  # another runner takes it over and finishes it
    first._run(claimed, REINDEX_SEARCH, None)  # the first wakes up: its lease is gone, it does nothing
    after = jobs.get(system(rt), job["id"])
    assert after["state"] == "succeeded" and after["attempts"] == 2
    assert _blocks(rt, side) == (3, 12)


def test_failures_retry_with_backoff_then_fail_keeping_no_content(rt, flaky):
    side = make_side(rt, "f", n_tasks=1)
    owner = side.ctx(rt, "owner")
    job = jobs.submit(owner, side.workspace_id, "test.flaky", {"chunks": 2, "fail": 5})
    assert Runner(rt).run_once()
    queued = jobs.get(owner, job["id"])
    assert queued["state"] == "queued" and queued["attempts"] == 1 and queued["run_after"] > queued["updated_at"]
    assert queued["last_error"] == "RuntimeError (details in the server log)"
    assert not Runner(rt).run_once()  # backing off
    with operator_tx(rt) as tx:
        tx.execute(update(schema.jobs).where(schema.jobs.c.id == job["id"]).values(run_after=0))
    assert Runner(rt).run_once()
    failed = jobs.get(owner, job["id"])
    assert failed["state"] == "failed" and failed["attempts"] == 2 and "secret" not in str(failed)
    assert _actions(rt, side, job["id"]) == [
        "job.submitted",
        "job.started",
        "job.retry_scheduled",
        "job.started",
        "job.failed",
    ]
    flaky.calls = 10  # it would succeed now
    retried = jobs.retry(owner, job["id"])
    assert retried["state"] == "queued" and retried["attempts"] == 0
    with pytest.raises(Conflict):
        jobs.retry(owner, job["id"])
    assert Runner(rt).run_once()
    assert jobs.get(owner, job["id"])["state"] == "succeeded"
    with pytest.raises(Conflict):
        jobs.cancel(owner, job["id"])


def test_backoff_doubles_with_jitter_and_has_a_ceiling():
    import random

    rng = random.Random(1)
    for attempt in range(1, 6):
        wait = backoff_ms(10, attempt, rng)
        assert 5000 * 2 ** (attempt - 1) <= wait <= 10000 * 2 ** (attempt - 1)
    assert backoff_ms(10, 40, rng) <= 3_600_000
    assert error_text(NotFound("project not found")) == "not_found: project not found"


def test_cancel_is_honoured_between_chunks_and_stop_releases_the_lease(rt, flaky):
    side = make_side(rt, "c", n_tasks=1)
    owner = side.ctx(rt, "owner")
    queued = jobs.submit(owner, side.workspace_id, "test.flaky", {"chunks": 5})
    assert jobs.cancel(owner, queued["id"])["state"] == "cancelled"  # a queued job: at once
    job = jobs.submit(owner, side.workspace_id, "test.flaky", {"chunks": 5})
    assert Runner(rt).run_once(progress=lambda done, total: done == 2 and jobs.cancel(owner, job["id"]))
    cancelled = jobs.get(owner, job["id"])
    assert cancelled["state"] == "cancelled" and cancelled["progress"]["done"] == 2
    assert jobs.retry(owner, job["id"])["state"] == "queued"
    stopping = Runner(rt)
    stopping.run_once(progress=lambda done, total: stopping.stop())  # SIGTERM after one chunk
    released = jobs.get(owner, job["id"])
    assert released["state"] == "queued" and released["attempts"] == 0 and released["progress"]["done"] == 3
    assert Runner(rt).run_once()
    assert jobs.get(owner, job["id"])["progress"] == {"done": 5, "total": 5}
    assert "job.released" in _actions(rt, side, job["id"])


def test_bad_submissions_are_refused_with_a_clear_error(rt):
    a = make_side(rt, "a", n_tasks=1)
    b = make_side(rt, "b", n_tasks=1)
    owner = a.ctx(rt, "owner")
    with pytest.raises(InvalidInput, match="no job kind named 'nope'"):
        jobs.submit(owner, a.workspace_id, "nope", {})
    with pytest.raises(InvalidInput, match="params.project_id"):
        jobs.submit(owner, a.workspace_id, "search.reindex", {})
    with pytest.raises(InvalidInput, match="params.batch"):
        jobs.submit(owner, a.workspace_id, "search.reindex", {"project_id": a.project_id, "batch": 0})
    with pytest.raises(InvalidInput, match="unknown key 'text'"):
        jobs.submit(owner, a.workspace_id, "search.reindex", {"project_id": a.project_id, "text": "x"})
    with pytest.raises(NotFound):  # B's project, in A's workspace
        jobs.submit(owner, a.workspace_id, "search.reindex", {"project_id": b.project_id})
    with pytest.raises(NotFound):  # into B's workspace
        jobs.submit(owner, b.workspace_id, "search.reindex", {"project_id": b.project_id})
    with pytest.raises(PermissionDenied):
        jobs.submit(a.ctx(rt, "annotator"), a.workspace_id, "search.reindex", {"project_id": a.project_id})
    with pytest.raises(InvalidInput):
        jobs.list_jobs(owner, a.workspace_id, state="done")
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(func.count()).select_from(schema.jobs)).scalar_one() == 0


def test_only_members_whose_role_fits_the_kind_see_a_job(rt):
    """An invariant over every role of both workspaces, an outsider and a platform admin: a job is seen
    (read, listed, cancelled, retried) exactly by its workspace's members whose role allows its kind."""
    a = make_side(rt, "a", n_tasks=1)
    b = make_side(rt, "b", n_tasks=1)
    job = jobs.submit(b.ctx(rt, "manager"), b.workspace_id, "search.reindex", {"project_id": b.project_id})
    outsider = as_user(rt, make_user(rt, "outsider@example.com").id)
    admin = as_user(rt, make_user(rt, "admin@example.com", admin=True).id, is_admin=True)
    callers = [(f"a.{r}", a.ctx(rt, r), False) for r in ROLES]
    callers += [(f"b.{r}", b.ctx(rt, r), r in ("owner", "manager")) for r in ROLES]
    callers += [("outsider", outsider, False), ("admin", admin, False)]
    for name, ctx, sees in callers:
        if sees:
            assert jobs.get(ctx, job["id"])["id"] == job["id"], name
            assert [j["id"] for j in jobs.list_jobs(ctx, b.workspace_id)] == [job["id"]], name
            continue
        for call in (jobs.get, jobs.cancel, jobs.retry):
            with pytest.raises(NotFound):
                call(ctx, job["id"])
        try:
            assert jobs.list_jobs(ctx, b.workspace_id) == [], name  # a member of B in another role
        except NotFound:
            assert not name.startswith("b."), name
    read_only = as_user(rt, b.users["owner"], read_only=True)
    assert jobs.get(read_only, job["id"])["state"] == "queued"
    with pytest.raises(PermissionDenied):
        jobs.cancel(read_only, job["id"])
    with pytest.raises(NotFound):
        jobs.get(b.ctx(rt, "owner"), "job_" + "0" * 32)
    with pytest.raises(NotFound):
        jobs.get(b.ctx(rt, "owner"), "not-an-id")
    assert jobs.get(b.ctx(rt, "owner"), job["id"])["state"] == "queued"  # nobody changed it


def test_the_old_entry_point_still_reindexes_in_process(rt):
    from bastion.services import search

    side = make_side(rt, "o", n_tasks=7)
    add_tasks(rt, side.project_id, 3, start=100)
    assert search.reindex_project(system(rt), side.project_id)["tasks"] == 10
    assert _blocks(rt, side) == (1, 10)


def test_a_plugin_kind_registers_through_the_hook_like_the_built_in():
    import types

    from bastion.plugins import hookimpl, plugin_manager
    from bastion.services.job_kinds import installed

    plugin = types.ModuleType("bastion_test_job_plugin")
    plugin.bastion_job_kinds = hookimpl(lambda: [Flaky()])  # type: ignore[attr-defined]
    pm = plugin_manager()
    pm.register(plugin)
    try:
        assert installed().names == ["prelabel.run", "search.reindex", "test.flaky", "webhook.deliver"]
        twice = types.ModuleType("bastion_test_job_plugin_twice")
        twice.bastion_job_kinds = hookimpl(lambda: [Flaky()])  # type: ignore[attr-defined]
        pm.register(twice)
        try:
            with pytest.raises(ValueError, match="two job kinds named 'test.flaky'"):
                installed()
        finally:
            pm.unregister(twice)
    finally:
        pm.unregister(plugin)
    assert installed().names == ["prelabel.run", "search.reindex", "webhook.deliver"]


def test_concurrent_runners_claim_each_job_once(rt, flaky):
    import threading

    side = make_side(rt, "cc", n_tasks=0)
    owner = side.ctx(rt, "owner")
    submitted = [jobs.submit(owner, side.workspace_id, "test.flaky", {"chunks": 3})["id"] for _ in range(6)]
    runners = [Runner(rt, name=f"r{n}") for n in range(3)]
    claimed: dict[str, list[str]] = {r.owner: [] for r in runners}

    def work(runner: Runner) -> None:
        while True:
            job = runner._claim(None)
            if job is None:
                return
            claimed[runner.owner].append(job.id)
            runner._run(job, flaky, None)

    threads = [threading.Thread(target=work, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ran = sorted(job_id for ids_ in claimed.values() for job_id in ids_)
    assert ran == sorted(submitted)  # each claimed by exactly one runner
    for job_id in submitted:
        job = jobs.get(owner, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1 and job["progress"]["done"] == 3
