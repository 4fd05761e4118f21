"""The load shape users have: many annotators, each thinking between answers, walls and variants on.

    python -m benchmarks.thinktime [--annotators 2000] [--think 5] [--seconds 120] [--db sqlite|postgresql]
                                   [--servers 1]

World: two competing client workspaces, A and B, behind a wall; a project in each with per-person
wording variants on (every person reads their own variant of each task's text) and overlap 2.
Of the annotators, 45% are members of A, 45% of B and 10% of both — the wall binds each of those
to the side they touch first. Each annotator is one keep-alive connection (benchmarks.workload's
lean client) doing what a person does: ask for the next task, read it for ``think`` seconds
± 50% (uniform), submit, ask again. Their starts are spread over one think time, so the load is
steady from the first seconds; the first ``--warmup`` seconds are not measured.

Reported: requests per second, p50/p99/max of ``next`` and of ``submit`` separately and together,
errors (any answer other than 200/201, or 204 for an empty queue), and the invariants checked in
the database afterwards: no task over its overlap, nobody on both sides of the wall, every
acknowledged annotation stored. The target (issue 19): p99 ≤ 50 ms with 0 errors at 2,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path

import orjson

from .queue_load import _settings, serve, stored_rows
from .workload import HttpConnection, HttpError, pct

ROOT = Path(__file__).resolve().parent
OVERLAP = 2
IDLE_RECONNECT_S = 4.0  # below the server's keep-alive timeout (uvicorn's default: 5 s)
# Text with the contractions and phrasings the wording variants rewrite, so each person's copy differs.
TEXT = (
    "Ticket {i}: I'm writing because the refund for order {o} didn't arrive. We don't ship on "
    "Sundays, and it isn't clear whether the courier will try again; can't you check it?"
)


def build_world(settings, annotators: int, tasks: int) -> dict:
    from bastion.access import Actor
    from bastion.services import imports, projects, users, workforce, workspaces
    from bastion.services.context import Context
    from bastion.services.runtime import Runtime
    from bastion.storage import schema

    rt = Runtime.open(settings, migrate_schema="always")
    ctx = Context(rt, Actor.system())
    config = {
        "type": "classification",
        "labels": ["billing", "shipping", "other"],
        "leak_tracing": {"variants": {"enabled": True}},
    }
    ws = {name: workspaces.create_workspace(ctx, f"Client {name}").id for name in "AB"}
    prj = {}
    for name in "AB":
        prj[name] = projects.create_project(
            ctx, ws[name], name=f"Tickets {name}", config=config, settings={"overlap": OVERLAP}
        ).id
        for start in range(0, tasks, 20_000):
            items = [
                (i + 1, {"data": {"text": TEXT.format(i=i, o=i * 7919 % 100_000)}, "external_id": f"{name}{i}"})
                for i in range(start, min(tasks, start + 20_000))
            ]
            imports.import_tasks(ctx, prj[name], items)
    workforce.add_conflict(ctx, ws["A"], ws["B"])
    people = []
    for i in range(annotators):
        user = users.create_user(ctx, f"think{i}@example.com")
        sides = "AB" if i % 10 == 9 else "AB"[i % 2]
        people.append({"id": user.id, "token": users.create_token(ctx, user.id)[0], "sides": sides})
    with ctx.write() as w:  # the operator's scope: every workspace (row-level security)
        w.tx.execute(
            schema.memberships.insert(),
            [
                {"workspace_id": ws[side], "user_id": p["id"], "role": "annotator", "created_at": 0}
                for p in people
                for side in p["sides"]
            ],
        )
    rt.close()
    return {"workspaces": ws, "projects": prj, "people": people}


class Tally:
    def __init__(self, measure_from: float) -> None:
        self.measure_from = measure_from
        self.next: list[float] = []
        self.submit: list[float] = []
        self.errors: Counter[str] = Counter()
        self.error_examples: list[str] = []
        self.acknowledged: list[str] = []
        self.emptied = 0

    def took(self, kind: str, started: float, seconds: float) -> None:
        if started >= self.measure_from:
            (self.next if kind == "next" else self.submit).append(seconds)

    def error(self, what: str, detail: str) -> None:
        self.errors[what] += 1
        if len(self.error_examples) < 5:
            self.error_examples.append(f"{what}: {detail[:200]}")


async def annotator(person: dict, world: dict, url: str, think: float, stop_at: float, tally: Tally, seed: int):
    rng = random.Random(seed)
    side = rng.choice(person["sides"])  # the side a person in both touches first; the wall binds them to it
    project = world["projects"][side]
    conn = HttpConnection(url, {"Authorization": f"Bearer {person['token']}"}, timeout=60)
    body = orjson.dumps({"result": {"label": "billing"}})
    await asyncio.sleep(rng.uniform(0, think))  # spread the starts over one think time
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                r = await conn.request("POST", f"/api/v1/projects/{project}/next")
            except HttpError as exc:
                tally.error("next broken", str(exc))
                return
            tally.took("next", started, time.perf_counter() - started)
            if r.status == 204:
                tally.emptied += 1
                return
            if r.status != 200:
                tally.error(f"next {r.status}", r.body.decode(errors="replace"))
                await asyncio.sleep(think)
                continue
            task_id = r.json()["id"]
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            # The server closes a connection idle for its keep-alive (uvicorn: 5 s); a browser would have
            # seen that close and opened a new one, so this client does too after a long think.
            if time.perf_counter() - started > IDLE_RECONNECT_S:
                conn.close()
            started = time.perf_counter()
            try:
                r = await conn.request("POST", f"/api/v1/tasks/{task_id}/annotations", body)
            except HttpError as exc:
                tally.error("submit broken", str(exc))
                return
            tally.took("submit", started, time.perf_counter() - started)
            if r.status == 201:
                tally.acknowledged.append(r.json()["id"])
            else:
                tally.error(f"submit {r.status}", r.body.decode(errors="replace"))
    finally:
        conn.close()


async def drive(world: dict, urls: list[str], think: float, seconds: float, warmup: float) -> dict:
    start = time.perf_counter()
    tally = Tally(start + warmup)
    stop_at = start + warmup + seconds
    await asyncio.gather(
        *(
            annotator(p, world, urls[i % len(urls)], think, stop_at, tally, seed=i)
            for i, p in enumerate(world["people"])
        )
    )
    measured = max(time.perf_counter() - (start + warmup), 1e-9)
    both = tally.next + tally.submit

    def ms(values: list[float], p: float | None = None) -> float | None:
        if not values:
            return None
        return round(1000 * (statistics.median(values) if p is None else pct(values, p)), 2)

    return {
        "measured_seconds": round(measured, 1),
        "requests": len(both),
        "requests_per_s": round(len(both) / measured, 1),
        "submissions_per_s": round(len(tally.submit) / measured, 1),
        "next_p50_ms": ms(tally.next),
        "next_p99_ms": ms(tally.next, 99),
        "submit_p50_ms": ms(tally.submit),
        "submit_p99_ms": ms(tally.submit, 99),
        "all_p50_ms": ms(both),
        "all_p99_ms": ms(both, 99),
        "all_max_ms": round(1000 * max(both), 1) if both else None,
        "errors": sum(tally.errors.values()),
        "errors_by_kind": dict(tally.errors),
        "error_examples": tally.error_examples,
        "queues_emptied": tally.emptied,
        "acknowledged": tally.acknowledged,
    }


def check(settings, world: dict, acknowledged: list[str]) -> dict:
    anns, _ = stored_rows(settings)
    per_task = Counter(a.task_id for a in anns)
    sides = defaultdict(set)
    for a in anns:
        sides[a.user_id].add(a.workspace_id)
    return {
        "annotations_stored": len(anns),
        "tasks_over_overlap": sum(1 for c in per_task.values() if c > OVERLAP),
        "wall_violations": sum(1 for s in sides.values() if len(s) > 1),
        "lost_acknowledged": len(set(acknowledged) - {a.id for a in anns}),
    }


def run(db: str, annotators: int, think: float, seconds: float, warmup: float, servers: int, tasks: int) -> dict:
    from .servers import postgres_database

    work = Path(tempfile.mkdtemp(prefix="bastion-think-"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(postgres_database("bastion_think")) if db == "postgresql" else None
            settings = _settings(work, url)
            t0 = time.perf_counter()
            world = build_world(settings, annotators, tasks)
            setup = time.perf_counter() - t0
            procs, urls = serve(settings, servers)
            try:
                figures = asyncio.run(drive(world, urls, think, seconds, warmup))
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(30)
            invariants = check(settings, world, figures.pop("acknowledged"))
        return {
            "db": db,
            "annotators": annotators,
            "think_seconds": think,
            "servers": servers,
            "tasks": 2 * tasks,
            "setup_seconds": round(setup, 1),
            **figures,
            **invariants,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--annotators", type=int, default=2000)
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds between next and submit")
    parser.add_argument("--seconds", type=float, default=120.0, help="measured seconds, after the warm-up")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=40_000, help="tasks per workspace's project")
    args = parser.parse_args()
    result = run(args.db, args.annotators, args.think, args.seconds, args.warmup, args.servers, args.tasks)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / f"thinktime-{args.db}.json").write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:<22}{value}")
    bad = [k for k in ("errors", "tasks_over_overlap", "wall_violations", "lost_acknowledged") if result[k]]
    if bad:
        raise SystemExit(f"not clean: {', '.join(bad)}")


if __name__ == "__main__":
    main()
