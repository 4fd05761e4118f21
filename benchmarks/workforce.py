"""What the workforce dashboard costs at a million annotations.

    python -m benchmarks.workforce [--annotations 1000000] [--days 30] [--db sqlite|postgresql]

Setup (not measured): one workspace with ``--people`` annotators (and an owner), four projects
(overlap 2) whose tasks come through the import service — enough tasks that a fifth of them is
still open, so every project has work left to forecast — and a gold project of 200 gold tasks.
Then, as benchmark setup in bulk SQL (like ``seeding.annotate_in_bulk``: ids made like the
service makes them, results sealed with the project's key, tasks' and projects' counters moved
as ``submit_annotation`` moves them), ``--annotations`` annotations in all: every person
answers every gold task (a score of 1 or 0), and the rest are two answers per task by two
people drawn at random, made at times spread evenly over the last ``--days`` days (so the
last 72 hours — what throughput and forecasts read — hold ``3/days`` of them). One in ten is
sampled for review (accepted, rejected or pending); each annotation has its submitted assignment,
as the submit path leaves it, and every person holds one live lease. Per-annotation audit events are
not written: the dashboard reads no audit entry (it appends one per view).

Measured: the service call ``dashboard.workspace_dashboard`` in-process (``--runs`` calls after
one to warm the caches; p50 and p99), the cross-workspace ``dashboard.dashboard``, and the page
``/workspaces/{ws}/workforce`` through ``bastion serve`` with the owner's browser session. Each
view writes one audit event (part of what is measured). The figures and the machine's load go to
``benchmarks/results/workforce-<db>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from . import seeding
from .servers import Server, postgres_database
from .workload import pct, write_tasks

HOUR_MS = 3600 * 1000
PROJECTS = 4
OVERLAP = 2
GOLD_TASKS = 200


def _gold_items(n: int):
    for i in range(n):
        yield i + 1, {"data": {"text": f"gold {i}"}, "gold": {"label": "bug"}, "external_id": f"g-{i}"}


def _seed(rt, world, project_id: str, task_ids: list[str], per_task: int, now: int, days: int, gold: bool, rng):
    """Benchmark setup: ``per_task`` sealed annotations on each task by distinct people, in bulk."""
    import orjson
    from sqlalchemy import select, update

    from bastion import ids
    from bastion.services.projects import bump_counts
    from bastion.storage import schema

    T = schema.tasks
    ws, ctx = world.workspace_id, seeding.system(rt)
    people = world.annotator_ids
    with ctx.read() as r:
        key_id = r.tx.execute(select(schema.projects.c.key_id).where(schema.projects.c.id == project_id)).scalar_one()
    span = days * 24 * HOUR_MS
    blob = orjson.dumps({"label": "bug"})
    step = max(1, seeding.BULK_ROWS // per_task)
    for at in range(0, len(task_ids), step):
        chunk = task_ids[at : at + step]
        rows = []
        for task in chunk:
            for user in people if per_task == len(people) else rng.sample(people, per_task):
                rows.append((task, user))
        with ctx.write() as w:
            annotation_ids = ids.new_ids("ann", len(rows))
            sealed = w.sealer(ws, key_id).seal_many("annotations", "result", [(a, blob) for a in annotation_ids])
            values = []
            for a, (task, user), b in zip(annotation_ids, rows, sealed):
                review = "none"
                if not gold and rng.random() < 0.1:
                    review = rng.choice(("accepted", "accepted", "accepted", "rejected", "pending"))
                score = float(rng.random() < 0.85) if gold else None
                values.append((ws, a, project_id, task, user, b, 1000, review, score, now - rng.randrange(span)))
            assignment_ids = ids.new_ids("asg", len(rows))
            w.tx.dialect.insert_ignore(
                w.conn,
                "assignments",
                (
                    "workspace_id",
                    "id",
                    "project_id",
                    "task_id",
                    "user_id",
                    "state",
                    "expires_at",
                    "created_at",
                    "updated_at",
                ),
                [
                    (ws, g, project_id, v[3], v[4], "submitted", v[9], v[9], v[9])
                    for g, v in zip(assignment_ids, values)
                ],
                ("workspace_id", "task_id", "user_id"),
            )
            w.tx.dialect.insert_ignore(
                w.conn,
                "annotations",
                (
                    "workspace_id",
                    "id",
                    "project_id",
                    "task_id",
                    "user_id",
                    "result",
                    "lead_time_ms",
                    "review_status",
                    "gold_score",
                    "created_at",
                ),
                values,
                ("workspace_id", "task_id", "user_id"),
            )
            if not gold:  # gold tasks stay as imported ("done", out of the queue; no counters)
                w.tx.execute(
                    update(T)
                    .where(T.c.workspace_id == ws, T.c.id.in_(chunk))
                    .values(annotation_count=T.c.annotation_count + per_task, done=True)
                )
                bump_counts(w, ws, project_id, annotations=len(rows), done=len(chunk))


def _task_ids(rt, project_id: str, limit: int | None = None) -> list[str]:
    from sqlalchemy import select

    from bastion.storage import schema

    T = schema.tasks
    with seeding.system(rt).read() as r:
        query = select(T.c.id).where(T.c.project_id == project_id).order_by(T.c.id)
        return list(r.tx.execute(query.limit(limit) if limit else query).scalars())


def _lease_one_each(rt, world, project_id: str) -> None:
    """Every person holds one live lease (the queue's own call)."""
    from bastion.access import Actor
    from bastion.services import queue
    from bastion.services.context import Context

    for user in world.annotator_ids:
        queue.next_task(Context(rt, Actor(kind="user", user_id=user)), project_id)


def _timed(call, runs: int) -> dict:
    """Wall-clock p50 and p99 of ``runs`` calls after a warm-up, and the calling process's CPU time per
    call (p50): on a shared machine the wall clock includes waiting for a core, the CPU time does not
    (an in-process call's own work; over HTTP, the client's only)."""
    call()
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        times.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(pct(times, 99) or 0, 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "runs": runs,
    }


def run(settings, work: Path, annotations: int, days: int, people: int, runs: int) -> dict:
    from bastion.access import Actor
    from bastion.services import dashboard, imports, projects
    from bastion.services.context import Context

    rng = random.Random(20261206)
    rt = seeding.open_runtime(settings)
    began = time.perf_counter()
    try:
        world = seeding.make_world(rt, annotators=people, tag="workforce")
        gold_answers = GOLD_TASKS * people
        regular = max(annotations - gold_answers, 0)
        answered_tasks = regular // OVERLAP
        per_project = -(-answered_tasks // PROJECTS)
        tasks_per_project = per_project + per_project // 4  # a fifth of each project still open
        gold = projects.create_project(
            seeding.system(rt),
            world.workspace_id,
            name="Gold",
            config=seeding.CONFIG,
            settings={"overlap": 1, "quality": {"gold_rate": 0.05}},
        ).id
        imports.import_tasks(seeding.system(rt), gold, _gold_items(GOLD_TASKS))
        now = int(time.time() * 1000)
        _seed(rt, world, gold, _task_ids(rt, gold), people, now, days, True, rng)
        made = 0
        for i in range(PROJECTS):
            pid = seeding.add_project(rt, world, f"Project {i}", overlap=OVERLAP)
            seeding.import_file(rt, pid, write_tasks(work / f"p{i}.jsonl", tasks_per_project, start=i * 10**7))
            share = min(per_project, answered_tasks - made)
            _seed(rt, world, pid, _task_ids(rt, pid, share), OVERLAP, now, days, False, rng)
            made += share
        _lease_one_each(rt, world, world.projects["Project 0"])
        setup_s = time.perf_counter() - began
        owner = Context(rt, Actor(kind="user", user_id=world.owner_id))
        shown = dashboard.workspace_dashboard(owner, world.workspace_id)
        total = sum(p["review"]["accepted"] + p["review"]["rejected"] for p in shown["people"])
        print(
            f"setup {setup_s:.0f} s: {made * OVERLAP + gold_answers:,} annotations ({gold_answers:,} gold answers), "
            f"{len(shown['active_now'])} active now, {shown['throughput']['total']:,} in the last 24 h, "
            f"{total:,} reviewed; load {[round(x, 2) for x in os.getloadavg()]}",
            flush=True,
        )
        service = _timed(lambda: dashboard.workspace_dashboard(owner, world.workspace_id), runs)
        print(
            f"service workspace_dashboard: p50 {service['p50_ms']} ms, p99 {service['p99_ms']} ms "
            f"(CPU p50 {service['cpu_p50_ms']} ms)",
            flush=True,
        )
        everywhere = _timed(lambda: dashboard.dashboard(owner), runs)
        print(
            f"service dashboard (all workspaces): p50 {everywhere['p50_ms']} ms, p99 {everywhere['p99_ms']} ms "
            f"(CPU p50 {everywhere['cpu_p50_ms']} ms)",
            flush=True,
        )
    finally:
        rt.close()
    http = _http(settings, world, runs)
    print(f"page /workspaces/{{ws}}/workforce over HTTP: p50 {http['p50_ms']} ms, p99 {http['p99_ms']} ms")
    return {
        "annotations": made * OVERLAP + gold_answers,
        "days": days,
        "people": people,
        "last_24h": shown["throughput"]["total"],
        "setup_s": round(setup_s, 1),
        "service": service,
        "service_all_workspaces": everywhere,
        "http_page": http,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def _http(settings, world, runs: int) -> dict:
    import httpx

    server = Server(settings.data_dir, settings.database_url, name="workforce")
    server.start()
    try:
        with httpx.Client(base_url=server.url, cookies={"bastion_session": world.owner_session}, timeout=60) as c:

            def get():
                r = c.get(f"/workspaces/{world.workspace_id}/workforce")
                if r.status_code != 200 or "Forecast" not in r.text:
                    raise RuntimeError(f"workforce page: {r.status_code} {r.text[:300]}")

            return _timed(get, runs)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workforce", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="the annotations' times spread over this many days")
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    args = parser.parse_args(argv)
    if args.days < 1 or args.people < OVERLAP:
        parser.error("--days: at least 1; --people: at least 2")
    work = Path(tempfile.mkdtemp(prefix="bastion-workforce-"))
    try:
        if args.db == "postgresql":
            with postgres_database() as url:
                result = run(
                    seeding.settings_for(work / "data", url), work, args.annotations, args.days, args.people, args.runs
                )
        else:
            result = run(seeding.settings_for(work / "data"), work, args.annotations, args.days, args.people, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"workforce-{args.db}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
