"""What the working time report costs (docs/workforce.md, "Time"): one workspace's annotations of a span.

    python -m benchmarks.working_time [--tasks 100000]

One SQLite project of ``--tasks`` tasks through the import service, one annotation per task made in
bulk (``seeding.annotate_in_bulk``: all today, 1000 ms of active time each); then p50 of 5 in-process
calls of ``time_report.time_report`` over the last 7 days (every annotation in the span), and of its CSV.
The report reads metadata columns only (never a sealed result), and aggregates in Python.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from . import seeding
from .workload import write_tasks


def _p50_ms(call, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()

    from bastion.access import Actor
    from bastion.services import time_report
    from bastion.services.context import Context

    tmp = Path(tempfile.mkdtemp(prefix="working-time-"))
    rt = seeding.open_runtime(seeding.settings_for(tmp / "data"))
    world = seeding.make_world(rt, annotators=1)
    project_id = seeding.add_project(rt, world, "timed")
    imported, seconds = seeding.import_file(rt, project_id, write_tasks(tmp / "tasks.jsonl", args.tasks))
    made, made_s = seeding.annotate_in_bulk(rt, world, project_id)
    print(f"load {[round(x, 2) for x in os.getloadavg()]}; {imported} tasks in {seconds:.1f} s, {made} annotations")
    owner = Context(rt, Actor(kind="user", user_id=world.owner_id))
    report = time_report.time_report(owner, world.workspace_id)
    assert sum(row["annotations"] for row in report["rows"]) == made
    json_ms = _p50_ms(lambda: time_report.time_report(owner, world.workspace_id))
    csv_ms = _p50_ms(lambda: time_report.report_csv(time_report.time_report(owner, world.workspace_id)))
    print(f"{'annotations':>11}  {'report ms':>9}  {'with CSV ms':>11}")
    print(f"{made:>11}  {json_ms:>9}  {csv_ms:>11}")
    rt.close()


if __name__ == "__main__":
    main()
