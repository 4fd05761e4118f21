"""The jobs runner: claims due jobs under a lease and runs them chunk by chunk.

Who runs it: every ``bastion serve`` process (``BASTION_JOB_WORKERS`` threads, default 1;
0 runs none) and ``bastion worker`` (jobs only). Runners share nothing but the database.

One job's life in a runner::

    claim (lease: owner + expiry, attempts + 1)       -- job.started
      loop:  one transaction per chunk:
               hold the lease (renew it; lost? roll back and let go)
               cancel requested?  -> cancelled            -- job.cancelled
               kind.run_chunk(unit, job, checkpoint)
               save the new checkpoint and progress
               finished?          -> succeeded            -- job.succeeded
               waiting (Step.wait_ms)? -> queued again, due then, the attempt uncounted
      a chunk raised:  attempts left -> queued again after a back-off  -- job.retry_scheduled
                       none left, or an error no retry can mend -> failed  -- job.failed
      asked to stop (SIGTERM): the lease is released, the job queued again -- job.released
    meanwhile a heartbeat thread renews the lease every third of its length

Exactly once: a chunk's work, its checkpoint and the lease check commit in one
transaction. A runner killed mid-chunk leaves nothing of that chunk; after the lease
expires any runner reclaims the job and resumes from the last checkpoint. A runner that
stalled past its lease finds the lease gone when it next holds, and its chunk rolls back.

The trap: a chunk must not outlast the lease while another runner may claim: on
PostgreSQL the hold's row lock keeps claimers off until the chunk commits (the claim skips
locked rows), and on SQLite the chunk holds the write lock every claim needs — so a long
chunk delays a takeover, never doubles work. Keep chunks short anyway (seconds): cancel
and shutdown wait for the current chunk.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .context import Context
from .job_kinds import JobKind, RunningJob, Step, kinds_of
from .runtime import Runtime
from ..access import Actor
from ..domain.errors import BastionError, InvalidInput, NotFound
from ..storage import jobs_store
from ..storage.jobs_store import JobRow

log = logging.getLogger("bastion.jobs")

MAX_BACKOFF_MS = 3_600_000


def backoff_ms(base_seconds: float, attempt: int, rng: random.Random | None = None) -> int:
    """The wait before retry number ``attempt`` (1, 2, …): ``base · 2^(attempt-1)``, at most an hour, with
    jitter (a uniform draw over its upper half) so that jobs failing together do not retry together."""
    full = min(base_seconds * 1000 * 2 ** max(attempt - 1, 0), MAX_BACKOFF_MS)
    return int(full * (0.5 + 0.5 * (rng or random).random()))


def error_text(exc: BaseException) -> str:
    """What a failure keeps: Bastion's own errors (written for people, no content) with their message;
    anything else by its type only (a driver's message can quote the data; the log has the rest)."""
    if isinstance(exc, BastionError):
        return f"{exc.code}: {str(exc)[:500]}"
    return f"{type(exc).__name__} (details in the server log)"


def is_permanent(exc: BaseException) -> bool:
    """Errors no retry can mend: the job names something that is gone, or params that are wrong."""
    return isinstance(exc, NotFound | InvalidInput)


class Runner:
    """One runner: ``run_once`` runs one due job (or this one); ``run_forever`` until ``stop``."""

    def __init__(self, rt: Runtime, *, name: str = "runner", sweeps: bool = False) -> None:
        self.rt = rt
        # The credential sweep (services/credentials.py): reminders before expiry, leases an expiry ended.
        self.sweeps = sweeps
        self._next_sweep = 0.0
        self.ctx = Context(rt, Actor.system())
        self.owner = f"{socket.gethostname()[:24]}:{os.getpid()}:{name[:12]}:{secrets.token_hex(4)}"
        self.lease_ms = max(int(rt.settings.job_lease_seconds * 1000), 1)
        self._stop = threading.Event()
        self.kinds = kinds_of(rt)

    # -- control --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop after the current chunk (its lease released: the job goes back to the queue)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_forever(self) -> None:
        poll = self.rt.settings.job_poll_seconds
        while not self._stop.is_set():
            self.maybe_sweep()
            try:
                ran = self.run_once()
            except Exception:  # a database blip must not end the runner
                log.exception("the job runner failed to claim a job")
                ran = False
            if not ran:
                self._stop.wait(poll)

    def maybe_sweep(self, clock: Callable[[], float] = time.monotonic) -> bool:
        """Run the credential sweep when it is due (every ``credential_sweep_seconds``); whether it ran.
        Idempotent, so several runners sweeping at once announce nothing twice."""
        if not self.sweeps or clock() < self._next_sweep:
            return False
        self._next_sweep = clock() + self.rt.settings.credential_sweep_seconds
        from .credentials import sweep

        try:
            sweep(self.ctx)
        except Exception:  # a database blip must not end the runner; the next sweep catches up
            log.exception("the credential sweep failed")
        return True

    # -- one job ------------------------------------------------------------------------------------

    def run_once(self, job_id: str | None = None, progress: Callable[[int, int | None], None] | None = None) -> bool:
        """Claim one due job (``job_id``: that one only) and run it until it ends, fails a chunk, is
        cancelled or this runner stops. False when none was due. ``progress(done, total)`` after each chunk."""
        job = self._claim(job_id)
        if job is None:
            return False
        kind = self.kinds.get(job.kind)
        beat = _Heartbeat(self, job)
        beat.start()
        try:
            self._run(job, kind, progress)
        finally:
            beat.stop()
        return True

    def _claim(self, job_id: str | None) -> JobRow | None:
        # A read first: an idle runner polls without taking SQLite's write lock.
        with self.ctx.read() as r:
            if not jobs_store.any_due(r.tx, now=r.now, kinds=self.kinds.names, job_id=job_id):
                return None
        with self.ctx.write() as w:
            job = jobs_store.claim(
                w.tx, self.owner, now=w.now, lease_ms=self.lease_ms, kinds=self.kinds.names, job_id=job_id
            )
            if job is None:
                return None
            if job.attempts > job.max_attempts:
                error = f"stopped: its runner went away {job.attempts - 1} times (lease expired)"
                jobs_store.finish(w.tx, job.workspace_id, job.id, "failed", now=w.now, error=error)
                w.audit(job.workspace_id, "job.failed", job.id, kind=job.kind, attempts=job.attempts - 1)
                return None
            w.audit(
                job.workspace_id,
                "job.started",
                job.id,
                kind=job.kind,
                attempt=job.attempts,
                resumed=job.checkpoint is not None,
            )
            return job

    def _run(self, job: JobRow, kind: JobKind, progress: Callable[[int, int | None], None] | None) -> None:
        ws, job_id = job.workspace_id, job.id
        while True:
            if self._stop.is_set():
                self._release(job)
                return
            before = getattr(kind, "before_chunk", None)
            prefetched, seen = None, None
            if before is not None:  # remote work first, outside any transaction (job_kinds.py)
                try:
                    with self.ctx.read() as r:
                        seen = jobs_store.get_job(r.tx, ws, job_id)
                    prefetched = before(self.ctx, _running(seen), seen.checkpoint)
                except Exception as exc:
                    self._failed(job, exc)
                    return
            try:
                with self.ctx.write() as w:
                    held = jobs_store.hold(w.tx, ws, job_id, self.owner, now=w.now, lease_ms=self.lease_ms)
                    if held is None:
                        log.warning("job %s: the lease was taken over; this runner lets it go", job_id)
                        return
                    if held.cancel_requested:
                        jobs_store.finish(w.tx, ws, job_id, "cancelled", now=w.now)
                        w.audit(ws, "job.cancelled", job_id, kind=held.kind, done=held.progress_done)
                        return
                    if seen is not None and held.checkpoint != seen.checkpoint:
                        continue  # the job moved on meanwhile: fetch again from where it is now
                    running = _running(held, prefetched)
                    step: Step = kind.run_chunk(w, running, held.checkpoint)
                    jobs_store.save_progress(
                        w.tx, ws, job_id, checkpoint=step.checkpoint, done=step.done, total=step.total, now=w.now
                    )
                    if step.finished:
                        jobs_store.finish(w.tx, ws, job_id, "succeeded", now=w.now)
                        w.audit(ws, "job.succeeded", job_id, kind=held.kind, done=step.done, **step.result)
                    elif step.wait_ms is not None:
                        run_after = w.now + max(int(step.wait_ms), 0)
                        jobs_store.requeue(w.tx, ws, job_id, run_after=run_after, now=w.now, error=None, uncount=True)
            except Exception as exc:
                self._failed(job, exc)
                return
            if progress is not None:
                progress(step.done, step.total)
            if step.finished or step.wait_ms is not None:
                return

    def _failed(self, job: JobRow, exc: Exception) -> None:
        """A chunk raised (its transaction rolled back): retry later, or fail for good."""
        if not is_permanent(exc):
            log.error("job %s (%s) failed a chunk", job.id, job.kind, exc_info=exc)
        text = error_text(exc)
        ws = job.workspace_id
        with self.ctx.write() as w:
            held = jobs_store.hold(w.tx, ws, job.id, self.owner, now=w.now, lease_ms=self.lease_ms)
            if held is None:
                return
            if is_permanent(exc) or held.attempts >= held.max_attempts:
                jobs_store.finish(w.tx, ws, job.id, "failed", now=w.now, error=text)
                w.audit(ws, "job.failed", job.id, kind=held.kind, attempts=held.attempts, error=type(exc).__name__)
                return
            delay = backoff_ms(self.rt.settings.job_retry_seconds, held.attempts)
            jobs_store.requeue(w.tx, ws, job.id, run_after=w.now + delay, now=w.now, error=text)
            w.audit(
                ws,
                "job.retry_scheduled",
                job.id,
                kind=held.kind,
                attempts=held.attempts,
                delay_ms=delay,
                error=type(exc).__name__,
            )

    def _release(self, job: JobRow) -> None:
        """This runner stops: the job goes back to the queue, due now, the attempt not counted."""
        with self.ctx.write() as w:
            if jobs_store.hold(w.tx, job.workspace_id, job.id, self.owner, now=w.now, lease_ms=self.lease_ms):
                jobs_store.requeue(w.tx, job.workspace_id, job.id, run_after=w.now, now=w.now, error=None, uncount=True)
                w.audit(job.workspace_id, "job.released", job.id, kind=job.kind)

    def heartbeat(self, job: JobRow) -> bool:
        """Renew the lease now; False when it is no longer this runner's."""
        with self.ctx.write() as w:
            held = jobs_store.hold(w.tx, job.workspace_id, job.id, self.owner, now=w.now, lease_ms=self.lease_ms)
            return held is not None


def _running(row: JobRow, prefetched: Any = None) -> RunningJob:
    return RunningJob(
        row.workspace_id,
        row.id,
        row.kind,
        row.params,
        row.attempts,
        row.progress_done,
        row.progress_total,
        prefetched,
    )


class _Heartbeat:
    """Renews a running job's lease every third of its length, in a thread of its own."""

    def __init__(self, runner: Runner, job: JobRow) -> None:
        self.runner = runner
        self.job = job
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"bastion-job-heartbeat-{job.id[-6:]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(10)

    def _beat(self) -> None:
        every = self.runner.lease_ms / 3000
        while not self._done.wait(every):
            try:
                if not self.runner.heartbeat(self.job):
                    return
            except Exception:
                log.exception("job %s: heartbeat failed", self.job.id)


class RunnerThreads:
    """``count`` runners in daemon threads (a server's); ``stop`` lets each finish or release its chunk."""

    def __init__(self, rt: Runtime, count: int) -> None:
        self.runners = [Runner(rt, name=f"t{n}", sweeps=n == 0) for n in range(count)]
        self.threads = [
            threading.Thread(target=r.run_forever, name=f"bastion-jobs-{n}", daemon=True)
            for n, r in enumerate(self.runners)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 30) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout)


def run_until_finished(
    rt: Runtime, job_id: str, progress: Callable[[int, int | None], None] | None = None, *, poll_seconds: float = 0.5
) -> JobRow:
    """Run this job here until it ends — or, when another runner (a server's, a worker's) holds it,
    wait for it, reporting its progress. A retry after a back-off runs here when it is due.
    Returns the finished job (succeeded, failed or cancelled)."""
    runner = Runner(rt, name="cli")
    ctx = Context(rt, Actor.system())
    while True:
        runner.run_once(job_id, progress)
        with ctx.read() as r:
            job = jobs_store.find_job(r.tx, job_id, workspace_ids=None)
        if job is None:
            raise NotFound("job not found")
        if job.state in jobs_store.FINISHED:
            return job
        if progress is not None:
            progress(job.progress_done, job.progress_total)
        runner._stop.wait(poll_seconds)
