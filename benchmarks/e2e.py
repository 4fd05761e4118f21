"""End-to-end workload: import 10k tasks (CLI and API), label them concurrently, export.

    python -m benchmarks.e2e [--db sqlite|postgresql] [--tasks 10000] [--annotators 8] [--overlap 2]

Runs a real ``bastion serve`` process on a fresh data directory (and, for
PostgreSQL, a fresh database on 127.0.0.1:5432), then:

1. imports N tasks from a JSONL file with ``bastion import`` (project A);
2. imports the same file through ``POST /api/v1/projects/{p}/tasks`` as JSON Lines (project B);
3. has K annotators label project A over HTTP (next + submit) until the queue is empty;
4. exports project A through the API and checks: every acknowledged annotation is
   there, no task has more than ``overlap`` annotations, nobody annotated a task twice.

Prints the figures and writes them to ``benchmarks/results/e2e-<db>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson

from .servers import postgres_database

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"


def bastion(env: dict, *args: str, stdin: str | None = None) -> str:
    exe = [sys.executable, "-m", "bastion.cli", *args]
    done = subprocess.run(exe, env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bastion {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def make_file(path: Path, n: int) -> None:
    topics = ["billing", "login", "refund", "crash", "feature", "shipping", "privacy", "latency"]
    with path.open("wb") as fh:
        for i in range(n):
            text = (
                f"Ticket {i}: the customer writes about {topics[i % len(topics)]} "
                f"and mentions order {i * 7919 % 100000} placed on day {i % 28 + 1}."
            )
            fh.write(orjson.dumps({"data": {"text": text}, "external_id": f"t-{i}"}) + b"\n")


def wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("bastion serve exited early")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("bastion serve did not come up")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def run(db: str, n_tasks: int, n_annotators: int, overlap: int, port: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bastion-e2e-"))
    env = {**os.environ, "BASTION_DATA_DIR": str(work / "data")}
    cleanup = ExitStack()
    if db == "postgresql":  # a fresh database; the server connects as the app role (docs/security.md)
        env["BASTION_DATABASE_URL"] = cleanup.enter_context(postgres_database())
    try:
        bastion(env, "init")
        bastion(env, "user", "create", "owner@example.com")
        ws = bastion(env, "workspace", "create", "Bench", "--owner", "owner@example.com")
        config = work / "config.json"
        config.write_text(json.dumps({"type": "classification", "labels": ["billing", "bug", "other"]}))
        project_a = bastion(
            env, "project", "create", ws, "--config", str(config), "--name", "A", "--overlap", str(overlap)
        )
        project_b = bastion(
            env, "project", "create", ws, "--config", str(config), "--name", "B", "--overlap", str(overlap)
        )
        tokens = []
        for i in range(n_annotators):
            bastion(env, "user", "create", f"a{i}@example.com")
            bastion(env, "member", "add", ws, f"a{i}@example.com", "--role", "annotator")
            tokens.append(bastion(env, "token", "create", f"a{i}@example.com"))
        owner_token = bastion(env, "token", "create", "owner@example.com")
        data = work / "tasks.jsonl"
        make_file(data, n_tasks)

        t0 = time.perf_counter()
        bastion(env, "import", project_a, str(data))
        cli_import_s = time.perf_counter() - t0

        proc = subprocess.Popen(
            [sys.executable, "-m", "bastion.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_up(url, proc)
            owner = {"Authorization": f"Bearer {owner_token}"}
            t0 = time.perf_counter()
            r = httpx.post(
                f"{url}/api/v1/projects/{project_b}/tasks",
                content=data.read_bytes(),
                headers={**owner, "Content-Type": "application/x-ndjson"},
                timeout=600,
            )
            api_import_s = time.perf_counter() - t0
            assert r.status_code == 200 and r.json()["imported"] == n_tasks, r.text

            acknowledged: list[str] = []
            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()

            def annotate(token: str) -> None:
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                    while True:
                        s = time.perf_counter()
                        r = http.post(f"/api/v1/projects/{project_a}/next")
                        if r.status_code == 204:
                            return
                        if r.status_code != 200:
                            failures.append(f"next {r.status_code}")
                            return
                        r2 = http.post(f"/api/v1/tasks/{r.json()['id']}/annotations", json={"result": {"label": "bug"}})
                        elapsed = time.perf_counter() - s
                        with lock:
                            latencies.append(elapsed)
                            if r2.status_code == 201:
                                acknowledged.append(r2.json()["id"])
                            else:
                                failures.append(f"submit {r2.status_code}")

            threads = [threading.Thread(target=annotate, args=(t,)) for t in tokens]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            label_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            first_byte = None
            body = bytearray()
            with httpx.stream(
                "GET", f"{url}/api/v1/projects/{project_a}/export?format=jsonl", headers=owner, timeout=600
            ) as r:
                for chunk in r.iter_bytes():
                    if first_byte is None:
                        first_byte = time.perf_counter() - t0
                    body.extend(chunk)
            export_s = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(30)
        rows = [orjson.loads(line) for line in bytes(body).splitlines()]
        exported = {a["id"] for row in rows for a in row["annotations"]}
        per_task = Counter(len(row["annotations"]) for row in rows)
        pairs = [(row["id"], a["user_id"]) for row in rows for a in row["annotations"]]
        result = {
            "db": db,
            "tasks": n_tasks,
            "annotators": n_annotators,
            "overlap": overlap,
            "cli_import_s": round(cli_import_s, 3),
            "api_import_s": round(api_import_s, 3),
            "label_s": round(label_s, 3),
            "annotations": len(acknowledged),
            "submissions_per_s": round(len(acknowledged) / label_s, 1),
            "next_submit_p50_ms": round(1000 * statistics.median(latencies), 2) if latencies else None,
            "next_submit_p99_ms": round(1000 * pct(latencies, 99), 2) if latencies else None,
            "export_s": round(export_s, 3),
            "export_first_byte_ms": round(1000 * (first_byte or 0), 1),
            "exported_tasks": len(rows),
            "failures": len(failures),
            "lost_acknowledged": len(set(acknowledged) - exported),
            "tasks_over_overlap": sum(v for k, v in per_task.items() if k > overlap),
            "double_annotations": len(pairs) - len(set(pairs)),
        }
        return result
    finally:
        cleanup.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    result = run(args.db, args.tasks, args.annotators, args.overlap, args.port)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"e2e-{args.db}.json").write_text(json.dumps(result, indent=2))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    bad = (
        result["lost_acknowledged"]
        or result["tasks_over_overlap"]
        or result["double_annotations"]
        or result["failures"]
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
