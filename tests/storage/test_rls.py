"""PostgreSQL row-level security: with the application's own filters removed, no foreign row comes back.

The application connects as an ordinary role (not the tables' owner, not a
superuser), exactly as docs/security.md tells operators to deploy it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from bastion.services import annotations, queue
from bastion.services.context import Unit
from bastion.storage import schema
from factories import as_user, make_side


@pytest.fixture
def db_kind():
    from environment import require_postgres

    require_postgres()
    return "postgresql"


def test_the_runtime_connects_as_an_ordinary_role(rt):
    """Every test runtime (and so the CLI's and the servers') is subject to row-level security."""
    with rt.db.engine.connect() as conn:
        flags = conn.exec_driver_sql(
            "SELECT rolsuper, rolbypassrls, rolcreatedb FROM pg_roles WHERE rolname = current_user").one()
        owns = conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                    "AND tableowner = current_user").scalar()
    assert tuple(flags) == (False, False, False)
    assert owns == 0  # not the tables' owner either


def test_the_application_works_under_rls(rt):
    side = make_side(rt, "app", n_tasks=3)
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    annotations.submit_annotation(ctx, task["id"], {"label": "pos"})


def test_no_scope_sees_nothing_and_foreign_rows_never_come_back(rt):
    a = make_side(rt, "ra", n_tasks=3)
    b = make_side(rt, "rb", n_tasks=4)
    T = schema.tasks
    with rt.db.engine.connect() as conn:
        with conn.begin():
            assert conn.execute(select(func.count()).select_from(T)).scalar() == 0  # nothing set
            assert conn.execute(select(func.count()).select_from(schema.audit_events)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(schema.workspaces)).scalar() == 0
        with conn.begin():
            conn.execute(text("SELECT set_config('app.workspace_ids', :w, true)"), {"w": a.workspace_id})
            rows = conn.execute(select(T.c.workspace_id)).scalars().all()  # no workspace filter at all
            assert rows and set(rows) == {a.workspace_id}
        with conn.begin():  # the setting did not outlive its transaction (pooled connections)
            assert conn.execute(select(func.count()).select_from(T)).scalar() == 0

    # A service unit of an A member, querying B's task by id with the app's own filter removed.
    with rt.db.transaction(write=False) as tx:
        unit = Unit(tx, rt, as_user(rt, a.users["owner"]).actor)
        b_ids = []
        assert unit.execute(select(T.c.id).where(T.c.workspace_id == b.workspace_id)).all() == []
        assert unit.execute(select(func.count()).select_from(T)).scalar() == 3
        b_ids = unit.execute(select(schema.projects.c.id).where(schema.projects.c.id == b.project_id)).all()
        assert b_ids == []

    # Writes into another workspace are refused by the policy's WITH CHECK.
    with pytest.raises(Exception, match="row-level security"):
        with rt.db.transaction() as tx:
            unit = Unit(tx, rt, as_user(rt, a.users["owner"]).actor)
            unit.execute(schema.project_counters.update()
                         .where(schema.project_counters.c.workspace_id == a.workspace_id)
                         .values(workspace_id=b.workspace_id))


def test_every_workspace_table_has_forced_rls(rt):
    with rt.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%(t)s)",
            {"t": list(schema.WORKSPACE_TABLES) + ["workspaces"]},
        ).all()
    assert {r.relname for r in rows} == set(schema.WORKSPACE_TABLES) | {"workspaces"}
    assert all(r.relrowsecurity and r.relforcerowsecurity for r in rows), rows
