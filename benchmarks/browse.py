"""The data browser at a million tasks: the first page of a filtered view, p50 and p99.

    python -m benchmarks --only browse [--quick]        # a section of the suite
    python -m benchmarks.browse [--tasks N] [--db sqlite|postgresql]

Setup (not what is measured, but its times are printed): N generated tasks with varied
text (words drawn from a Zipf-like vocabulary, a topic, an order code that few tasks
share) and meta (``lang``, ``source``), imported through the import service into a fresh
data directory; then two annotators answer ``annotated`` of them through the services
(lease, submit: the index's labels and each task's agreement are kept by the real
code), agreeing on some tasks and not on others. Tasks have random priorities, so the
answered ones are spread over the whole id range, as in a project under way.

Measured: ``services.browse.browse`` as the project's owner — checking the filters,
finding the page, opening its 50 tasks and auditing the read, one write transaction each —
for a search term, a rare term, a meta filter, "agreement below 0.5", an answer (label)
filter, a term with a meta filter, and no filter; ``RUNS`` times each, p50 and p99. Then
the search-term page once more through HTTP (``bastion serve``, the owner's browser
session: the page rendered), p50 and p99.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from . import seeding
from .servers import Server, postgres_database
from .workload import pct

RUNS = 30
LANGS = ("en", "en", "en", "fr", "de", "es", "it")
SOURCES = ("web", "mail", "phone", "chat")
TOPICS = ("refund", "billing", "login", "crash", "shipping", "privacy", "latency", "invoice")
CONFIG = {"type": "classification", "field": "text", "labels": ["billing", "bug", "other"]}

QUERIES = {
    "search term": {"q": "refund"},
    "rare term": {"q": "zephyr"},
    "meta filter": {"meta": "lang=fr"},
    "agreement below 0.5": {"agreement_below": "0.5"},
    "answer (label) filter": {"label": "bug"},
    "term + meta": {"q": "refund", "meta": "source=chat"},
    "no filter": {},
}


def _vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size * 2)}
    return sorted(words - {"refund", "zephyr", "bug"})[:size]


def write_tasks(path: Path, n: int, seed: int = 7) -> Path:
    """``n`` tasks as JSON Lines: ~20 Zipf-distributed words, a topic, an order code; meta lang/source."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    fragments = [" ".join(rng.choices(vocab, weights=weights, k=6)) for _ in range(20_000)]
    with path.open("wb") as fh:
        block = []
        for i in range(n):
            a, b, c = (i * 7919) % 20_000, (i * 104_729 + 7) % 20_000, (i * 1_299_709 + 13) % 20_000
            rare = " zephyr" if i % 9973 == 0 else ""
            text = (
                f"{fragments[a].capitalize()}, about {TOPICS[(i * 31) % len(TOPICS)]}. {fragments[b]}; "
                f"order A{(i * 7919) % 1_000_003} — {fragments[c]}{rare}."
            )
            line = {
                "data": {"text": text},
                "meta": {"lang": LANGS[i % len(LANGS)], "source": SOURCES[(i // 7) % len(SOURCES)]},
                "priority": rng.randint(-5, 5),
                "external_id": f"b-{i}",
            }
            block.append(orjson.dumps(line) + b"\n")
            if len(block) >= 10_000:
                fh.write(b"".join(block))
                block.clear()
        fh.write(b"".join(block))
    return path


def annotate(rt, world, project_id: str, tasks: int) -> float:
    """Two annotators answer ``tasks`` tasks through the services; they agree on about two in three."""
    from bastion.access import Actor
    from bastion.services import annotations, queue
    from bastion.services.context import Context

    start = time.perf_counter()
    for who, user_id in enumerate(world.annotator_ids[:2]):
        ctx = Context(rt, Actor(kind="user", user_id=user_id))
        task = queue.next_task(ctx, project_id)
        for _ in range(tasks):
            if task is None:
                break
            n = int(task["id"][-4:], 16)
            label = CONFIG["labels"][n % 3] if who == 0 or n % 3 else CONFIG["labels"][(n + 1) % 3]
            _, task = annotations.submit_and_next(ctx, task["id"], {"label": label}, lead_time_ms=1000)
    return time.perf_counter() - start


def measure(rt, world, project_id: str, runs: int = RUNS) -> dict[str, dict]:
    """p50/p99 (ms) of the first page of each query, through the service, as the project's owner."""
    from bastion.access import Actor
    from bastion.services import browse
    from bastion.services.context import Context

    ctx = Context(rt, Actor(kind="user", user_id=world.owner_id))
    out = {}
    for name, params in QUERIES.items():
        times, count = [], 0
        for _ in range(runs + 1):
            start = time.perf_counter()
            page = browse.browse(ctx, project_id, params)
            times.append(1000 * (time.perf_counter() - start))
            count = len(page.items)
        times = times[1:]  # the first run warms the caches
        out[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(pct(times, 99) or 0, 1),
            "rows": count,
            "params": params,
        }
    return out


def measure_http(settings, world, project_id: str, runs: int = RUNS) -> dict:
    """The search-term page through ``bastion serve`` with the owner's browser session."""
    server = Server(settings.data_dir, settings.database_url, name="browse")
    server.start()
    try:
        times = []
        with httpx.Client(base_url=server.url, cookies={"bastion_session": world.owner_session}, timeout=60) as c:
            for attempt in range(runs + 1):
                start = time.perf_counter()
                r = c.get(f"/projects/{project_id}/tasks", params=QUERIES["search term"])
                elapsed = 1000 * (time.perf_counter() - start)
                if r.status_code != 200 or 'class="task-link"' not in r.text:
                    raise RuntimeError(f"browse page: {r.status_code} {r.text[:300]}")
                if attempt:
                    times.append(elapsed)
        return {"p50_ms": round(statistics.median(times), 1), "p99_ms": round(pct(times, 99) or 0, 1)}
    finally:
        server.stop()


def run(settings, work: Path, n: int, annotated: int) -> dict:
    """The whole section on a fresh data directory: setup, then the measures."""
    path = write_tasks(work / f"browse-{n}.jsonl", n)
    rt = seeding.open_runtime(settings)
    try:
        world = seeding.make_world(rt, annotators=2, tag="browse")
        from bastion.services import projects

        project = projects.create_project(
            seeding.system(rt), world.workspace_id, name="Browse", config=CONFIG, settings={"overlap": 2}
        ).id
        imported, import_s = seeding.import_file(rt, project, path)
        annotate_s = annotate(rt, world, project, annotated)
        print(
            f"  browse {n:>9,}: setup imported {imported:,} in {import_s:.1f} s, "
            f"{annotated:,} tasks answered twice in {annotate_s:.1f} s",
            flush=True,
        )
        service = measure(rt, world, project)
    finally:
        rt.close()
    for name, figures in service.items():
        print(
            f"  browse {n:>9,} first page, {name}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms "
            f"({figures['rows']} rows)",
            flush=True,
        )
    http = measure_http(settings, world, project)
    print(f"  browse {n:>9,} first page over HTTP (search term): p50 {http['p50_ms']} ms, p99 {http['p99_ms']} ms")
    return {
        "tasks": n,
        "imported": imported,
        "annotated_tasks": annotated,
        "setup_import_s": round(import_s, 1),
        "setup_annotate_s": round(annotate_s, 1),
        "service": service,
        "http": http,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browse", description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--annotated", type=int, default=2000, help="tasks answered by two annotators")
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bastion-browse-"))
    try:
        if args.db == "postgresql":
            with postgres_database() as url:
                result = run(seeding.settings_for(work / "data", url), work, args.tasks, args.annotated)
        else:
            result = run(seeding.settings_for(work / "data"), work, args.tasks, args.annotated)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"browse-{args.db}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
