"""kill -9 in the middle of a job: the restarted server resumes it, and every item is processed once.

A real ``bastion serve`` process (one job runner, a one-second lease) runs a
``search.reindex`` job over a few thousand tasks, ten a chunk. It is SIGKILLed after a
few chunks, restarted, and the job finishes. The proof is in the data, all written in
the chunks' own transactions: the index's blocks cover every task exactly once (their
sizes sum to the task count and their id ranges never overlap — a chunk done twice would
overlap, a chunk lost would leave a gap in the count), the job's checkpoint counts the same,
and the index was emptied once (the first chunk did not run again). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import time

import pytest
from benchmarks.servers import Server
from sqlalchemy import select

from bastion.services import jobs
from bastion.services.runtime import Runtime
from bastion.storage import schema
from environment import MASTER_KEY, make_settings
from factories import add_tasks, fold_audit, make_side, operator_tx, system

TASKS = 2000
BATCH = 10


def _job(rt, job_id: str) -> dict:
    return jobs.get(system(rt), job_id)


@pytest.mark.slow
def test_a_job_killed_mid_way_resumes_and_processes_each_task_once(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    rt = Runtime.open(settings, migrate_schema="never")
    try:
        side = make_side(rt, "kill", n_tasks=0)
        add_tasks(rt, side.project_id, TASKS)
        job = jobs.submit(
            side.ctx(rt, "owner"), side.workspace_id, "search.reindex", {"project_id": side.project_id, "batch": BATCH}
        )
        server = Server(
            settings.data_dir,
            database_url,
            name="jobs",
            extra_env={
                "BASTION_MASTER_KEY": MASTER_KEY,
                "BASTION_JOB_WORKERS": "1",
                "BASTION_JOB_LEASE_SECONDS": "1",
                "BASTION_JOB_POLL_SECONDS": "0.1",
            },
        )
        server.start()
        try:
            deadline = time.monotonic() + 60
            while _job(rt, job["id"])["progress"]["done"] < 5 * BATCH:
                assert time.monotonic() < deadline, server.log_tail()
                time.sleep(0.01)
            server.kill()
            cut = _job(rt, job["id"])
            assert cut["state"] == "running" and 0 < cut["progress"]["done"] < TASKS, cut
            server.start()
            while (now := _job(rt, job["id"]))["state"] in ("queued", "running"):
                assert time.monotonic() < deadline + 60, server.log_tail()
                time.sleep(0.05)
        finally:
            server.stop()
        assert now["state"] == "succeeded" and now["attempts"] == 2, (now, server.log_tail())
        assert now["progress"] == {"done": TASKS, "total": TASKS}
        assert now["checkpoint"]["counts"] == {"tasks": TASKS, "blocks": TASKS // BATCH, "labelled": 0, "agreements": 0}

        B, E = schema.search_blocks, schema.audit_events
        fold_audit(rt)  # queued entries (PostgreSQL) into the log first
        with operator_tx(rt, write=False) as tx:
            blocks = tx.execute(
                select(B.c.first_id, B.c.last_id, B.c.size)
                .where(B.c.workspace_id == side.workspace_id, B.c.project_id == side.project_id)
                .order_by(B.c.first_id)
            ).all()
            events = tx.execute(
                select(E.c.action, E.c.target).where(E.c.workspace_id == side.workspace_id).order_by(E.c.seq)
            ).all()
        assert sum(b.size for b in blocks) == TASKS and len(blocks) == TASKS // BATCH
        assert all(a.last_id < b.first_id for a, b in zip(blocks, blocks[1:], strict=False)), "overlapping blocks"
        actions = [action for action, target in events if target in (job["id"], side.project_id)]
        assert actions.count("search.reindex_started") == 1 and actions.count("search.reindexed") == 1
        assert actions.count("job.started") == 2 and actions[-1] == "job.succeeded"
    finally:
        rt.close()


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_sigterm_stops_a_worker_cleanly_releasing_its_job(tmp_path, database_url):
    """``bastion worker`` on SIGTERM: the current chunk ends, the lease is released (the job queued
    again, the attempt not counted), the process exits 0; the job then finishes elsewhere, once."""
    import signal
    import subprocess
    import sys

    from benchmarks.servers import server_env

    from bastion.services.job_runner import Runner

    settings = make_settings(tmp_path, database_url)
    rt = Runtime.open(settings, migrate_schema="never")
    try:
        side = make_side(rt, "term", n_tasks=0)
        add_tasks(rt, side.project_id, TASKS)
        job = jobs.submit(system(rt), side.workspace_id, "search.reindex", {"project_id": side.project_id, "batch": 10})
        env = server_env(settings.data_dir, database_url, BASTION_MASTER_KEY=MASTER_KEY, BASTION_JOB_POLL_SECONDS="0.1")
        worker = subprocess.Popen(
            [sys.executable, "-m", "bastion.cli", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while _job(rt, job["id"])["progress"]["done"] < 5 * BATCH:
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.01)
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == 0, output
        released = _job(rt, job["id"])
        assert released["state"] == "queued" and released["attempts"] == 0, released
        assert 0 < released["progress"]["done"] < TASKS
        assert Runner(rt).run_once()
        done = _job(rt, job["id"])
        assert done["state"] == "succeeded" and done["checkpoint"]["counts"]["tasks"] == TASKS
        B = schema.search_blocks
        with operator_tx(rt, write=False) as tx:
            sizes = tx.execute(select(B.c.size).where(B.c.project_id == side.project_id)).scalars().all()
        assert sum(sizes) == TASKS and len(sizes) == TASKS // BATCH
    finally:
        rt.close()
