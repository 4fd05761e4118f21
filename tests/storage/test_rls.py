"""PostgreSQL row-level security: with the application's own filters removed, no foreign row comes back.

The application connects as an ordinary role (not the tables' owner, not a
superuser), exactly as docs/security.md tells operators to deploy it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bastion.services import annotations, queue
from bastion.services.context import Unit
from bastion.services.runtime import Runtime
from bastion.storage import rls, schema
from environment import make_settings, pg_admin
from factories import as_user, make_side

APP_ROLE = "bastion_app_test"


@pytest.fixture
def db_kind():
    from environment import require_postgres

    require_postgres()
    return "postgresql"


@pytest.fixture
def app_rt(database_url, tmp_path):
    pg_admin(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
             f"THEN CREATE ROLE {APP_ROLE} LOGIN; END IF; END $$")
    import psycopg

    with psycopg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        for statement in rls.grant_sql(APP_ROLE):
            conn.execute(statement)
    app_url = make_url(database_url).set(username=APP_ROLE).render_as_string(hide_password=False)
    runtime = Runtime.open(make_settings(tmp_path, app_url), migrate_schema="never")
    yield runtime
    runtime.close()


def test_the_application_works_under_rls(app_rt):
    side = make_side(app_rt, "app", n_tasks=3)
    ctx = side.ctx(app_rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    with app_rt.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").one() == (False, False)


def test_no_scope_sees_nothing_and_foreign_rows_never_come_back(app_rt):
    a = make_side(app_rt, "ra", n_tasks=3)
    b = make_side(app_rt, "rb", n_tasks=4)
    T = schema.tasks
    with app_rt.db.engine.connect() as conn:
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
    with app_rt.db.transaction(write=False) as tx:
        unit = Unit(tx, app_rt, as_user(app_rt, a.users["owner"]).actor)
        b_ids = []
        assert unit.execute(select(T.c.id).where(T.c.workspace_id == b.workspace_id)).all() == []
        assert unit.execute(select(func.count()).select_from(T)).scalar() == 3
        b_ids = unit.execute(select(schema.projects.c.id).where(schema.projects.c.id == b.project_id)).all()
        assert b_ids == []

    # Writes into another workspace are refused by the policy's WITH CHECK.
    with pytest.raises(Exception, match="row-level security"):
        with app_rt.db.transaction() as tx:
            unit = Unit(tx, app_rt, as_user(app_rt, a.users["owner"]).actor)
            unit.execute(schema.project_counters.update()
                         .where(schema.project_counters.c.workspace_id == a.workspace_id)
                         .values(workspace_id=b.workspace_id))


def test_every_workspace_table_has_forced_rls(app_rt):
    with app_rt.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%(t)s)",
            {"t": list(schema.WORKSPACE_TABLES) + ["workspaces"]},
        ).all()
    assert {r.relname for r in rows} == set(schema.WORKSPACE_TABLES) | {"workspaces"}
    assert all(r.relrowsecurity and r.relforcerowsecurity for r in rows), rows
