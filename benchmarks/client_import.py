"""Import throughput through the Python client beside the CLI's: ``python -m benchmarks.client_import``.

Each run gets a fresh SQLite data directory (the same setup: a workspace, its owner, one
classification project, made in-process by benchmarks/seeding.py) and imports the same
JSON Lines file of ``--tasks`` tasks:

* ``cli``: ``bastion import PROJECT FILE`` in a subprocess (the process's start included, as a
  user would time it);
* ``client file``: ``Client.import_tasks(project, path)`` against a ``bastion serve`` on
  127.0.0.1 — the file streamed as the request body;
* ``client dicts``: ``Client.import_tasks(project, generator)`` — the same tasks as dicts made
  in the client's process, encoded to JSON Lines in chunks and streamed.

Prints tasks/s for each (one run each; the server's start is not timed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from bastion.client import Client

from .seeding import add_project, make_world, open_runtime, settings_for
from .servers import Server, server_env, timed_cli


def tasks(n: int) -> Iterator[dict]:
    for i in range(n):
        yield {
            "data": {"text": f"Ticket {i}: the invoice total does not match the order, please check."},
            "external_id": f"ticket-{i}",
            "meta": {"batch": i // 1000},
        }


def write_tasks(path: Path, n: int) -> None:
    with path.open("wb") as fh:
        for task in tasks(n):
            fh.write(orjson.dumps(task, option=orjson.OPT_APPEND_NEWLINE))


def fresh(data_dir: Path) -> tuple[str, str]:
    """A fresh data directory with a workspace and a project; (project id, owner's token)."""
    rt = open_runtime(settings_for(data_dir))
    try:
        world = make_world(rt, annotators=0, tag="client")
        return add_project(rt, world, "Import"), world.owner_token
    finally:
        rt.close()


def via_cli(root: Path, source: Path, n: int) -> float:
    data_dir = root / "cli"
    project, _ = fresh(data_dir)
    seconds, _, out = timed_cli(server_env(data_dir, None), "import", project, str(source))
    if f"imported {n}," not in out:
        raise RuntimeError(f"bastion import: {out}")
    return seconds


def via_client(root: Path, source: Path | None, n: int, name: str) -> float:
    data_dir = root / name
    project, token = fresh(data_dir)
    with Server(data_dir, name=name) as server, Client(server.url, token) as client:
        began = time.perf_counter()
        report = client.import_tasks(project, source if source is not None else tasks(n))
        seconds = time.perf_counter() - began
    if report.imported != n:
        raise RuntimeError(f"client import: {report}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks to import (default 100000)")
    args = parser.parse_args(argv)
    n = args.tasks
    with tempfile.TemporaryDirectory(prefix="bastion-client-import-") as tmp:
        root = Path(tmp)
        source = root / "tasks.jsonl"
        write_tasks(source, n)
        results = [
            ("cli (bastion import)", via_cli(root, source, n)),
            ("client, from the file", via_client(root, source, n, "client-file")),
            ("client, from dicts", via_client(root, None, n, "client-dicts")),
        ]
    print(f"import of {n} tasks into a fresh SQLite data directory")
    for label, seconds in results:
        print(f"  {label:<24} {seconds:8.2f} s  {n / seconds:10,.0f} tasks/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
