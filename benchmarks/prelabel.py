"""Pre-labels under kill -9: a ``bastion serve`` runs a ``prelabel.run`` job, is SIGKILLed mid-way, restarts.

    python -m benchmarks.prelabel [--tasks 10000] [--chunk 20] [--kill-at 0.3] [--database-url URL] [--timeout S]

A fresh data directory (SQLite unless ``--database-url``), one workspace, a classification
project of ``--tasks`` tasks whose ``prelabel`` setting names an endpoint served by
tests/model_server.py (the ``labeller`` model, on 127.0.0.1, in this process). One
``bastion serve`` (one job runner, a one-second lease) runs the job; when ``--kill-at`` of
the tasks are done it is SIGKILLed, restarted, and the job finishes. Then every task's
predictions are opened: each must hold exactly one of the job's model version.

Prints the figures as JSON: tasks/s before the kill, seconds from the restart to the end,
tasks with no prediction, duplicates (must be 0), the model calls the server answered (the
chunk cut by the kill is asked again: calls may exceed tasks; predictions never do).
``tests/crash/test_prelabel_kill9.py`` runs ``run_case`` at a CI size.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .servers import Server

MASTER_KEY = "11" * 32
LABELS = ["billing", "shipping", "refund", "other"]


def _settings(data_dir: Path, database_url: str | None):
    from bastion.settings import Settings

    return Settings(data_dir=data_dir, database_url=database_url, master_key=MASTER_KEY, job_workers=0)


def seed(rt, tasks: int, model_url: str, allowed_host: str, *, tag: str = "pl") -> tuple[str, str, str]:
    """A workspace, a classification project of ``tasks`` tasks, its endpoint and setting: (ws, project, owner)."""
    from bastion.access import Actor
    from bastion.services import imports, model_endpoints, projects, users, workspaces
    from bastion.services.context import Context

    system = Context(rt, Actor.system())
    owner = users.create_user(system, f"owner.{tag}@example.com", name="owner", password=None, is_admin=False)
    ws = workspaces.create_workspace(system, f"Pre-label {tag}", owner=owner.id)
    config = {"type": "classification", "field": "text", "labels": LABELS}
    project = projects.create_project(system, ws.id, name="tickets", config=config)
    made = model_endpoints.create_endpoint(
        system,
        ws.id,
        name="labeller",
        base_url=model_url,
        default_model="labeller",
        allowed_hosts=[allowed_host],
    )
    projects.update_project(system, project.id, settings={"prelabel": {"endpoint": made["id"]}})
    items = ((i + 1, {"data": {"text": f"ticket {i}: where is my parcel"}}) for i in range(tasks))
    imports.import_tasks(system, project.id, items)
    return ws.id, project.id, owner.id


def prediction_counts(rt, project_id: str, version: str) -> Counter:
    """How many predictions of ``version`` each task of the project holds (task id -> count)."""
    from bastion.access import Actor
    from bastion.services.context import Context
    from bastion.services.projects import get_project
    from bastion.storage import tasks_store

    system = Context(rt, Actor.system())
    project = get_project(system, project_id)
    counts: Counter = Counter()
    with system.read() as r:
        sealer = r.sealer(project.workspace_id, project.key_id)
        after = ""
        while rows := tasks_store.list_task_page(
            r.tx, project.id, workspace_id=project.workspace_id, after=after, limit=1000
        ):
            for row in rows:
                preds = (
                    [] if row.predictions is None else sealer.open_json("tasks", row.id, "predictions", row.predictions)
                )
                counts[row.id] = sum(1 for p in preds if isinstance(p, dict) and p.get("model_version") == version)
            after = rows[-1].id
    return counts


def run_case(
    data_dir: Path,
    database_url: str | None,
    *,
    tasks: int,
    chunk: int,
    kill_at: float,
    model_url: str,
    allowed_host: str,
    migrate: str = "if-empty",
    timeout: float = 600,
) -> dict[str, Any]:
    """Seed, run the job in a server, kill it when ``kill_at`` of the tasks are done, restart, check."""
    from bastion.access import Actor
    from bastion.services import jobs, prelabel
    from bastion.services.context import Context
    from bastion.services.runtime import Runtime

    rt = Runtime.open(_settings(data_dir, database_url), migrate_schema=migrate)
    try:
        _, project_id, _ = seed(rt, tasks, model_url, allowed_host)
        system = Context(rt, Actor.system())
        job = prelabel.submit(system, project_id, chunk=chunk)
        server = Server(
            data_dir,
            database_url,
            name="prelabel",
            extra_env={
                "BASTION_MASTER_KEY": MASTER_KEY,
                "BASTION_JOB_WORKERS": "1",
                "BASTION_JOB_LEASE_SECONDS": "1",
                "BASTION_JOB_POLL_SECONDS": "0.1",
            },
        )
        server.start()
        try:
            began = time.monotonic()
            deadline = began + timeout
            while (seen := jobs.get(system, job["id"]))["progress"]["done"] < max(int(tasks * kill_at), 1):
                if time.monotonic() > deadline or seen["state"] not in ("queued", "running"):
                    raise RuntimeError(f"the job did not get to the kill point: {seen}\n{server.log_tail()}")
                time.sleep(0.01)
            server.kill()
            killed_after = time.monotonic() - began
            cut = jobs.get(system, job["id"])
            restarted = time.monotonic()
            server.start()
            while (now := jobs.get(system, job["id"]))["state"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the job did not finish: {now}\n{server.log_tail()}")
                time.sleep(0.05)
            finished_after_restart = time.monotonic() - restarted
        finally:
            server.stop()
        counts = prediction_counts(rt, project_id, now["params"]["version"])
        return {
            "tasks": tasks,
            "chunk": chunk,
            "state": now["state"],
            "attempts": now["attempts"],
            "done_at_kill": cut["progress"]["done"],
            "state_at_kill": cut["state"],
            "tasks_per_s_before_kill": round(cut["progress"]["done"] / killed_after, 1),
            "seconds_to_finish_after_restart": round(finished_after_restart, 2),
            "counts": now["checkpoint"]["counts"],
            "tasks_checked": len(counts),
            "missing": sum(1 for c in counts.values() if c == 0),
            "duplicates": sum(1 for c in counts.values() if c > 1),
            "last_error": now["last_error"],
        }
    finally:
        rt.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=20)
    parser.add_argument("--kill-at", type=float, default=0.3, help="the share of tasks done when the kill comes")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (migrated, empty); SQLite when absent")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before the run is given up")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from model_server import ModelServer

    models = ModelServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bastion-prelabel-") as tmp:
            figures = run_case(
                Path(tmp) / "data",
                args.database_url,
                tasks=args.tasks,
                chunk=args.chunk,
                kill_at=args.kill_at,
                model_url=models.url(),
                allowed_host=f"127.0.0.1:{models.port}",
                migrate="never" if args.database_url else "if-empty",
                timeout=args.timeout,
            )
        figures["model_calls"] = len(models.requests)
    finally:
        models.stop()
    print(json.dumps(figures, indent=2))
    ok = figures["state"] == "succeeded" and figures["duplicates"] == 0 and figures["missing"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
