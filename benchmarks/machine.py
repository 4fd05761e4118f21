"""What the benchmarks ran on: cores, memory, disk, fsync latency, load, code.

    python -m benchmarks.machine [--dir /tmp]

The fsync figure is the floor under every durable commit: SQLite with WAL and
``synchronous=FULL`` syncs the WAL file once per committed write transaction, so
one annotator's next + submit (two write transactions) cannot beat two of these.
It is measured the way a commit pays it — append 4 KiB to a file, ``fsync`` —
500 times in the directory the benchmark data lives in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def fsync_latency(directory: str | None = None, rounds: int = 500) -> dict:
    """p50/p99 of append-4-KiB-then-fsync, in ms."""
    block = os.urandom(4096)
    times = []
    fd, path = tempfile.mkstemp(prefix="fsync-", dir=directory)
    try:
        for _ in range(rounds):
            os.write(fd, block)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return {
        "fsync_p50_ms": round(1000 * statistics.median(times), 3),
        "fsync_p99_ms": round(1000 * times[int(0.99 * (len(times) - 1))], 3),
    }


def describe(directory: str | None = None) -> dict:
    import bastion

    mem_kib = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    model = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    disk = shutil.disk_usage(directory or tempfile.gettempdir())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT.parent, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "disk_total_gib": round(disk.total / 2**30),
        "disk_free_gib": round(disk.free / 2**30),
        **fsync_latency(directory),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "repo_head": commit,
        "bastion_code": str(Path(bastion.__file__).parent),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=None, help="where to measure fsync (default: the temp directory)")
    print(json.dumps(describe(parser.parse_args().dir), indent=2))


if __name__ == "__main__":
    main()
