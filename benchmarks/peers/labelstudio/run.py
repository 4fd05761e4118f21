"""Label Studio beside Bastion: the same import / annotate / export workload, one run.

    python -m benchmarks.peers.labelstudio [--tasks 100000] [--export-tasks 10000] [--seconds 30]

1. Makes ``benchmarks/peers/labelstudio/env/`` (``python3 -m venv`` + ``pip install
   label-studio==1.23.2``) unless it is already there; nothing of it is committed.
2. Label Studio on 127.0.0.1 with a fresh data directory under /tmp (its stock
   SQLite setup): people and legacy API tokens made with its own CLI
   (``label-studio init --username … --user-token … --enable-legacy-api-token``),
   then ``label-studio start --no-browser``. A text classification project with
   ``maximum_annotations`` = 1.
3. The workload, on Label Studio and then on Bastion (``bastion serve``, SQLite, a
   project with overlap 1), with the same generated tasks and the same HTTP client:
   import N tasks in one request (Label Studio: a JSON array to
   ``POST /api/projects/{id}/import``; Bastion: JSON Lines to
   ``POST /api/v1/projects/{p}/tasks``) while the server's peak RSS is sampled; one
   annotator, then eight, looping next + submit for a fixed time on that project;
   tasks over-annotated and acknowledged annotations missing, counted from an
   export; export of a project whose every task is annotated (Label Studio: the
   tasks are imported with their annotations; Bastion: ``seeding.annotate_in_bulk``)
   as JSON, timing the first byte and the end.
4. Prints each figure for both systems with the ratio and writes
   ``benchmarks/results/peer-labelstudio.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

from ... import seeding
from ...machine import describe as machine
from ...servers import MemoryWatch, Server, free_port
from ...workload import BastionProtocol, Response, download, run_annotators, task_line

HERE = Path(__file__).resolve().parent
ENV = HERE / "env"
VERSION = "1.23.2"
RESULTS = HERE.parent.parent / "results"
LABELS = ("billing", "bug", "other")
LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
    + "".join(f'<Choice value="{label}"/>' for label in LABELS)
    + "</Choices></View>"
)
MB = 1024 * 1024


# -- the environment ----------------------------------------------------------------


def ensure_env(version: str = VERSION) -> str:
    """Create the virtual environment and install Label Studio once; returns the installed version."""
    exe = ENV / "bin" / "label-studio"
    if not exe.exists():
        print(f"installing label-studio=={version} into {ENV} (once; several minutes)", flush=True)
        subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(ENV)], check=True)
        done = subprocess.run([str(ENV / "bin" / "pip"), "install", "-q", f"label-studio=={version}"], check=False)
        if done.returncode != 0:
            raise SystemExit(
                f"pip install label-studio=={version} failed; see its output above "
                f"(pip index versions label-studio lists what is available)"
            )
    out = subprocess.run(
        [str(ENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# -- Label Studio -------------------------------------------------------------------


class LabelStudio:
    """A stock Label Studio on 127.0.0.1 with its data under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "label-studio.log"
        # No calls out: no PyPI version check at start, no analytics (neither touches the API paths).
        self.env = {**os.environ, "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false"}
        for name in ("DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH"):
            self.env.pop(name, None)
        self.env["PATH"] = f"{ENV / 'bin'}:{os.environ.get('PATH', '')}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(ENV / "bin" / "label-studio"), *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"label-studio {' '.join(args)}: {(done.stdout + done.stderr)[-2000:]}")
        return done.stdout

    def add_user(self, email: str, token: str) -> None:
        """``label-studio init`` with a user and a legacy token: the documented headless way."""
        self.cli(
            "init",
            "--username",
            email,
            "--password",
            secrets.token_hex(12),
            "--user-token",
            token,
            "--enable-legacy-api-token",
            "--skip-long-migrations",
        )

    def start(self, timeout: float = 300) -> float:
        began = time.perf_counter()
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [
                    str(ENV / "bin" / "label-studio"),
                    "start",
                    "--no-browser",
                    "--port",
                    str(self.port),
                    "--internal-host",
                    "127.0.0.1",
                    "--data-dir",
                    str(self.data_dir),
                    "--skip-long-migrations",
                ],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        with httpx.Client(timeout=5) as http:
            while time.perf_counter() - began < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"label-studio exited: {self.log.read_text()[-3000:]}")
                try:
                    if http.get(self.url + "/health").status_code == 200:
                        return time.perf_counter() - began
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        raise RuntimeError(f"label-studio did not answer /health: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class LabelStudioProtocol:
    """Label Studio's next + submit calls (legacy token auth)."""

    def __init__(self, project_id: int, label: str = "bug") -> None:
        self.project_id = project_id
        self.body = orjson.dumps({"result": [_choice(label)], "lead_time": 1.0})

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Token {token}"}

    def next_request(self):
        return "GET", f"/api/projects/{self.project_id}/next/", None

    def is_empty(self, r: Response) -> bool:
        return r.status == 404

    def task_id_of(self, r: Response) -> int:
        return r.json()["id"]

    def submit_request(self, task_id):
        return "POST", f"/api/tasks/{task_id}/annotations/", self.body

    def submitted(self, r: Response) -> bool:
        return r.status == 201

    def annotation_id_of(self, r: Response) -> int:
        return r.json()["id"]


def _choice(label: str) -> dict:
    return {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}


def _ls_tasks(n: int, *, annotated: bool = False) -> bytes:
    """The suite's generated tasks as a Label Studio JSON array (the same texts)."""
    items = []
    for i in range(n):
        task = {"data": {"text": orjson.loads(task_line(i))["data"]["text"]}}
        if annotated:
            task["annotations"] = [{"result": [_choice(LABELS[i % len(LABELS)])]}]
        items.append(task)
    return orjson.dumps(items)


def run_labelstudio(work: Path, n_tasks: int, n_export: int, seconds: float, annotators: int) -> dict:
    data = work / "labelstudio"
    data.mkdir(parents=True)
    ls = LabelStudio(data)
    owner = secrets.token_hex(20)
    tokens = [secrets.token_hex(20) for _ in range(annotators)]
    began = time.perf_counter()
    ls.add_user("owner@bench.example.com", owner)
    for i, token in enumerate(tokens):
        ls.add_user(f"a{i}@bench.example.com", token)
    out: dict = {"users_setup_s": round(time.perf_counter() - began, 1)}
    out["start_s"] = round(ls.start(), 2)
    headers = {"Authorization": f"Token {owner}"}
    try:
        with httpx.Client(base_url=ls.url, headers=headers, timeout=3600) as http:

            def project(title: str) -> int:
                r = http.post(
                    "/api/projects/", json={"title": title, "label_config": LABEL_CONFIG, "maximum_annotations": 1}
                )
                r.raise_for_status()
                return r.json()["id"]

            main = project("Bench")
            body = _ls_tasks(n_tasks)
            with MemoryWatch(ls.proc.pid) as watch:
                start = time.perf_counter()
                r = http.post(
                    f"/api/projects/{main}/import", content=body, headers={"Content-Type": "application/json"}
                )
                import_s = time.perf_counter() - start
            r.raise_for_status()
            out["import"] = {
                "tasks": n_tasks,
                "seconds": round(import_s, 2),
                "tasks_per_s": round(n_tasks / import_s),
                "answer": {k: v for k, v in r.json().items() if k in ("task_count", "annotation_count")},
                "server_peak_rss_mb": round(watch.peak_bytes / MB),
            }
            print(
                f"  Label Studio import {n_tasks:,}: {import_s:.1f} s, peak RSS {watch.peak_bytes / MB:.0f} MB",
                flush=True,
            )
            out["annotate"] = {}
            acknowledged: list = []
            for clients in (1, annotators):
                load = run_annotators([ls.url], tokens[:clients], LabelStudioProtocol(main), seconds=seconds)
                acknowledged += [a for a, _, _ in load.acknowledged]
                out["annotate"][str(clients)] = load.figures()
                f = out["annotate"][str(clients)]
                print(
                    f"  Label Studio annotate {clients} client(s): {f['submissions_per_s']}/s, "
                    f"p50 {f['pair_p50_ms']} ms, p99 {f['pair_p99_ms']} ms, failures {f['failures']}",
                    flush=True,
                )
            r = http.get(f"/api/projects/{main}/export", params={"exportType": "JSON"})
            r.raise_for_status()
            rows = r.json()
            exported = {a["id"] for row in rows for a in row.get("annotations", [])}
            out["annotate"]["tasks_over_overlap"] = sum(1 for row in rows if len(row.get("annotations", [])) > 1)
            out["annotate"]["annotated_tasks"] = len(rows)
            out["annotate"]["lost_acknowledged"] = len(set(acknowledged) - exported)
            print(
                f"  Label Studio: {out['annotate']['tasks_over_overlap']} tasks over-annotated of "
                f"{len(rows)} annotated",
                flush=True,
            )

            exp = project("Export")
            start = time.perf_counter()
            r = http.post(
                f"/api/projects/{exp}/import",
                content=_ls_tasks(n_export, annotated=True),
                headers={"Content-Type": "application/json"},
            )
            r.raise_for_status()
            setup_s = time.perf_counter() - start
            target = work / "ls-export.json"
            got = download(f"{ls.url}/api/projects/{exp}/export?exportType=JSON", headers, target)
            exported_rows = orjson.loads(target.read_bytes())
            annotated = sum(1 for row in exported_rows if row.get("annotations"))
            out["export"] = {
                "tasks": n_export,
                "setup_import_s": round(setup_s, 1),
                "first_byte_ms": round(1000 * got.first_byte_s, 1),
                "seconds": round(got.total_s, 2),
                "mb": round(got.bytes / MB, 1),
                "streamed": got.chunked and got.content_length is None,
                "rows": len(exported_rows),
                "annotated_rows": annotated,
            }
            print(
                f"  Label Studio export {n_export:,}: first byte {1000 * got.first_byte_s:.0f} ms, "
                f"total {got.total_s:.2f} s, rows {len(exported_rows):,}",
                flush=True,
            )
    finally:
        ls.stop()
    return out


# -- Bastion, the same workload -----------------------------------------------------


def run_bastion(work: Path, n_tasks: int, n_export: int, seconds: float, annotators: int) -> dict:
    from ...workload import write_tasks

    settings = seeding.settings_for(work / "bastion")
    rt = seeding.open_runtime(settings)
    world = seeding.make_world(rt, annotators=annotators, tag="peer")
    main = seeding.add_project(rt, world, "Bench", overlap=1)
    exp = seeding.add_project(rt, world, "Export", overlap=1)
    export_file = write_tasks(work / "export.jsonl", n_export)
    seeding.import_file(rt, exp, export_file)
    seeding.annotate_in_bulk(rt, world, exp)
    rt.close()
    path = write_tasks(work / "tasks.jsonl", n_tasks)
    server = Server(settings.data_dir, name="peer")
    out: dict = {"start_s": round(server.start(), 2)}
    owner = {"Authorization": f"Bearer {world.owner_token}"}
    try:
        with MemoryWatch(server.pid) as watch:
            start = time.perf_counter()
            r = httpx.post(
                f"{server.url}/api/v1/projects/{main}/tasks",
                content=path.read_bytes(),
                headers={**owner, "Content-Type": "application/x-ndjson"},
                timeout=3600,
            )
            import_s = time.perf_counter() - start
        r.raise_for_status()
        out["import"] = {
            "tasks": n_tasks,
            "seconds": round(import_s, 2),
            "tasks_per_s": round(n_tasks / import_s),
            "imported": r.json()["imported"],
            "server_peak_rss_mb": round(watch.peak_bytes / MB),
        }
        print(f"  Bastion import {n_tasks:,}: {import_s:.1f} s, peak RSS {watch.peak_bytes / MB:.0f} MB", flush=True)
        out["annotate"] = {}
        acknowledged: list = []
        for clients in (1, annotators):
            load = run_annotators(
                [server.url], world.annotator_tokens[:clients], BastionProtocol(main), seconds=seconds
            )
            acknowledged += [a for a, _, _ in load.acknowledged]
            out["annotate"][str(clients)] = load.figures()
            f = out["annotate"][str(clients)]
            print(
                f"  Bastion annotate {clients} client(s): {f['submissions_per_s']}/s, p50 {f['pair_p50_ms']} ms, "
                f"p99 {f['pair_p99_ms']} ms, failures {f['failures']}",
                flush=True,
            )
        r = httpx.get(
            f"{server.url}/api/v1/projects/{main}/export",
            params={"format": "jsonl", "annotated_only": "true"},
            headers=owner,
            timeout=600,
        )
        r.raise_for_status()
        rows = [orjson.loads(line) for line in r.content.splitlines() if line]
        exported = {a["id"] for row in rows for a in row["annotations"]}
        pairs = Counter((row["id"], a["user_id"]) for row in rows for a in row["annotations"])
        out["annotate"].update(
            {
                "tasks_over_overlap": sum(1 for row in rows if len(row["annotations"]) > 1),
                "annotated_tasks": len(rows),
                "lost_acknowledged": len(set(acknowledged) - exported),
                "double_annotations": sum(1 for c in pairs.values() if c > 1),
            }
        )
        target = work / "bastion-export.json"
        got = download(f"{server.url}/api/v1/projects/{exp}/export?format=json", owner, target)
        exported_rows = orjson.loads(target.read_bytes())
        out["export"] = {
            "tasks": n_export,
            "first_byte_ms": round(1000 * got.first_byte_s, 1),
            "seconds": round(got.total_s, 2),
            "mb": round(got.bytes / MB, 1),
            "streamed": got.chunked and got.content_length is None,
            "rows": len(exported_rows),
            "annotated_rows": sum(1 for row in exported_rows if row["annotations"]),
        }
        print(
            f"  Bastion export {n_export:,}: first byte {1000 * got.first_byte_s:.0f} ms, total {got.total_s:.2f} s",
            flush=True,
        )
    finally:
        server.stop()
    return out


# -- side by side -------------------------------------------------------------------


def _ratio(ls, bastion, higher_is_better: bool) -> str:
    if not ls or not bastion:
        return "—"
    r = bastion / ls if higher_is_better else ls / bastion
    return f"{r:,.1f}× {'better' if r >= 1 else 'worse'}"


def comparison(ls: dict, b: dict, annotators: int) -> list[tuple[str, str, str, str]]:
    n = ls["import"]["tasks"]
    rows = [
        (
            f"import {n:,} tasks, one request",
            f"{ls['import']['seconds']} s",
            f"{b['import']['seconds']} s",
            _ratio(ls["import"]["seconds"], b["import"]["seconds"], False),
        ),
        (
            "  server peak RSS during import",
            f"{ls['import']['server_peak_rss_mb']} MB",
            f"{b['import']['server_peak_rss_mb']} MB",
            _ratio(ls["import"]["server_peak_rss_mb"], b["import"]["server_peak_rss_mb"], False),
        ),
    ]
    for clients in ("1", str(annotators)):
        la, ba = ls["annotate"][clients], b["annotate"][clients]
        rows.append(
            (
                f"{clients} annotator(s): next+submit p50",
                f"{la['pair_p50_ms']} ms",
                f"{ba['pair_p50_ms']} ms",
                _ratio(la["pair_p50_ms"], ba["pair_p50_ms"], False),
            )
        )
        rows.append(
            (
                f"{clients} annotator(s): p99",
                f"{la['pair_p99_ms']} ms",
                f"{ba['pair_p99_ms']} ms",
                _ratio(la["pair_p99_ms"], ba["pair_p99_ms"], False),
            )
        )
        rows.append(
            (
                f"{clients} annotator(s): submissions/s",
                f"{la['submissions_per_s']}",
                f"{ba['submissions_per_s']}",
                _ratio(la["submissions_per_s"], ba["submissions_per_s"], True),
            )
        )
    rows.append(
        (
            "tasks over-annotated (overlap 1)",
            str(ls["annotate"]["tasks_over_overlap"]),
            str(b["annotate"]["tasks_over_overlap"]),
            "",
        )
    )
    rows.append(
        (
            "acknowledged annotations missing",
            str(ls["annotate"]["lost_acknowledged"]),
            str(b["annotate"]["lost_acknowledged"]),
            "",
        )
    )
    e, be = ls["export"], b["export"]
    rows.append(
        (
            f"export {e['tasks']:,} annotated (JSON): total",
            f"{e['seconds']} s",
            f"{be['seconds']} s",
            _ratio(e["seconds"], be["seconds"], False),
        )
    )
    rows.append(
        (
            "  first byte",
            f"{e['first_byte_ms']} ms" + ("" if e["streamed"] else " (whole file)"),
            f"{be['first_byte_ms']} ms" + (" (streamed)" if be["streamed"] else ""),
            _ratio(e["first_byte_ms"], be["first_byte_ms"], False),
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peers.labelstudio",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks imported in one request")
    parser.add_argument("--export-tasks", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="annotating time per client count")
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the /tmp data directories")
    args = parser.parse_args(argv)
    version = ensure_env()
    work = Path(tempfile.mkdtemp(prefix="peer-labelstudio-", dir="/tmp"))
    info = machine()
    try:
        print(f"Label Studio {version} (data in {work})", flush=True)
        ls = run_labelstudio(work, args.tasks, args.export_tasks, args.seconds, args.annotators)
        print("Bastion", flush=True)
        bastion = run_bastion(work, args.tasks, args.export_tasks, args.seconds, args.annotators)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "label_studio_version": version,
        "machine": info,
        "args": vars(args),
        "command": " ".join(["python -m benchmarks.peers.labelstudio", *(argv or sys.argv[1:])]),
        "label_studio": ls,
        "bastion": bastion,
    }
    rows = comparison(ls, bastion, args.annotators)
    result["table"] = rows
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "peer-labelstudio.json").write_text(json.dumps(result, indent=2))
    head = ("figure", f"Label Studio {version}", "Bastion", "Bastion vs Label Studio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    print(
        f"\nSame run, {dt.date.today()}, {info['cpus']} cores, SQLite on both; "
        f"load {info['load_before']} → {info['load_after']}"
    )
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0
