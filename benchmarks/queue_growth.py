"""Does a person's next-task call slow down as they work through a project?

    python -m benchmarks.queue_growth [--tasks 20000] [--overlap 2] [--db sqlite|postgresql]
                                      [--vacuum-every N]

One annotator works alone through an overlap-2 project (in-process service
calls, next then submit): every task they finish stays open for a second
person, so a scan from the head of the queue would walk past all of them. The
next call's median is printed for each fifth of the run; flat is the target.
PostgreSQL: ``--server`` (default the local test server), a fresh database
per run set up as documented (the runtime connects as the app role; dropped after). The server's autovacuum setting is printed:
with it off, dead index entries and stale statistics pile up over the run;
``--vacuum-every N`` runs ``VACUUM ANALYZE`` on tasks and assignments every N
tasks, as autovacuum would.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--vacuum-every", type=int, default=0, help="PostgreSQL: VACUUM ANALYZE every N tasks.")
    args = parser.parse_args()

    import psycopg
    from sqlalchemy.engine import make_url

    from bastion.services import annotations, queue
    from bastion.services.runtime import Runtime
    from bastion.settings import Settings
    from factories import add_tasks, make_side

    from .servers import postgres_database

    kwargs = {"data_dir": Path(tempfile.mkdtemp(prefix="bastion-qgrowth-")), "master_key": "33" * 32}
    owner = None
    with ExitStack() as cleanup:
        if args.db == "postgresql":  # the runtime connects as the app role; VACUUM needs the owner
            kwargs["database_url"] = cleanup.enter_context(
                postgres_database("bastion_qgrowth", f"{args.server}/postgres")
            )
            owner = f"{args.server}/{make_url(kwargs['database_url']).database}"
        rt = Runtime.open(Settings(**kwargs), migrate_schema="always")
        cleanup.callback(rt.close)
        side = make_side(rt, "growth", n_tasks=0, settings={"overlap": args.overlap})
        add_tasks(rt, side.project_id, args.tasks)
        ctx = side.ctx(rt, "annotator")
        fifth = max(1, args.tasks // 5)
        times: list[float] = []
        autovacuum = ""
        if owner is not None:
            with psycopg.connect(owner, autocommit=True) as conn:
                autovacuum = f", autovacuum {conn.execute('SHOW autovacuum').fetchone()[0]}"
            if args.vacuum_every:
                autovacuum += f", VACUUM ANALYZE every {args.vacuum_every}"
        print(f"{args.db}: {args.tasks} tasks, overlap {args.overlap}, one annotator{autovacuum}")
        print(f"{'done':>8}  {'next p50 ms':>11}  {'next p99 ms':>11}")
        for i in range(args.tasks):
            start = time.perf_counter()
            task = queue.next_task(ctx, side.project_id)
            times.append(time.perf_counter() - start)
            annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
            if owner is not None and args.vacuum_every and (i + 1) % args.vacuum_every == 0:
                with psycopg.connect(owner, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE tasks, assignments")
            if (i + 1) % fifth == 0:
                cuts = statistics.quantiles(times, n=100)
                print(f"{i + 1:>8}  {1000 * statistics.median(times):>11.2f}  {1000 * cuts[98]:>11.2f}", flush=True)
                times = []


if __name__ == "__main__":
    main()
