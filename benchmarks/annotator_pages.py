"""What an annotator's own pages cost at a million tasks: their progress, their list of annotations.

    python -m benchmarks.annotator_pages [--tasks 1000000] [--annotations 0,10000,100000]

One SQLite project of ``--tasks`` tasks (overlap 2) through the import service; then, as
benchmark setup (bulk SQL, sealed with the project's key, like ``seeding.annotate_in_bulk``),
one person per ``--annotations`` figure with that many annotations. For each person, in-process
service calls, p50 of 15: ``own_annotations.my_progress`` (the project and labelling pages' counts),
``own_annotations.my_annotations`` (the first page of 50) and the labelling page's GET with and without the
progress. The submit path computes none of this (the page counts on in the browser), so
next + submit is measured by the suite as before.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from . import seeding
from .workload import write_tasks


def _seed_annotations(rt, world, project_id: str, person: int, count: int, offset: int) -> None:
    """Benchmark setup: ``count`` sealed annotations by annotator ``person`` on the tasks from ``offset``."""
    import orjson
    from sqlalchemy import select, update

    from bastion import ids
    from bastion.services.projects import bump_counts
    from bastion.storage import schema

    T = schema.tasks
    ws, user, ctx = world.workspace_id, world.annotator_ids[person], seeding.system(rt)
    with ctx.read() as r:
        key_id = r.tx.execute(select(schema.projects.c.key_id).where(schema.projects.c.id == project_id)).scalar_one()
    done = 0
    while done < count:
        with ctx.write() as w:
            task_ids = (
                w.tx.execute(
                    select(T.c.id)
                    .where(T.c.workspace_id == ws, T.c.project_id == project_id)
                    .order_by(T.c.id)
                    .offset(offset + done)
                    .limit(min(seeding.BULK_ROWS, count - done))
                )
                .scalars()
                .all()
            )
            annotation_ids, assignment_ids = ids.new_ids("ann", len(task_ids)), ids.new_ids("asg", len(task_ids))
            sealed = w.sealer(ws, key_id).seal_many(
                "annotations", "result", [(a, orjson.dumps({"label": "bug"})) for a in annotation_ids]
            )
            now = w.now
            w.tx.dialect.insert_ignore(
                w.conn,
                "assignments",
                (
                    "workspace_id",
                    "id",
                    "project_id",
                    "task_id",
                    "user_id",
                    "state",
                    "expires_at",
                    "created_at",
                    "updated_at",
                ),
                [(ws, a, project_id, t, user, "submitted", now, now, now) for a, t in zip(assignment_ids, task_ids)],
                ("workspace_id", "task_id", "user_id"),
            )
            w.tx.dialect.insert_ignore(
                w.conn,
                "annotations",
                ("workspace_id", "id", "project_id", "task_id", "user_id", "result", "lead_time_ms", "created_at"),
                [(ws, a, project_id, t, user, b, 1000, now) for a, t, b in zip(annotation_ids, task_ids, sealed)],
                ("workspace_id", "task_id", "user_id"),
            )
            w.tx.execute(
                update(T)
                .where(T.c.workspace_id == ws, T.c.id.in_(task_ids))
                .values(annotation_count=T.c.annotation_count + 1)
            )
            bump_counts(w, ws, project_id, annotations=len(task_ids))
        done += len(task_ids)


def _p50_ms(call, repeat: int = 15) -> float:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--annotations", default="0,10000,100000", help="each person's annotations, comma-separated")
    args = parser.parse_args()
    mine = [int(x) for x in args.annotations.split(",")]

    import os

    from bastion.access import Actor
    from bastion.services import labelling, own_annotations
    from bastion.services.context import Context

    tmp = Path(tempfile.mkdtemp(prefix="annotator-pages-"))
    rt = seeding.open_runtime(seeding.settings_for(tmp / "data"))
    world = seeding.make_world(rt, annotators=len(mine))
    project_id = seeding.add_project(rt, world, "big", overlap=2)
    imported, seconds = seeding.import_file(rt, project_id, write_tasks(tmp / "tasks.jsonl", args.tasks))
    print(f"load {[round(x, 2) for x in os.getloadavg()]}; {imported} tasks imported in {seconds:.1f} s (setup)")
    offset = 0
    for person, count in enumerate(mine):
        _seed_annotations(rt, world, project_id, person, count, offset)
        offset += count
    print(f"{'annotations':>11}  {'progress ms':>11}  {'list ms':>8}  {'GET ms':>7}  {'GET without ms':>14}")
    for person, count in enumerate(mine):
        ctx = Context(rt, Actor(kind="user", user_id=world.annotator_ids[person]))
        progress = _p50_ms(lambda ctx=ctx: own_annotations.my_progress(ctx, project_id))
        listed = _p50_ms(lambda ctx=ctx: own_annotations.my_annotations(ctx, project_id, limit=50), 7)
        page = _p50_ms(lambda ctx=ctx: labelling.labelling_view(ctx, project_id, lease=False, with_progress=True))
        bare = _p50_ms(lambda ctx=ctx: labelling.labelling_view(ctx, project_id, lease=False))
        print(f"{count:>11}  {progress:>11}  {listed:>8}  {page:>7}  {bare:>14}")
    rt.close()


if __name__ == "__main__":
    main()
