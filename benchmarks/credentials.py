"""What does a project's credential requirement cost the labelling loop?

    python -m benchmarks.credentials [--tasks 2000] [--held 50] [--db sqlite|postgresql]

One annotator works through two otherwise equal projects (in-process service calls, next then
submit): one requiring nothing, one requiring an NDA by name (``required_credentials``), the
annotator holding it among ``--held`` credentials (other kinds, other names, expired ones, some
for every workspace). ``require_credentials`` costs the first nothing (no query) and the second
one indexed query per next and per submit (ix_credentials_user). The medians and p99s of a
next + submit pair are printed for each, and the difference. PostgreSQL: ``--server`` (default
the local test server), a fresh database per run (dropped after).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

DAY = 24 * 3600 * 1000
CHECKS = 5000


def _loop(ctx, project_id: str, n: int) -> list[float]:
    from bastion.services import annotations, queue

    times = []
    for _ in range(n):
        start = time.perf_counter()
        task = queue.next_task(ctx, project_id)
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per project")
    parser.add_argument("--held", type=int, default=50, help="credentials the annotator holds")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    from bastion.services import credentials
    from bastion.services.runtime import Runtime
    from bastion.settings import Settings
    from bastion.storage.database import now_ms
    from factories import add_tasks, make_project, make_side, system

    from .servers import postgres_database

    kwargs = {"data_dir": Path(tempfile.mkdtemp(prefix="bastion-creds-")), "master_key": "33" * 32}
    with ExitStack() as cleanup:
        if args.db == "postgresql":
            kwargs["database_url"] = cleanup.enter_context(
                postgres_database("bastion_creds", f"{args.server}/postgres")
            )
        rt = Runtime.open(Settings(**kwargs), migrate_schema="always")
        cleanup.callback(rt.close)
        side = make_side(rt, "creds", n_tasks=0)
        add_tasks(rt, side.project_id, args.tasks)
        guarded = make_project(
            rt, side.workspace_id, name="NDA", settings={"required_credentials": [{"kind": "nda", "name": "Acme NDA"}]}
        )
        add_tasks(rt, guarded.id, args.tasks, prefix="nda")
        sys_ctx, person = system(rt), side.users["annotator"]
        for i in range(args.held):
            kind, name = ("nda", "Acme NDA") if i == args.held - 1 else (("certificate", "clearance")[i % 2], f"C{i}")
            credentials.add_credential(
                sys_ctx,
                person,
                kind=kind,
                name=name,
                issuer="Bench",
                workspace_id=None if i % 3 == 0 else side.workspace_id,
                expires_at=now_ms() + (i + 1) * DAY,
            )
        ctx = side.ctx(rt, "annotator")
        _loop(ctx, side.project_id, min(50, args.tasks // 10))  # warm-up (binds the person, fills caches)
        _loop(ctx, guarded.id, min(50, args.tasks // 10))
        rest = args.tasks - min(50, args.tasks // 10)
        print(f"{args.db}: {rest} next + submit pairs per project, the annotator holding {args.held} credentials")
        print(f"{'project':>22}  {'p50 ms':>7}  {'p99 ms':>7}")
        projects = {"no requirement": side.project_id, "an NDA required": guarded.id}
        times: dict[str, list[float]] = {label: [] for label in projects}
        for _ in range(rest):  # interleaved, so that drift (the machine, the database growing) hits both alike
            for label, project_id in projects.items():
                times[label] += _loop(ctx, project_id, 1)
        medians = {}
        for label, found in times.items():
            found.sort()
            medians[label] = statistics.median(found) * 1000
            print(f"{label:>22}  {medians[label]:7.3f}  {found[int(len(found) * 0.99) - 1] * 1000:7.3f}")
        print(f"difference of medians: {medians['an NDA required'] - medians['no requirement']:+.3f} ms")
        # The check alone, in one read transaction (no commit's fsync to drown it).
        from bastion.access import Action
        from bastion.services.credentials import require_credentials
        from bastion.services.projects import load_project

        with ctx.read() as r:
            for label, project_id in projects.items():
                project = load_project(r, project_id, Action.TASK_WORK)
                start = time.perf_counter()
                for _ in range(CHECKS):
                    require_credentials(r, project, person)
                each = (time.perf_counter() - start) / CHECKS * 1e6
                print(f"require_credentials, {label}: {each:.1f} µs a call ({CHECKS} calls)")


if __name__ == "__main__":
    main()
