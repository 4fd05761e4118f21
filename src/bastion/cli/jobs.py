"""``bastion job …`` (list, show, cancel, retry) and ``bastion worker``: the jobs runner's commands.

Commands run as the local operator (any workspace). ``bastion worker`` runs jobs only:
as many runners as ``--threads`` until SIGTERM or Ctrl-C, when each finishes or releases
its current chunk (docs/jobs.md).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from ._output import listing, out, print_json, print_table, progress_bar, when
from ._runtime import context, runtime
from ..domain.errors import BastionError
from ..services import job_runner, jobs

job_app = typer.Typer(help="Long work run by the jobs runner: list, show, cancel, retry.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


def _progress(job: dict[str, Any]) -> str:
    done, total = job["progress"]["done"], job["progress"]["total"]
    return f"{done}/{total}" if total is not None else str(done)


def _line(job: dict[str, Any]) -> str:
    state = job["state"] + (" (cancel requested)" if job["cancel_requested"] else "")
    error = f"  {job['last_error']}" if job["last_error"] else ""
    return f"{job['id']}  {job['kind']}  {state}  {_progress(job)}  attempts {job['attempts']}/{job['max_attempts']}{error}"


@job_app.command("list")
def job_list(
    workspace_id: Annotated[str, typer.Argument(help="The workspace (ws_…).")],
    state: Annotated[
        str | None,
        typer.Option("--state", help="Only jobs in this state: queued, running, succeeded, failed, cancelled."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
):
    """A workspace's jobs, newest first."""
    found = jobs.list_jobs(context(runtime()), workspace_id, state=state, limit=limit)
    if as_json:
        print_json(found)
        return
    table = listing("id", "kind", "state", "progress", "attempts", "created", "error", ids=("id",))
    for job in found:
        table.add_row(
            job["id"],
            job["kind"],
            job["state"] + (" (cancel requested)" if job["cancel_requested"] else ""),
            _progress(job),
            f"{job['attempts']}/{job['max_attempts']}",
            when(job["created_at"]),
            job["last_error"] or "",
        )
    print_table(table)


@job_app.command("show")
def job_show(job_id: Annotated[str, typer.Argument(help="The job (job_…).")], as_json: JsonOpt = False):
    """One job: its state, progress, attempts, checkpoint and last error."""
    job = jobs.get(context(runtime()), job_id)
    if as_json:
        print_json(job)
        return
    out.print(_line(job), highlight=False)
    out.print(f"params: {job['params']}", highlight=False)
    if job["checkpoint"] is not None:
        out.print(f"checkpoint: {job['checkpoint']}", highlight=False)
    out.print(
        f"created {when(job['created_at'])} by {job['created_by']}; started {when(job['started_at'])}; "
        f"finished {when(job['finished_at'])}",
        highlight=False,
    )


@job_app.command("cancel")
def job_cancel(job_id: Annotated[str, typer.Argument(help="The job (job_…).")], as_json: JsonOpt = False):
    """Cancel a job: a queued one at once, a running one when its current chunk ends."""
    job = jobs.cancel(context(runtime()), job_id)
    print_json(job) if as_json else out.print(_line(job), highlight=False)


@job_app.command("retry")
def job_retry(job_id: Annotated[str, typer.Argument(help="The job (job_…).")], as_json: JsonOpt = False):
    """Queue a failed or cancelled job again; it resumes from its last checkpoint."""
    job = jobs.retry(context(runtime()), job_id)
    print_json(job) if as_json else out.print(_line(job), highlight=False)


def worker(
    threads: Annotated[int, typer.Option("--threads", min=1, max=64, help="Runners in this process.")] = 1,
):
    """Run jobs only (no web server) until SIGTERM or Ctrl-C; each runner then finishes or releases its chunk."""
    rt = runtime()
    runners = job_runner.RunnerThreads(rt, threads)
    stopped = threading.Event()

    def stop(signum, frame) -> None:
        stopped.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    runners.start()
    out.print(f"bastion worker: {threads} runner(s); stop with SIGTERM or Ctrl-C", highlight=False)
    try:
        while not stopped.wait(0.5):
            if not any(t.is_alive() for t in runners.threads):
                raise BastionError("the job runners stopped")
    finally:
        runners.stop(timeout=60)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("bastion worker: stopped", highlight=False)


def wait_with_progress(rt, job: dict[str, Any], label: str) -> dict[str, Any]:
    """Run (or wait for) a job submitted by a command, with a progress bar; its final state."""
    with progress_bar(label) as progress:
        bar = progress.add_task(label, total=job["progress"]["total"])

        def report(done: int, total: int | None) -> None:
            progress.update(bar, completed=done, total=total)

        job_runner.run_until_finished(rt, job["id"], report)
    return jobs.get(context(rt), job["id"])
