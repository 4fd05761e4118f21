"""PostgreSQL's path: statements, round trips and latency of one annotator's next + submit.

    python -m benchmarks.pg_path [--cycles 300] [--warmup 30] [--tasks 2000] [--overlap 2]
                                 [--mode pair|loop] [--db postgresql|sqlite] [--verbose]

A fresh PostgreSQL database set up as documented (``servers.postgres_database``: migrated
by its owner, the runtime connecting as the application role, row-level security in force),
a workspace with one annotator (``seeding.make_world``), a project of ``--tasks`` tasks.
Then ``--cycles`` cycles through the real HTTP routes, in process (FastAPI's TestClient
over ``web.app.create_app``: the same middleware, bearer-token authentication and service
calls as ``bastion serve``, without a socket):

* ``pair`` (default; what ``benchmarks.suite``'s annotate loop does): ``POST
  /projects/{id}/next`` then ``POST /tasks/{id}/annotations`` — two transactions;
* ``loop``: ``POST /tasks/{id}/submit-and-next`` — the labelling loop's one transaction.

Counted on the driver itself (psycopg 3's cursor and connection, so SQLAlchemy's
statements and the raw ones of ``storage/fast.py`` alike; the server's own threads,
``bastion-*``, left out):

* statements: every statement sent (``executemany`` counts each row), BEGIN, COMMIT and
  ROLLBACK included;
* round trips: each exchange the client waits on — a statement outside a pipeline, BEGIN,
  COMMIT, and one per pipeline sync (or flush) however many statements it carries.

Latency: each cycle's wall time in process, p50 and p99 (without the network of a
real server, which adds its own), and this process's CPU time a cycle (the client's and the
server's threads; PostgreSQL's backend not included). ``--verbose``: the statements by count.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

from . import seeding
from .workload import pct, write_tasks

_SPACE = re.compile(r"\s+")


def _label(sql) -> str:
    if isinstance(sql, bytes | bytearray | memoryview):
        sql = bytes(sql).decode()
    elif not isinstance(sql, str):  # a psycopg.sql Composable
        sql = repr(sql)
    return _SPACE.sub(" ", sql).strip()[:110]


def _background() -> bool:
    """The server's own threads (job runners, checkpoint signer: ``bastion-*``), not the requests'."""
    return threading.current_thread().name.startswith("bastion-")


class Counts:
    """What the driver was asked to do for the requests (the server's background threads left out)."""

    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.round_trips = 0
        self.lock = threading.Lock()

    def statement(self, sql, n: int = 1) -> None:
        if _background():
            return
        with self.lock:
            self.statements[_label(sql)] += n

    def trip(self) -> None:
        if _background():
            return
        with self.lock:
            self.round_trips += 1

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return sum(self.statements.values()), self.round_trips


@contextmanager
def counting(engine):
    """Count statements and round trips on psycopg (and SQLAlchemy's cursor executions)."""
    from psycopg import _connection_base, _cursor_base, _pipeline_base

    counts = Counts()
    conn_cls, cur_cls, pipe_cls = _connection_base.BaseConnection, _cursor_base.BaseCursor, _pipeline_base.BasePipeline
    saved = {
        (conn_cls, "_exec_command"): conn_cls._exec_command,
        (cur_cls, "_execute_gen"): cur_cls._execute_gen,
        (cur_cls, "_executemany_gen_pipeline"): cur_cls._executemany_gen_pipeline,
        (cur_cls, "_executemany_gen_no_pipeline"): cur_cls._executemany_gen_no_pipeline,
        (pipe_cls, "_sync_gen"): pipe_cls._sync_gen,
        (pipe_cls, "_exit_gen"): pipe_cls._exit_gen,
        (pipe_cls, "_fetch_gen"): pipe_cls._fetch_gen,
    }

    def exec_command(self, command, *args, **kwargs):  # BEGIN, COMMIT, ROLLBACK, SAVEPOINT …
        counts.statement(command)
        if not self._pipeline:
            counts.trip()
        return saved[(conn_cls, "_exec_command")](self, command, *args, **kwargs)

    def execute_gen(self, query, *args, **kwargs):
        counts.statement(query)
        if not self._conn._pipeline:
            counts.trip()
        return saved[(cur_cls, "_execute_gen")](self, query, *args, **kwargs)

    def executemany_pipeline(self, query, params_seq, returning):
        params_seq = list(params_seq)
        counts.statement(query, len(params_seq))  # the pipeline's sync is the round trip
        return saved[(cur_cls, "_executemany_gen_pipeline")](self, query, params_seq, returning)

    def executemany_plain(self, query, params_seq, returning):
        params_seq = list(params_seq)
        counts.statement(query, len(params_seq))
        for _ in params_seq:
            counts.trip()
        return saved[(cur_cls, "_executemany_gen_no_pipeline")](self, query, params_seq, returning)

    inside = threading.local()  # within a sync: its own fetch is part of the same exchange

    def synced(gen):
        depth = getattr(inside, "depth", 0)
        inside.depth = depth + 1
        try:
            return (yield from gen)
        finally:
            inside.depth = depth

    def sync_gen(self):
        if self.command_queue or self.result_queue:
            counts.trip()
        return synced(saved[(pipe_cls, "_sync_gen")](self))

    def exit_gen(self):
        if self.command_queue or self.result_queue:
            counts.trip()
        return synced(saved[(pipe_cls, "_exit_gen")](self))

    def fetch_gen(self, *, flush):
        # Results wanted before a sync: a flush request, one exchange of its own.
        if flush and self.result_queue and not getattr(inside, "depth", 0):
            counts.trip()
        return saved[(pipe_cls, "_fetch_gen")](self, flush=flush)

    patches = {
        (conn_cls, "_exec_command"): exec_command,
        (cur_cls, "_execute_gen"): execute_gen,
        (cur_cls, "_executemany_gen_pipeline"): executemany_pipeline,
        (cur_cls, "_executemany_gen_no_pipeline"): executemany_plain,
        (pipe_cls, "_sync_gen"): sync_gen,
        (pipe_cls, "_exit_gen"): exit_gen,
        (pipe_cls, "_fetch_gen"): fetch_gen,
    }

    for (cls, name), fn in patches.items():
        setattr(cls, name, fn)
    try:
        yield counts
    finally:
        for (cls, name), fn in saved.items():
            setattr(cls, name, fn)


def run(args) -> dict:
    from fastapi.testclient import TestClient

    from bastion.web.app import create_app

    from .servers import postgres_database

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bastion-pgpath-")))
        url = stack.enter_context(postgres_database("bastion_pgpath")) if args.db == "postgresql" else None
        rt = seeding.open_runtime(seeding.settings_for(work / "data", url))
        stack.callback(rt.close)
        world = seeding.make_world(rt, annotators=1, tag="pgpath")
        project = seeding.add_project(rt, world, "PG path", overlap=args.overlap)
        seeding.import_file(rt, project, write_tasks(work / "tasks.jsonl", args.tasks))
        client = stack.enter_context(TestClient(create_app(rt)))
        auth = {"Authorization": f"Bearer {world.annotator_tokens[0]}"}
        body = {"result": {"label": "bug"}}
        if args.db != "postgresql":  # SQLite: nothing to count on psycopg; latency only
            counts = None
        else:
            counts = stack.enter_context(counting(rt.db.engine))
        per_next: list[tuple[int, int, int]] = []
        per_submit: list[tuple[int, int, int]] = []
        cycle: list[float] = []
        breakdown: Counter[str] = Counter()

        def measured(fn):
            before = counts.snapshot() if counts else (0, 0)
            mark = Counter(counts.statements) if counts else Counter()
            out = fn()
            after = counts.snapshot() if counts else (0, 0)
            if counts:
                breakdown.update(counts.statements - mark)
            return out, tuple(a - b for a, b in zip(after, before))

        def lease():
            r = client.post(f"/api/v1/projects/{project}/next", headers=auth)
            if r.status_code != 200:
                raise SystemExit(f"next: {r.status_code} {r.text[:200]}")
            return r.json()["id"]

        task_id, _ = measured(lease)
        total = args.warmup + args.cycles
        cpu_start = 0.0
        for i in range(total):
            keep = i >= args.warmup
            if i == args.warmup:
                breakdown.clear()
                cpu_start = time.process_time()
            start = time.perf_counter()
            if args.mode == "pair":
                if i > 0:
                    task_id, n = measured(lease)
                    if keep:
                        per_next.append(n)
                r, s = measured(
                    lambda t=task_id: client.post(f"/api/v1/tasks/{t}/annotations", headers=auth, json=body)
                )
                if r.status_code != 201:
                    raise SystemExit(f"submit: {r.status_code} {r.text[:200]}")
            else:
                r, s = measured(
                    lambda t=task_id: client.post(f"/api/v1/tasks/{t}/submit-and-next", headers=auth, json=body)
                )
                if r.status_code != 200 or r.json()["next"] is None:
                    raise SystemExit(f"submit-and-next: {r.status_code} {r.text[:200]}")
                task_id = r.json()["next"]["id"]
            if keep:
                cycle.append(time.perf_counter() - start)
                per_submit.append(s)

        cpu = time.process_time() - cpu_start

    def median(rows, k):
        return statistics.median(row[k] for row in rows) if rows else None

    return {
        "db": args.db,
        "mode": args.mode,
        "cycles": args.cycles,
        "next_statements": median(per_next, 0),
        "next_round_trips": median(per_next, 1),
        "submit_statements": median(per_submit, 0),
        "submit_round_trips": median(per_submit, 1),
        "cycle_p50_ms": round(1000 * statistics.median(cycle), 2),
        "cycle_p99_ms": round(1000 * (pct(cycle, 99) or 0), 2),
        "cpu_ms_per_cycle": round(1000 * cpu / args.cycles, 2),
        "breakdown": breakdown,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--mode", choices=("pair", "loop"), default="pair")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--verbose", action="store_true", help="the statements, most frequent first")
    args = parser.parse_args(argv)
    if args.tasks < args.warmup + args.cycles + 1:
        parser.error("--tasks: at least --warmup + --cycles + 1")
    out = run(args)
    cycles = out["cycles"]
    print(f"{out['db']}, {out['mode']}: {cycles} cycles of one annotator (in-process HTTP routes)")
    if out["db"] == "postgresql":
        if out["mode"] == "pair":
            print(f"  next:   {out['next_statements']} statements, {out['next_round_trips']} round trips")
            print(f"  submit: {out['submit_statements']} statements, {out['submit_round_trips']} round trips")
            both = (
                out["next_statements"] + out["submit_statements"],
                out["next_round_trips"] + out["submit_round_trips"],
            )
            print(f"  next + submit: {both[0]} statements, {both[1]} round trips")
        else:
            print(f"  submit-and-next: {out['submit_statements']} statements, {out['submit_round_trips']} round trips")
    print(f"  cycle latency: p50 {out['cycle_p50_ms']} ms, p99 {out['cycle_p99_ms']} ms")
    print(f"  this process's CPU (client and server threads, not PostgreSQL's): {out['cpu_ms_per_cycle']} ms a cycle")
    if args.verbose and out["breakdown"]:
        print("  statements by count (per cycle):")
        for sql, n in out["breakdown"].most_common(40):
            print(f"    {n / cycles:6.2f}  {sql}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
