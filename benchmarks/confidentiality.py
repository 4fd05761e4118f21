"""What encryption and the audit log cost: same run, with and without.

    python -m benchmarks.confidentiality [--tasks 100000] [--cycles 500] [--rounds 3]

1. Import N tasks into SQLite, with sealing on, then with sealing replaced by an
   identity function (the same code path otherwise).
2. The next + submit loop (in-process service calls, one annotator), with and
   without sealing.
3. The audit append: the cost of one action's event (in-process, median of a
   loop of audited no-op actions vs the same transaction without the event).

Prints a table and writes ``benchmarks/results/confidentiality.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))


@contextmanager
def sealing_off():
    """Replace AES-GCM by the identity (benchmark only: measures what encryption costs)."""
    from bastion.storage import crypto

    saved = (crypto.Sealer.seal, crypto.Sealer.seal_many, crypto.Sealer.open)
    crypto.Sealer.seal = lambda self, table, rid, column, plaintext: plaintext
    crypto.Sealer.seal_many = lambda self, table, column, items: [p for _, p in items]
    crypto.Sealer.open = lambda self, table, rid, column, sealed: sealed
    try:
        yield
    finally:
        crypto.Sealer.seal, crypto.Sealer.seal_many, crypto.Sealer.open = saved


def fresh_runtime():
    from bastion.services.runtime import Runtime
    from bastion.settings import Settings

    return Runtime.open(
        Settings(data_dir=Path(tempfile.mkdtemp(prefix="bastion-conf-")), master_key="22" * 32), migrate_schema="always"
    )


def import_run(n: int) -> float:
    from bastion.services import imports
    from factories import make_side, system

    rt = fresh_runtime()
    side = make_side(rt, "imp", n_tasks=0)
    items = (
        (
            i,
            {
                "data": {
                    "text": f"Item {i}: a customer message of realistic length about an order, "
                    f"a delivery and a refund that took {i % 30} days."
                },
                "external_id": f"e{i}",
            },
        )
        for i in range(1, n + 1)
    )
    start = time.perf_counter()
    report = imports.import_tasks(system(rt), side.project_id, items)
    elapsed = time.perf_counter() - start
    assert report.imported == n
    rt.close()
    return elapsed


def loop_run(cycles: int) -> tuple[list[float], float]:
    from bastion.services import annotations, queue
    from factories import add_tasks, make_side

    rt = fresh_runtime()
    side = make_side(rt, "loop", n_tasks=0)
    add_tasks(rt, side.project_id, cycles + 50)
    ctx = side.ctx(rt, "annotator")
    times = []
    cpu = time.process_time()
    for _ in range(cycles):
        start = time.perf_counter()
        task = queue.next_task(ctx, side.project_id)
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
        times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu) / cycles
    rt.close()
    return times, cpu


def audit_run(cycles: int) -> dict[str, float]:
    """The same small write transaction (a counter bump) with and without one audit event."""
    from bastion.services.projects import bump_counts
    from factories import make_side

    rt = fresh_runtime()
    side = make_side(rt, "aud", n_tasks=0)
    ctx = side.ctx(rt, "owner")
    wall = {True: [], False: []}
    cpu = {True: 0.0, False: 0.0}
    for i in range(cycles):
        for audited in (True, False):
            start, start_cpu = time.perf_counter(), time.process_time()
            with ctx.write() as w:
                bump_counts(w, side.workspace_id, side.project_id, skips=1)
                if audited:
                    w.audit(side.workspace_id, "bench.event", f"tsk_{i}", n=i)
            wall[audited].append(time.perf_counter() - start)
            cpu[audited] += time.process_time() - start_cpu
    rt.close()
    return {
        "audit_append_wall_ms": round(1000 * (statistics.median(wall[True]) - statistics.median(wall[False])), 3),
        "audit_append_cpu_ms": round(1000 * (cpu[True] - cpu[False]) / cycles, 3),
        "write_tx_without_event_wall_ms": round(1000 * statistics.median(wall[False]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="Alternating sealed/plain rounds (medians reported).")
    args = parser.parse_args()

    # Alternate sealed and plain runs (ABAB…) and take medians: the machine's load and
    # its disk's fsync latency drift over a run, and both sides must see the same drift.
    imports_sealed, imports_plain, loops_sealed, loops_plain, cpus_sealed, cpus_plain = [], [], [], [], [], []
    for _ in range(args.rounds):
        imports_sealed.append(import_run(args.tasks))
        with sealing_off():
            imports_plain.append(import_run(args.tasks))
        times, cpu = loop_run(args.cycles)
        loops_sealed.extend(times)
        cpus_sealed.append(cpu)
        with sealing_off():
            times, cpu = loop_run(args.cycles)
        loops_plain.extend(times)
        cpus_plain.append(cpu)
    sealed_import, plain_import = statistics.median(imports_sealed), statistics.median(imports_plain)
    sealed_loop, plain_loop = loops_sealed, loops_plain
    sealed_cpu, plain_cpu = statistics.median(cpus_sealed), statistics.median(cpus_plain)
    audit_figures = audit_run(args.cycles)

    def ms(values):
        return round(1000 * statistics.median(values), 3)

    result = {
        "tasks": args.tasks,
        "import_sealed_s": round(sealed_import, 3),
        "import_plain_s": round(plain_import, 3),
        "import_overhead_pct": round(100 * (sealed_import - plain_import) / plain_import, 1),
        "next_submit_sealed_p50_ms": ms(sealed_loop),
        "next_submit_plain_p50_ms": ms(plain_loop),
        "next_submit_sealed_cpu_ms": round(1000 * sealed_cpu, 3),
        "next_submit_plain_cpu_ms": round(1000 * plain_cpu, 3),
        "next_submit_sealing_cpu_ms": round(1000 * (sealed_cpu - plain_cpu), 3),
        **audit_figures,
    }
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "confidentiality.json").write_text(json.dumps(result, indent=2))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
