"""Benchmark setup, in-process: people, a workspace, projects — and a bulk-annotated project.

Everything here is *setup*, not what is measured. ``make_world`` goes through the
services (the same calls as ``tests/factories.py``). ``annotate_in_bulk`` is the
one shortcut, written for the export benchmark only: labelling a million tasks
over HTTP would take longer than the whole suite, so it writes one annotation per
task with bulk SQL — annotation ids made like the service makes them, results
sealed with the project's real data key (``Sealer.seal_many``), assignments in
state ``submitted``, task counters and project counters moved the same way
``submit_annotation`` moves them. It does not write one audit event per
annotation (the log records a single ``benchmark.seeded`` event instead): the
export that follows still opens every sealed result, which is what it measures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .servers import MASTER_KEY

CONFIG = {"type": "classification", "field": "text", "labels": ["billing", "bug", "other"]}
BULK_ROWS = 20_000


def settings_for(data_dir: Path, database_url: str | None = None):
    from bastion.settings import Settings

    return Settings(data_dir=data_dir, database_url=database_url, master_key=MASTER_KEY, checkpoint_seconds=0)


def open_runtime(settings):
    from bastion.services.runtime import Runtime

    return Runtime.open(settings, migrate_schema="always")


def system(rt):
    from bastion.access import Actor
    from bastion.services.context import Context

    return Context(rt, Actor.system())


@dataclass
class World:
    workspace_id: str
    owner_id: str
    owner_token: str
    annotator_ids: list[str] = field(default_factory=list)
    annotator_tokens: list[str] = field(default_factory=list)
    projects: dict[str, str] = field(default_factory=dict)  # name -> id
    owner_session: str = ""  # a browser session's cookie value, for the page timings


def make_world(rt, *, annotators: int, tag: str = "bench") -> World:
    """A workspace with an owner and ``annotators`` annotators, each with an API token."""
    from bastion.services import users, workspaces

    ctx = system(rt)
    owner = users.create_user(ctx, f"owner.{tag}@example.com", name="Owner")
    ws = workspaces.create_workspace(ctx, f"Benchmark {tag}", owner=owner.id)
    world = World(ws.id, owner.id, users.create_token(ctx, owner.id, name="bench")[0])
    world.owner_session = users.create_session(rt, owner)[0]
    # The owner has opened the workspace's content (a page view never binds anyone), so the
    # page timings measure the pages themselves, not the Open button shown on a first visit.
    from bastion.access import Actor
    from bastion.services import content
    from bastion.services.context import Context

    content.open_workspace(Context(rt, Actor(kind="user", user_id=owner.id)), ws.id)
    for i in range(annotators):
        person = users.create_user(ctx, f"a{i}.{tag}@example.com", name=f"Annotator {i}")
        workspaces.add_member(ctx, ws.id, person.id, "annotator")
        world.annotator_ids.append(person.id)
        world.annotator_tokens.append(users.create_token(ctx, person.id, name="bench")[0])
    return world


def add_project(rt, world: World, name: str, *, overlap: int = 1, lease_seconds: int = 1800) -> str:
    from bastion.services import projects

    project = projects.create_project(
        system(rt),
        world.workspace_id,
        name=name,
        config=CONFIG,
        settings={"overlap": overlap, "lease_seconds": lease_seconds},
    )
    world.projects[name] = project.id
    return project.id


def import_file(rt, project_id: str, path: Path) -> tuple[int, float]:
    """Import a JSON Lines file through the import service; (imported, seconds)."""
    from bastion.services import imports
    from bastion.sources import iter_file

    start = time.perf_counter()
    report = imports.import_tasks(system(rt), project_id, lambda: iter_file(path, "jsonl"))
    return report.imported, time.perf_counter() - start


def annotate_in_bulk(rt, world: World, project_id: str, *, labels=("billing", "bug", "other")) -> tuple[int, float]:
    """Benchmark setup only: one sealed annotation per task by the first annotator, in bulk.

    Returns (annotations written, seconds). See the module docstring for what it
    does and does not do compared with ``submit_annotation``.
    """
    import orjson
    from sqlalchemy import func, select, update

    from bastion import ids
    from bastion.storage import schema

    T = schema.tasks
    ws = world.workspace_id
    user = world.annotator_ids[0]
    ctx = system(rt)
    start = time.perf_counter()
    results = [orjson.dumps({"label": label}) for label in labels]
    written = 0
    after = ""
    with ctx.read() as r:
        project = r.tx.execute(select(schema.projects).where(schema.projects.c.id == project_id)).one()
    while True:
        with ctx.write() as w:
            task_ids = (
                w.tx.execute(
                    select(T.c.id)
                    .where(
                        T.c.workspace_id == ws, T.c.project_id == project_id, T.c.id > after, T.c.annotation_count == 0
                    )
                    .order_by(T.c.id)
                    .limit(BULK_ROWS)
                )
                .scalars()
                .all()
            )
            if not task_ids:
                break
            sealer = w.sealer(ws, project.key_id)
            ann_ids = ids.new_ids("ann", len(task_ids))
            asg_ids = ids.new_ids("asg", len(task_ids))
            sealed = sealer.seal_many(
                "annotations", "result", [(a, results[i % len(results)]) for i, a in enumerate(ann_ids)]
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
                [(ws, a, project_id, t, user, "submitted", now, now, now) for a, t in zip(asg_ids, task_ids)],
                ("workspace_id", "task_id", "user_id"),
            )
            w.tx.dialect.insert_ignore(
                w.conn,
                "annotations",
                ("workspace_id", "id", "project_id", "task_id", "user_id", "result", "lead_time_ms", "created_at"),
                [(ws, a, project_id, t, user, blob, 1000, now) for a, t, blob in zip(ann_ids, task_ids, sealed)],
                ("workspace_id", "task_id", "user_id"),
            )
            done = w.tx.execute(
                update(T)
                .where(
                    T.c.workspace_id == ws,
                    T.c.project_id == project_id,
                    T.c.id >= task_ids[0],
                    T.c.id <= task_ids[-1],
                    T.c.annotation_count == 0,
                )
                .values(annotation_count=1, done=project.overlap <= 1)
            ).rowcount
            from bastion.services.projects import bump_counts

            bump_counts(w, ws, project_id, annotations=len(task_ids), done=done if project.overlap <= 1 else 0)
            written += len(task_ids)
            after = task_ids[-1]
    with ctx.write() as w:
        w.audit(ws, "benchmark.seeded", project_id, annotations=written)
        count = w.tx.execute(
            select(func.count())
            .select_from(schema.annotations)
            .where(schema.annotations.c.workspace_id == ws, schema.annotations.c.project_id == project_id)
        ).scalar_one()
    return count, time.perf_counter() - start
