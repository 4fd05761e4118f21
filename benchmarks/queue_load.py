"""The queue under load: many clients, several server processes, walls and skills on or off.

    python -m benchmarks.queue_load [--db sqlite|postgresql] [--clients 100] [--tasks 300] [--servers 2]

World: workspaces A and B compete (a wall), C excludes an affiliation that a few
people hold, and C's project needs a skill only half of the people have. A third
of the clients are members of A and C, a third of B and C, and a third of all
three (the walls bind each of those to A or B on first access). Each client
works the cross-project queue
(``POST /api/v1/queue/next`` then submit) until it is empty for them. The same
run is repeated with walls, exclusions and skills off, on a fresh database.

Checks, from the database afterwards: no task over its overlap, nobody
annotating a task twice, nobody with annotations on both A and B, no excluded or
unskilled person in C, every acknowledged annotation stored, no lease left
behind. Prints throughput and p50/p99 latency of next+submit for both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent
OVERLAP = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(work: Path, database_url: str | None):
    from bastion.settings import Settings

    return Settings(data_dir=work / "data", database_url=database_url, master_key="33" * 32, checkpoint_seconds=0)


def build_world(settings, clients: int, tasks: int, walls: bool) -> dict:
    from bastion.access import Actor
    from bastion.services import imports, projects, users, workforce, workspaces
    from bastion.services.context import Context
    from bastion.services.runtime import Runtime

    rt = Runtime.open(settings, migrate_schema="always")
    ctx = Context(rt, Actor.system())
    config = {"type": "classification", "labels": ["yes", "no"]}
    ws = {name: workspaces.create_workspace(ctx, f"Load {name}").id for name in "ABC"}
    prj = {}
    for name in "ABC":
        rules = {"overlap": OVERLAP}
        if walls and name == "C":
            rules["required_skills"] = {"all": ["law:2"]}
        prj[name] = projects.create_project(ctx, ws[name], name=f"P{name}", config=config, settings=rules).id
        items = [(i + 1, {"data": {"text": f"{name} item {i}"}, "external_id": f"{name}{i}"}) for i in range(tasks)]
        imports.import_tasks(ctx, prj[name], items)
    if walls:
        workforce.add_conflict(ctx, ws["A"], ws["B"])
        workforce.add_exclusion(ctx, ws["C"], "Rival Labs", "employer")
    people = []
    for i in range(clients):
        user = users.create_user(ctx, f"load{i}@example.com")
        if walls and i % 2 == 0:
            workforce.grant_skill(ctx, user.id, "law:2")
        if walls and i % 20 == 7:
            workforce.add_affiliation(ctx, user.id, "Rival Labs", "employer")
        people.append(
            {
                "id": user.id,
                "token": users.create_token(ctx, user.id)[0],
                "skilled": (not walls) or i % 2 == 0,
                "excluded": walls and i % 20 == 7,
            }
        )
    with ctx.write() as w:  # the operator's scope: every workspace (row-level security)
        from bastion.storage import schema

        w.tx.execute(
            schema.memberships.insert(),
            [
                {"workspace_id": ws[name], "user_id": p["id"], "role": "annotator", "created_at": 0}
                for i, p in enumerate(people)
                for name in ("AC", "BC", "ABC")[i % 3]
            ],
        )
    rt.close()
    return {"workspaces": ws, "projects": prj, "people": people}


def serve(settings, servers: int) -> tuple[list[subprocess.Popen], list[str]]:
    env = {
        **os.environ,
        "BASTION_DATA_DIR": str(settings.data_dir),
        "BASTION_MASTER_KEY": settings.master_key,
        "BASTION_CHECKPOINT_SECONDS": "0",
    }
    if settings.database_url:
        env["BASTION_DATABASE_URL"] = settings.database_url
    procs, urls = [], []
    for n in range(servers):
        port = _free_port()
        log = settings.data_dir / f"server-{n}.log"
        with log.open("wb") as sink:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bastion.cli", "serve", "--port", str(port)],
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            )
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.time() + 60
    for n, (proc, url) in enumerate(zip(procs, urls)):
        while True:
            if proc.poll() is not None:
                tail = (settings.data_dir / f"server-{n}.log").read_text()[-2000:]
                raise RuntimeError(f"a server exited: {tail}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("servers did not come up")
            time.sleep(0.1)
    return procs, urls


def drive(world: dict, urls: list[str]) -> dict:
    acknowledged: list[str] = []
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(world["people"]))

    def client(i: int, person: dict) -> None:
        url = urls[i % len(urls)]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {person['token']}"}, timeout=120) as http:
            barrier.wait()
            while True:
                start = time.perf_counter()
                r = http.post("/api/v1/queue/next")
                if r.status_code == 204:
                    return
                if r.status_code != 200:
                    failures.append(f"next {r.status_code} {r.text[:200]}")
                    return
                r2 = http.post(f"/api/v1/tasks/{r.json()['id']}/annotations", json={"result": {"label": "yes"}})
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if r2.status_code == 201:
                        acknowledged.append(r2.json()["id"])
                    else:
                        failures.append(f"submit {r2.status_code} {r2.text[:200]}")

    threads = [threading.Thread(target=client, args=(i, p)) for i, p in enumerate(world["people"])]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "submissions": len(acknowledged),
        "seconds": round(elapsed, 2),
        "submissions_per_s": round(len(acknowledged) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1)
        if latencies
        else None,
        "failures": failures[:10],
        "failure_count": len(failures),
        "acknowledged": acknowledged,
    }


def stored_rows(settings, *, with_tasks: bool = False) -> tuple[list, list]:
    """Every stored annotation (id, task, person, workspace) and, when asked, every task's counters,
    read after the run in the operator's scope (all workspaces)."""
    from sqlalchemy import select

    from bastion.access import Actor
    from bastion.services.context import Context
    from bastion.services.runtime import Runtime
    from bastion.storage import schema

    rt = Runtime.open(settings, migrate_schema="never")
    try:
        with Context(rt, Actor.system()).read() as unit:  # the operator's scope: every workspace
            a = schema.annotations.c
            anns = list(unit.tx.execute(select(a.id, a.task_id, a.user_id, a.workspace_id)).all())
            tasks: list = []
            if with_tasks:
                t = schema.tasks.c
                tasks = list(unit.tx.execute(select(t.id, t.workspace_id, t.annotation_count, t.lease_count)).all())
    finally:
        rt.close()
    return anns, tasks


def check(settings, world: dict, acknowledged: list[str], walls: bool) -> dict:
    anns, tasks = stored_rows(settings, with_tasks=True)
    per_task = Counter(a.task_id for a in anns)
    pairs = Counter((a.task_id, a.user_id) for a in anns)
    sides = defaultdict(set)
    for a in anns:
        sides[a.user_id].add(a.workspace_id)
    ws = world["workspaces"]
    people = {p["id"]: p for p in world["people"]}
    in_c = {a.user_id for a in anns if a.workspace_id == ws["C"]}
    return {
        "tasks_over_overlap": sum(1 for c in per_task.values() if c > OVERLAP),
        "double_annotations": sum(1 for c in pairs.values() if c > 1),
        "wall_violations": sum(1 for s in sides.values() if walls and {ws["A"], ws["B"]} <= s),
        "excluded_in_c": sum(1 for u in in_c if people[u]["excluded"]),
        "unskilled_in_c": sum(1 for u in in_c if not people[u]["skilled"]),
        "lost_acknowledged": len(set(acknowledged) - {a.id for a in anns}),
        "leases_left": sum(t.lease_count for t in tasks),
        "tasks_incomplete": sum(1 for t in tasks if t.annotation_count < OVERLAP),
    }


def run(db: str, clients: int, tasks: int, servers: int, walls: bool) -> dict:
    from .servers import postgres_database

    work = Path(tempfile.mkdtemp(prefix="bastion-load-"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(postgres_database("bastion_load")) if db == "postgresql" else None
            settings = _settings(work, url)
            world = build_world(settings, clients, tasks, walls)
            procs, urls = serve(settings, servers)
            try:
                figures = drive(world, urls)
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(30)
            invariants = check(settings, world, figures.pop("acknowledged"), walls)
        return {
            "db": db,
            "walls_and_skills": walls,
            "clients": clients,
            "servers": servers,
            "tasks": 3 * tasks,
            **figures,
            **invariants,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


INVARIANTS = (
    "tasks_over_overlap",
    "double_annotations",
    "wall_violations",
    "excluded_in_c",
    "unskilled_in_c",
    "lost_acknowledged",
    "leases_left",
    "tasks_incomplete",
    "failure_count",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per project (3 projects)")
    parser.add_argument("--servers", type=int, default=2)
    args = parser.parse_args()
    results = [run(args.db, args.clients, args.tasks, args.servers, walls) for walls in (True, False)]
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / f"queue-load-{args.db}.json").write_text(json.dumps(results, indent=2))
    keys = [k for k in results[0] if k != "failures"]
    print(f"{'':<22}" + "".join(f"{'walls+skills on' if r['walls_and_skills'] else 'off':>18}" for r in results))
    for key in keys:
        print(f"{key:<22}" + "".join(f"{str(r[key]):>18}" for r in results))
    bad = [k for r in results for k in INVARIANTS if r[k]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
