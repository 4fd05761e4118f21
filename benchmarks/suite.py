"""The benchmark suite: import, annotate, export and memory at a million tasks.

    python -m benchmarks [--db sqlite,postgresql] [--quick] [--only import,annotate,export,memory,browse]

Every figure is measured in the run that prints it, against real processes:

* **import** — ``bastion import PROJECT FILE`` (a subprocess, encryption on) of 100k
  and 1M generated JSON Lines text tasks, each into a fresh data directory: wall
  time including the CLI's start, tasks/s, the CLI process's peak RSS.
* **memory** — one ``bastion serve`` process; 100k, then 1M tasks imported in one
  HTTP request each (``application/x-ndjson``, the body streamed from disk), while
  the server's peak RSS is read from ``/proc/<pid>/status`` (``VmHWM``).
* **annotate** — 1, 8 and 64 concurrent clients over HTTP against ``bastion serve``,
  each looping next + submit for a fixed time on its own project (100k tasks,
  overlap 2): submissions/s, p50/p99 of the next + submit pair, then the project is
  exported and checked — no task over its overlap, nobody twice on a task, every
  acknowledged (201) annotation present. On PostgreSQL, 64 clients also run
  against two ``bastion serve`` processes sharing the database (the ratio to one).
* **export** — a 10k and a 1M task project, every task annotated, exported over HTTP
  as JSON Lines and as a JSON array: time to the first byte, total time, whether the
  response was streamed (chunked, no Content-Length), the server's peak RSS; the
  file is then read back and checked (row count, every annotation decrypted). The
  annotated projects are built in-process by ``seeding.annotate_in_bulk`` —
  benchmark setup, not measured (see that module).

* **browse** — the data browser's first page of a filtered view (a search term, a rare term, a
  meta filter, "agreement below 0.5", an answer filter, a term with a meta filter, none) at
  1M tasks with varied text and meta, 2,000 of them answered twice through the services:
  p50/p99 through the service, and the search-term page through HTTP (``benchmarks/browse.py``).

``--quick`` shrinks every size (10k/20k tasks, 3 s of annotating) for a smoke run.
Prints a table with the target beside each figure and writes
``benchmarks/results/suite-<db>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson
from sqlalchemy import func, select

from . import browse, seeding
from .machine import describe as machine
from .servers import MemoryWatch, Server, postgres_database, rss_bytes, server_env, timed_cli
from .workload import BastionProtocol, download, run_annotators, write_tasks

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
SECTIONS = ("import", "memory", "annotate", "export", "browse")
MB = 1024 * 1024

SIZES = {
    "full": {
        "import": (100_000, 1_000_000),
        "memory": (100_000, 1_000_000),
        "annotate_tasks": 100_000,
        "annotate_seconds": 15.0,
        "clients": (1, 8, 64),
        "export": (10_000, 1_000_000),
        "browse": (1_000_000, 2_000),  # tasks, tasks answered twice
    },
    "quick": {
        "import": (10_000, 20_000),
        "memory": (10_000, 20_000),
        "annotate_tasks": 10_000,
        "annotate_seconds": 3.0,
        "clients": (1, 8, 64),
        "export": (10_000, 20_000),
        "browse": (20_000, 200),
    },
}
OVERLAP = 2


class Run:
    """One suite run on one database: a scratch directory, the task files, the results."""

    def __init__(self, db: str, quick: bool, work: Path) -> None:
        self.db = db
        self.quick = quick
        self.sizes = SIZES["quick" if quick else "full"]
        self.work = work
        self.results: dict = {}
        self._files: dict[int, Path] = {}

    def tasks_file(self, n: int) -> Path:
        if n not in self._files:
            self._files[n] = write_tasks(self.work / f"tasks-{n}.jsonl", n)
        return self._files[n]

    @contextmanager
    def fresh(self, tag: str):
        """A fresh data directory (and, on PostgreSQL, a fresh database): its Settings."""
        data = self.work / f"data-{tag}"
        shutil.rmtree(data, ignore_errors=True)
        with ExitStack() as stack:
            url = stack.enter_context(postgres_database()) if self.db == "postgresql" else None
            try:
                yield seeding.settings_for(data, url)
            finally:
                shutil.rmtree(data, ignore_errors=True)

    # -- sections -------------------------------------------------------------

    def run_import(self) -> None:
        out = {}
        for n in self.sizes["import"]:
            path = self.tasks_file(n)
            with self.fresh(f"import-{n}") as settings:
                rt = seeding.open_runtime(settings)
                world = seeding.make_world(rt, annotators=0)
                project = seeding.add_project(rt, world, "Import")
                rt.close()
                env = server_env(settings.data_dir, settings.database_url)
                seconds, peak, stdout = timed_cli(env, "import", project, str(path))
                imported = _imported(stdout)
                out[str(n)] = {
                    "tasks": n,
                    "imported": imported,
                    "seconds": round(seconds, 2),
                    "tasks_per_s": round(n / seconds),
                    "cli_peak_rss_mb": round(peak / MB),
                }
                print(
                    f"  import {n:>9,} via CLI: {seconds:.2f} s ({n / seconds:,.0f} tasks/s), "
                    f"peak RSS {peak / MB:.0f} MB",
                    flush=True,
                )
                if imported != n:
                    raise RuntimeError(f"CLI import of {n} tasks imported {imported}: {stdout}")
        self.results["import"] = out

    def run_memory(self) -> None:
        out = {}
        with self.fresh("memory") as settings:
            rt = seeding.open_runtime(settings)
            world = seeding.make_world(rt, annotators=0)
            projects = {n: seeding.add_project(rt, world, f"Server import {n}") for n in self.sizes["memory"]}
            rt.close()
            files = {n: self.tasks_file(n) for n in self.sizes["memory"]}
            server = Server(settings.data_dir, settings.database_url, name="memory")
            started = server.start()
            try:
                idle = rss_bytes(server.pid)
                out["idle_rss_mb"] = round(idle / MB)
                out["start_s"] = round(started, 2)
                for n, project in projects.items():
                    with MemoryWatch(server.pid) as watch:
                        start = time.perf_counter()
                        r = httpx.post(
                            f"{server.url}/api/v1/projects/{project}/tasks",
                            content=_file_chunks(files[n]),
                            headers={
                                "Authorization": f"Bearer {world.owner_token}",
                                "Content-Type": "application/x-ndjson",
                            },
                            timeout=1800,
                        )
                        seconds = time.perf_counter() - start
                    if r.status_code != 200 or r.json()["imported"] != n:
                        raise RuntimeError(f"server import of {n}: {r.status_code} {r.text[:500]}")
                    out[str(n)] = {
                        "tasks": n,
                        "seconds": round(seconds, 2),
                        "tasks_per_s": round(n / seconds),
                        "server_peak_rss_mb": round(watch.peak_bytes / MB),
                        "bytes": files[n].stat().st_size,
                    }
                    print(
                        f"  import {n:>9,} in one HTTP request: {seconds:.2f} s ({n / seconds:,.0f} tasks/s), "
                        f"server peak RSS {watch.peak_bytes / MB:.0f} MB (idle {idle / MB:.0f} MB)",
                        flush=True,
                    )
                    out[str(n)]["pages_ms"] = pages = _time_pages(server.url, world, project, settings)
                    print(
                        f"  pages at {n:,} tasks (median of 5, ms): " + ", ".join(f"{k} {v}" for k, v in pages.items()),
                        flush=True,
                    )
            finally:
                server.stop()
        self.results["memory"] = out

    def run_annotate(self) -> None:
        sizes = self.sizes
        n_tasks = sizes["annotate_tasks"]
        runs = [(c, 1) for c in sizes["clients"]]
        if self.db == "postgresql":
            runs.append((max(sizes["clients"]), 2))
        out = {}
        with self.fresh("annotate") as settings:
            rt = seeding.open_runtime(settings)
            world = seeding.make_world(rt, annotators=sum(c for c, _ in runs))
            path = self.tasks_file(n_tasks)
            plan = []
            first = 0
            for clients, servers in runs:
                project = seeding.add_project(rt, world, f"Annotate {clients}x{servers}", overlap=OVERLAP)
                seeding.import_file(rt, project, path)
                plan.append((clients, servers, project, world.annotator_tokens[first : first + clients]))
                first += clients
            rt.close()
            pool = [Server(settings.data_dir, settings.database_url, name=f"annotate-{i}") for i in range(2)]
            try:
                pool[0].start()
                for clients, servers, project, tokens in plan:
                    if servers > 1 and pool[1].proc is None:
                        pool[1].start()
                    urls = [s.url for s in pool[:servers]]
                    cpu_before = sum(_cpu_seconds(s.pid) for s in pool[:servers])
                    load = run_annotators(urls, tokens, BastionProtocol(project), seconds=sizes["annotate_seconds"])
                    cpu_s = sum(_cpu_seconds(s.pid) for s in pool[:servers]) - cpu_before
                    figures = load.figures()
                    # The servers' CPU (user + system) per acknowledged pair: unlike latency, it barely
                    # moves with what else runs on the machine, so it compares code on a shared one.
                    pairs = len(load.acknowledged)
                    figures["server_cpu_ms_per_pair"] = round(1000 * cpu_s / pairs, 2) if pairs else None
                    figures.update(
                        _check_annotations(
                            pool[0].url, world.owner_token, project, [a for a, _, _ in load.acknowledged]
                        )
                    )
                    figures.update({"clients": clients, "servers": servers, "tasks": n_tasks, "overlap": OVERLAP})
                    out[f"{clients}x{servers}"] = figures
                    print(
                        f"  annotate {clients:>2} client(s) on {servers} server(s): "
                        f"{figures['submissions_per_s']}/s, p50 {figures['pair_p50_ms']} ms, "
                        f"p99 {figures['pair_p99_ms']} ms, over-annotated {figures['tasks_over_overlap']}, "
                        f"lost {figures['lost_acknowledged']}, failures {figures['failures']}, "
                        f"server CPU {figures['server_cpu_ms_per_pair']} ms/pair",
                        flush=True,
                    )
            finally:
                for s in pool:
                    s.stop()
        if self.db == "postgresql":
            top = max(sizes["clients"])
            one, two = out[f"{top}x1"]["submissions_per_s"], out[f"{top}x2"]["submissions_per_s"]
            out["two_servers_ratio"] = round(two / one, 2) if one else None
        self.results["annotate"] = out

    def run_export(self) -> None:
        out = {}
        for n in self.sizes["export"]:
            with self.fresh(f"export-{n}") as settings:
                rt = seeding.open_runtime(settings)
                world = seeding.make_world(rt, annotators=1)
                project = seeding.add_project(rt, world, "Export", overlap=1)
                imported, import_s = seeding.import_file(rt, project, self.tasks_file(n))
                annotated, seed_s = seeding.annotate_in_bulk(rt, world, project)
                rt.close()
                print(
                    f"  export {n:>9,}: setup imported {imported:,} in {import_s:.1f} s, "
                    f"annotated {annotated:,} in bulk in {seed_s:.1f} s",
                    flush=True,
                )
                entry = {"tasks": n, "setup_annotated": annotated}
                server = Server(settings.data_dir, settings.database_url, name="export")
                server.start()
                try:
                    for fmt in ("jsonl", "json"):
                        target = self.work / f"export-{n}.{fmt}"
                        with MemoryWatch(server.pid) as watch:
                            got = download(
                                f"{server.url}/api/v1/projects/{project}/export?format={fmt}",
                                {"Authorization": f"Bearer {world.owner_token}"},
                                target,
                            )
                        if got.status != 200:
                            raise RuntimeError(f"export {fmt}: {got.status} {target.read_bytes()[:300]!r}")
                        checked = _check_export(target, fmt, n)
                        target.unlink()
                        entry[fmt] = {
                            "first_byte_ms": round(1000 * got.first_byte_s, 1),
                            "seconds": round(got.total_s, 2),
                            "tasks_per_s": round(n / got.total_s),
                            "mb": round(got.bytes / MB, 1),
                            "streamed": got.chunked and got.content_length is None,
                            "server_peak_rss_mb": round(watch.peak_bytes / MB),
                            **checked,
                        }
                        print(
                            f"  export {n:>9,} {fmt:>5}: first byte {1000 * got.first_byte_s:.0f} ms, "
                            f"total {got.total_s:.2f} s ({got.bytes / MB:.0f} MB, "
                            f"{'streamed' if entry[fmt]['streamed'] else 'NOT streamed'}), "
                            f"server peak RSS {watch.peak_bytes / MB:.0f} MB, rows {checked['rows']:,}",
                            flush=True,
                        )
                finally:
                    server.stop()
                out[str(n)] = entry
        self.results["export"] = out

    def run_browse(self) -> None:
        n, answered = self.sizes["browse"]
        with self.fresh("browse") as settings:
            self.results["browse"] = browse.run(settings, self.work, n, answered)


PAGES = ("home", "project", "data browser, first", "data browser, middle")


def _time_pages(url: str, world, project: str, settings) -> dict[str, float]:
    """Median time (ms, 5 tries after one warm-up) of each page a manager opens, over HTTP with a
    browser session. The middle page's cursor is read from the database (setup, not timed)."""
    from bastion.storage import schema

    rt = seeding.open_runtime(settings)
    try:
        with seeding.system(rt).read() as r:
            total = r.tx.execute(
                select(func.count()).select_from(schema.tasks).where(schema.tasks.c.project_id == project)
            ).scalar_one()
            middle = r.tx.execute(
                select(schema.tasks.c.id)
                .where(schema.tasks.c.project_id == project)
                .order_by(schema.tasks.c.id)
                .offset(total // 2)
                .limit(1)
            ).scalar_one()
    finally:
        rt.close()
    paths = dict(
        zip(
            PAGES,
            ("/", f"/projects/{project}", f"/projects/{project}/tasks", f"/projects/{project}/tasks?cursor={middle}"),
        )
    )
    out = {}
    with httpx.Client(base_url=url, cookies={"bastion_session": world.owner_session}, timeout=60) as client:
        for name, path in paths.items():
            times = []
            for attempt in range(6):
                start = time.perf_counter()
                r = client.get(path)
                elapsed = time.perf_counter() - start
                if r.status_code != 200 or 'id="first-access"' in r.text:
                    raise RuntimeError(f"page {path}: {r.status_code} {r.text[:300]}")
                if attempt:
                    times.append(elapsed)
            out[name] = round(1000 * statistics.median(times), 1)
    return out


def _file_chunks(path: Path, size: int = 1 << 20):
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def _imported(stdout: str) -> int:
    # "imported N, skipped M duplicate(s), rejected K"
    for word in stdout.replace(",", " ").split("imported", 1)[-1].split():
        if word.isdigit():
            return int(word)
    return -1


def _check_annotations(url: str, token: str, project: str, acknowledged: list[str]) -> dict:
    """Export the annotated tasks and check the invariants against what the clients were told."""
    body = httpx.get(
        f"{url}/api/v1/projects/{project}/export",
        params={"format": "jsonl", "annotated_only": "true"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    )
    body.raise_for_status()
    rows = [orjson.loads(line) for line in body.content.splitlines() if line]
    exported = {a["id"] for row in rows for a in row["annotations"]}
    pairs = Counter((row["id"], a["user_id"]) for row in rows for a in row["annotations"])
    return {
        "annotated_tasks": len(rows),
        "tasks_over_overlap": sum(1 for row in rows if len(row["annotations"]) > OVERLAP),
        "double_annotations": sum(1 for c in pairs.values() if c > 1),
        "lost_acknowledged": len(set(acknowledged) - exported),
        "exported_annotations": len(exported),
    }


def _check_export(path: Path, fmt: str, n: int) -> dict:
    """Read an export back: one row per task, one decrypted annotation each."""
    rows = annotations = 0
    ids = set()
    if fmt == "jsonl":
        with path.open("rb") as fh:
            for line in fh:
                row = orjson.loads(line)
                rows += 1
                ids.add(row["id"])
                annotations += sum(1 for a in row["annotations"] if a["result"].get("label"))
    else:
        data = orjson.loads(path.read_bytes())
        rows = len(data)
        ids = {row["id"] for row in data}
        annotations = sum(1 for row in data for a in row["annotations"] if a["result"].get("label"))
        del data
    problems = []
    if rows != n or len(ids) != n:
        problems.append(f"{rows} rows, {len(ids)} distinct tasks, expected {n}")
    if annotations != n:
        problems.append(f"{annotations} annotations with a result, expected {n}")
    if problems:
        raise RuntimeError(f"export {fmt}: " + "; ".join(problems))
    return {"rows": rows, "annotations": annotations}


# -- the table ----------------------------------------------------------------------


def _row(label: str, value, target: str, met: bool | None) -> tuple[str, str, str, str]:
    verdict = "" if met is None else ("met" if met else "MISSED")
    return label, "—" if value is None else str(value), target, verdict


def table(results: dict) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, verdict) rows; targets apply at full size only."""
    full = not results["quick"]
    rows = []

    def judged(ok: bool) -> bool | None:
        return ok if full else None

    imp = results.get("import", {})
    for entry in imp.values():
        n = entry["tasks"]
        target = "≤ 10 s" if n == 1_000_000 else ""
        rows.append(
            _row(
                f"CLI import {n:,} tasks",
                f"{entry['seconds']} s ({entry['tasks_per_s']:,}/s)",
                target,
                judged(entry["seconds"] <= 10) if n == 1_000_000 else None,
            )
        )
        rows.append(_row(f"  CLI peak RSS ({n:,})", f"{entry['cli_peak_rss_mb']} MB", "", None))
    mem = results.get("memory", {})
    for entry in mem.values():
        if not isinstance(entry, dict):
            continue
        n = entry["tasks"]
        rows.append(
            _row(f"server import {n:,} (one request)", f"{entry['seconds']} s ({entry['tasks_per_s']:,}/s)", "", None)
        )
        rows.append(
            _row(
                f"  server peak RSS through {n:,}",
                f"{entry['server_peak_rss_mb']} MB",
                "≤ 250 MB" if n == 1_000_000 else "",
                judged(entry["server_peak_rss_mb"] <= 250) if n == 1_000_000 else None,
            )
        )
        for page, ms in entry.get("pages_ms", {}).items():
            big = n == 1_000_000 and page == "project"
            rows.append(
                _row(
                    f"  page: {page} ({n:,} tasks)",
                    f"{ms} ms",
                    "≤ 200 ms" if big else "",
                    judged(ms <= 200) if big else None,
                )
            )
    ann = results.get("annotate", {})
    for entry in ann.values():
        if not isinstance(entry, dict):
            continue
        c, s = entry["clients"], entry["servers"]
        label = f"annotate {c} client{'s' if c > 1 else ''}" + (f", {s} servers" if s > 1 else "")
        if c == 1:
            rows.append(
                _row(
                    f"{label}: p50 next+submit",
                    f"{entry['pair_p50_ms']} ms",
                    "≤ 5 ms",
                    entry["pair_p50_ms"] is not None and entry["pair_p50_ms"] <= 5,
                )
            )
        rows.append(
            _row(
                f"{label}: throughput",
                f"{entry['submissions_per_s']}/s",
                "≥ 1,000/s" if c == 64 and s == 1 else "",
                judged(entry["submissions_per_s"] >= 1000) if c == 64 and s == 1 else None,
            )
        )
        rows.append(
            _row(
                f"{label}: p50 / p99",
                f"{entry['pair_p50_ms']} / {entry['pair_p99_ms']} ms",
                "p99 ≤ 50 ms" if c == 64 else "",
                (entry["pair_p99_ms"] is not None and entry["pair_p99_ms"] <= 50) if c == 64 else None,
            )
        )
        rows.append(
            _row(
                f"{label}: over-annotated / lost / double",
                f"{entry['tasks_over_overlap']} / {entry['lost_acknowledged']} / {entry['double_annotations']}",
                "0 / 0 / 0",
                entry["tasks_over_overlap"] == entry["lost_acknowledged"] == entry["double_annotations"] == 0,
            )
        )
    if "two_servers_ratio" in ann:
        rows.append(
            _row(
                "2 servers vs 1 (64 clients)",
                f"{ann['two_servers_ratio']}×",
                "≥ 1.6×",
                judged((ann["two_servers_ratio"] or 0) >= 1.6),
            )
        )
    exp = results.get("export", {})
    for entry in exp.values():
        n = entry["tasks"]
        for fmt in ("jsonl", "json"):
            e = entry[fmt]
            big = n == 1_000_000
            rows.append(
                _row(
                    f"export {n:,} annotated ({fmt})",
                    f"{e['seconds']} s ({e['tasks_per_s']:,}/s)",
                    "≤ 10 s" if big else "",
                    judged(e["seconds"] <= 10) if big else None,
                )
            )
            rows.append(
                _row(
                    f"  first byte ({fmt}, {n:,})",
                    f"{e['first_byte_ms']} ms" + ("" if e["streamed"] else " (not streamed)"),
                    "≤ 100 ms, streamed",
                    (e["first_byte_ms"] <= 100 and e["streamed"]),
                )
            )
            rows.append(_row(f"  server peak RSS (export {fmt}, {n:,})", f"{e['server_peak_rss_mb']} MB", "", None))
    brw = results.get("browse")
    if brw:
        n = brw["tasks"]
        big = n == 1_000_000
        for name, figures in brw["service"].items():
            rows.append(
                _row(
                    f"browse {n:,}: first page, {name} (p50 / p99)",
                    f"{figures['p50_ms']} / {figures['p99_ms']} ms",
                    "p50 ≤ 200 ms" if big else "",
                    judged(figures["p50_ms"] <= 200) if big else None,
                )
            )
        http = brw["http"]
        rows.append(
            _row(
                f"browse {n:,}: search page over HTTP (p50 / p99)", f"{http['p50_ms']} / {http['p99_ms']} ms", "", None
            )
        )
    return rows


def print_table(results: dict) -> None:
    rows = table(results)
    head = ("figure", "measured", "target", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    print(
        f"\nBastion on {results['db']} — {results['machine']['date']}, {results['machine']['cpus']} cores, "
        f"load {results['machine']['load_before']} → {results['machine'].get('load_after')}"
        + (" (quick sizes: targets not judged)" if results["quick"] else "")
    )
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def run_suite(db: str, quick: bool, only: tuple[str, ...]) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bastion-suite-{db}-"))
    run = Run(db, quick, work)
    results = {
        "db": db,
        "quick": quick,
        "machine": machine(),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
    }
    started = time.perf_counter()
    try:
        for section in SECTIONS:
            if section in only:
                print(f"[{db}] {section}", flush=True)
                getattr(run, f"run_{section}")()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results.update(run.results)
    results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or both (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"some of: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    for name in dbs:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"--db: {name!r} is not sqlite or postgresql")
    for name in only:
        if name not in SECTIONS:
            parser.error(f"--only: {name!r} is not one of {', '.join(SECTIONS)}")
    RESULTS.mkdir(exist_ok=True)
    for db in dbs:
        results = run_suite(db, args.quick, only)
        suffix = "-quick" if args.quick else ""
        out = RESULTS / f"suite-{db}{suffix}.json"
        if set(only) != set(SECTIONS) and out.exists():
            # a partial run updates its sections and keeps the others' latest figures
            previous = json.loads(out.read_text())
            for section in SECTIONS:
                if section in previous and section not in only:
                    results.setdefault(section, previous[section])
                    results.setdefault("earlier", {})[section] = previous.get("machine", {}).get("date")
        out.write_text(json.dumps(results, indent=2))
        print_table(results)
        print(f"\nwritten to {out.relative_to(ROOT.parent)} ({results['seconds']} s)")
    return 0


def _cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
