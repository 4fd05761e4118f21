"""Export over HTTP, two builds of Bastion alternated on one seeded project (docs/benchmarks.md).

    python -m benchmarks.export_parallel seed --data DIR --tasks 100000 [--db postgresql]
    python -m benchmarks.export_parallel run --data DIR --tree base=/path/to/base/src \\
        --tree new=/path/to/new/src [--rounds 3] [--formats jsonl,parquet] [--env new:BASTION_EXPORT_WORKERS=2]
    PYTHONPATH=TREE/src python -m benchmarks.export_parallel cpu --data DIR [--format parquet] [--workers 2 --wait]

``seed`` makes a data directory (and, with ``--db postgresql``, a database kept until
``drop``) holding one project of ``--tasks`` tasks, every one answered once, as the
suite's export section does. ``run`` starts ``bastion serve`` from each tree in turn
(``PYTHONPATH`` = the tree's ``src``) on that same data, round after round (base, new,
base, new…), downloads each format and prints the first byte, the total and the
server's peak memory with its children (the export's worker processes), then the
medians. Both builds must read the same schema. ``cpu`` exports through the service in one
process (no HTTP) and prints the CPU seconds of that process and of its export workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from . import seeding
from .servers import PG_ADMIN, Server, ensure_app_role, init_database
from .workload import download, write_tasks

MB = 1024 * 1024


def _seed(args) -> None:
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    url = None
    if args.db == "postgresql":
        import psycopg

        name = f"bastion_export_{args.tasks}"
        ensure_app_role(PG_ADMIN)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        url = init_database(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)
    settings = seeding.settings_for(data / "data", url)
    rt = seeding.open_runtime(settings)
    world = seeding.make_world(rt, annotators=1)
    project = seeding.add_project(rt, world, "Export", overlap=1)
    tasks_file = write_tasks(data / "tasks.jsonl", args.tasks)
    imported, import_s = seeding.import_file(rt, project, tasks_file)
    annotated, seed_s = seeding.annotate_in_bulk(rt, world, project)
    rt.close()
    tasks_file.unlink()
    (data / "seeded.json").write_text(
        json.dumps({"project": project, "token": world.owner_token, "database_url": url, "tasks": args.tasks})
    )
    print(f"seeded {imported:,} tasks in {import_s:.1f} s, {annotated:,} answers in {seed_s:.1f} s", flush=True)


def _children_rss(pid: int) -> int:
    """The resident memory of ``pid`` and its descendants (the export's workers), in bytes."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
        todo.extend(parents.get(p, ()))
    return total


def _one(data: Path, seeded: dict, src: str, fmt: str, env: dict[str, str]) -> dict:
    import threading

    server = Server(data / "data", seeded["database_url"], name="export-bench", extra_env={"PYTHONPATH": src, **env})
    server.start()
    try:
        peak = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _children_rss(server.pid))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        target = data / f"out.{fmt}"
        got = download(
            f"{server.url}/api/v1/projects/{seeded['project']}/export?format={fmt}",
            {"Authorization": f"Bearer {seeded['token']}"},
            target,
        )
        done.set()
        watcher.join()
        if got.status != 200:
            raise RuntimeError(f"export {fmt}: {got.status} {target.read_bytes()[:300]!r}")
        target.unlink()
        return {
            "first_byte_ms": round(1000 * got.first_byte_s, 1),
            "seconds": round(got.total_s, 2),
            "mb": round(got.bytes / MB, 1),
            "streamed": got.chunked and got.content_length is None,
            "peak_rss_mb": round(peak / MB),
        }
    finally:
        server.stop()


def _run(args) -> None:
    data = Path(args.data)
    seeded = json.loads((data / "seeded.json").read_text())
    trees = dict(t.split("=", 1) for t in args.tree)
    envs: dict[str, dict[str, str]] = {name: {} for name in trees}
    for item in args.env:
        name, _, pair = item.partition(":")
        key, _, value = pair.partition("=")
        envs[name][key] = value
    formats = args.formats.split(",")
    results: dict[str, dict[str, list[dict]]] = {name: {fmt: [] for fmt in formats} for name in trees}
    for round_ in range(1, args.rounds + 1):
        for fmt in formats:
            for name, src in trees.items():
                got = _one(data, seeded, src, fmt, envs[name])
                results[name][fmt].append(got)
                print(f"round {round_} {fmt:>8} {name:>6}: {json.dumps(got)}", flush=True)
    print(f"\nmedians over {args.rounds} rounds, {seeded['tasks']:,} tasks:")
    for fmt in formats:
        for name in trees:
            runs = results[name][fmt]
            print(
                f"  {fmt:>8} {name:>6}: total {statistics.median(r['seconds'] for r in runs):.2f} s, "
                f"first byte {statistics.median(r['first_byte_ms'] for r in runs):.0f} ms, "
                f"peak RSS {statistics.median(r['peak_rss_mb'] for r in runs):.0f} MB, "
                f"{runs[0]['mb']} MB, streamed {all(r['streamed'] for r in runs)}",
                flush=True,
            )


def _cpu(args) -> None:
    """One format exported through the service in this process, twice (the second measured: a warm
    process, as a server is): wall time, first byte, CPU seconds of this process and of its workers."""
    import resource

    from bastion.services import exports
    from bastion.services.exports import ExportRequest

    data = Path(args.data)
    seeded = json.loads((data / "seeded.json").read_text())
    settings = seeding.settings_for(data / "data", seeded["database_url"])
    if hasattr(settings, "export_workers"):  # a build from before export workers has none
        settings.export_workers = args.workers
    exports.WAIT_FOR_WORKERS = args.wait  # every page past the first 10,000 tasks to the workers
    rt = seeding.open_runtime(settings)
    ctx = seeding.system(rt)
    for _ in range(2):
        began, cpu = time.perf_counter(), time.process_time()
        children = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
        export = exports.start_export(ctx, seeded["project"], request=ExportRequest(fmt=args.format))
        first, size = None, 0
        for chunk in export.stream():
            if first is None:
                first = time.perf_counter() - began
            size += len(chunk)
        result = {
            "format": args.format,
            "workers": args.workers,
            "seconds": round(time.perf_counter() - began, 2),
            "first_byte_ms": round(1000 * (first or 0)),
            "process_cpu_s": round(time.process_time() - cpu, 2),
            "workers_cpu_s": round(sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - children, 2),
            "mb": round(size / MB, 1),
            "worker_pids": getattr(export, "worker_pids", None),
        }
    rt.close()
    print(json.dumps(result), flush=True)


def _drop(args) -> None:
    seeded = json.loads((Path(args.data) / "seeded.json").read_text())
    if seeded["database_url"]:
        import psycopg

        name = seeded["database_url"].rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_parallel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed")
    seed.add_argument("--data", required=True)
    seed.add_argument("--tasks", type=int, default=100_000)
    seed.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    run = sub.add_parser("run")
    run.add_argument("--data", required=True)
    run.add_argument("--tree", action="append", required=True, help="NAME=SRC (a tree's src folder)")
    run.add_argument("--rounds", type=int, default=3)
    run.add_argument("--formats", default="jsonl,parquet")
    run.add_argument("--env", action="append", default=[], help="NAME:KEY=VALUE for that tree's server")
    cpu = sub.add_parser("cpu")
    cpu.add_argument("--data", required=True)
    cpu.add_argument("--format", default="jsonl")
    cpu.add_argument("--workers", type=int, default=0)
    cpu.add_argument("--wait", action="store_true", help="wait for the workers to start (tests do)")
    drop = sub.add_parser("drop")
    drop.add_argument("--data", required=True)
    args = parser.parse_args(argv)
    {"seed": _seed, "run": _run, "cpu": _cpu, "drop": _drop}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
