"""Where the time goes: py-spy on the server under the annotate load, and on the CLI import.

    python -m benchmarks.profile [--clients 64] [--seconds 15] [--import-tasks 1000000] [--export-tasks 100000]

Needs py-spy in the environment (``pip install py-spy``; a profiling tool, not a
dependency of the project). Samples the ``bastion serve`` process while N clients
loop next + submit and while it streams an export, and the ``bastion import``
process of a generated file, then
prints the functions with the most samples — on the CPU (``--idle`` off), including
waits (``--idle`` on: lock and fsync waits show up there) and, for the annotate load,
only the thread holding the GIL (``--gil``: what one process's Python can do per
second is bounded by these samples, whatever the number of cores) — grouped by
the frame they end in and by what they pass through. Writes the collapsed stacks
to ``benchmarks/results/profile-*.txt`` (``flamegraph.pl`` or speedscope reads them).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from . import seeding
from .servers import Server, server_env
from .workload import BastionProtocol, run_annotators, write_tasks

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"


def py_spy() -> str:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        raise SystemExit("py-spy is not installed here: pip install py-spy")
    return exe


def record(pid: int, seconds: float, out: Path, *, idle: bool, gil: bool = False) -> subprocess.Popen:
    args = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    if idle:
        args.append("--idle")
    if gil:
        args.append("--gil")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(path: Path, top: int = 20) -> dict:
    """Self and inclusive sample counts per function from collapsed stacks."""
    own: Counter = Counter()
    through: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            through[frame] += n
    pct = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self": [(f, pct(c)) for f, c in own.most_common(top)],
        "inclusive": [
            (f, pct(c))
            for f, c in through.most_common(top * 4)
            if "bastion" in f or "sqlite" in f.lower() or "crypt" in f.lower() or "orjson" in f
        ][:top],
    }


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = file.split("/")
    if "bastion" in parts:
        file = "/".join(parts[parts.index("bastion") :])
    else:
        file = parts[-1]
    return f"{name} ({file})"


def show(title: str, summary: dict) -> None:
    print(f"\n{title} — {summary['samples']} samples")
    print("  where the samples end (self):")
    for frame, p in summary["self"]:
        print(f"    {p:5.1f}%  {frame}")
    print("  what they pass through (inclusive; bastion, SQLite, crypto, JSON):")
    for frame, p in summary["inclusive"]:
        print(f"    {p:5.1f}%  {frame}")


def profile_annotate(work: Path, clients: int, seconds: float, tasks: int) -> None:
    settings = seeding.settings_for(work / "annotate")
    rt = seeding.open_runtime(settings)
    world = seeding.make_world(rt, annotators=clients)
    project = seeding.add_project(rt, world, "Profile", overlap=2)
    seeding.import_file(rt, project, write_tasks(work / "tasks.jsonl", tasks))
    rt.close()
    server = Server(settings.data_dir, name="profile")
    server.start()
    try:
        for mode in ("cpu", "idle", "gil"):
            idle, gil = mode == "idle", mode == "gil"
            out = RESULTS / f"profile-annotate-{clients}{'' if mode == 'cpu' else '-' + mode}.txt"
            spy = record(server.pid, seconds, out, idle=idle, gil=gil)
            time.sleep(0.5)
            load = run_annotators([server.url], world.annotator_tokens, BastionProtocol(project), seconds=seconds)
            spy.wait()
            f = load.figures()
            show(
                f"server, {clients} clients next + submit, "
                f"{'with waits' if idle else 'holding the GIL' if gil else 'on CPU'} "
                f"({f['submissions_per_s']}/s, p50 {f['pair_p50_ms']} ms, p99 {f['pair_p99_ms']} ms)",
                summarise(out),
            )
    finally:
        server.stop()


def profile_import(work: Path, n: int) -> None:
    settings = seeding.settings_for(work / "import")
    rt = seeding.open_runtime(settings)
    world = seeding.make_world(rt, annotators=0)
    project = seeding.add_project(rt, world, "Import")
    rt.close()
    path = write_tasks(work / f"import-{n}.jsonl", n)
    out = RESULTS / f"profile-import-{n}.txt"
    env = server_env(settings.data_dir, None)
    args = [
        py_spy(),
        "record",
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        "--",
        sys.executable,
        "-m",
        "bastion.cli",
        "import",
        project,
        str(path),
    ]
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    show(f"CLI import of {n:,} tasks ({time.perf_counter() - start:.1f} s under the profiler)", summarise(out))


def profile_export(work: Path, n: int) -> None:
    from .workload import download

    settings = seeding.settings_for(work / "export")
    rt = seeding.open_runtime(settings)
    world = seeding.make_world(rt, annotators=1)
    project = seeding.add_project(rt, world, "Export", overlap=1)
    seeding.import_file(rt, project, write_tasks(work / f"export-{n}.jsonl", n))
    seeding.annotate_in_bulk(rt, world, project)
    rt.close()
    server = Server(settings.data_dir, name="profile-export")
    server.start()
    try:
        out = RESULTS / f"profile-export-{n}.txt"
        spy = record(server.pid, 600, out, idle=False)
        time.sleep(0.5)
        got = download(
            f"{server.url}/api/v1/projects/{project}/export?format=jsonl",
            {"Authorization": f"Bearer {world.owner_token}"},
            work / "export.out",
        )
        spy.send_signal(signal.SIGINT)  # py-spy stops and writes what it sampled
        spy.wait()
    finally:
        server.stop()
    if out.exists():
        show(f"server, export of {n:,} annotated tasks as JSON Lines ({got.total_s:.1f} s)", summarise(out))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks in the annotated project")
    parser.add_argument("--import-tasks", type=int, default=1_000_000)
    parser.add_argument("--export-tasks", type=int, default=100_000)
    parser.add_argument("--only", default="annotate,import,export")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bastion-profile-"))
    try:
        if "annotate" in args.only:
            profile_annotate(work, args.clients, args.seconds, args.tasks)
        if "import" in args.only:
            profile_import(work, args.import_tasks)
        if "export" in args.only:
            profile_export(work, args.export_tasks)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
