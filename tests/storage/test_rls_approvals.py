"""Two-person approval under PostgreSQL row-level security: the application's own role, no bypass.

An owner's request, a second owner's decision, its use and break-glass alerts work
as the ordinary role the server connects as; another workspace's approvals are
invisible to a transaction scoped to this one even without the application's filter.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bastion.access import Actor
from bastion.services import alerts, approvals, redaction
from bastion.services.context import Unit
from bastion.services.runtime import Runtime
from bastion.storage import rls, schema
from environment import make_settings, pg_admin
from factories import as_user, co_owner, make_side

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


def test_owners_request_decide_and_use_under_rls(app_rt):
    a, b = make_side(app_rt, "rla", 1), make_side(app_rt, "rlb", 1)
    with app_rt.db.transaction(write=False) as tx:  # the local operator's scope
        task_id = Unit(tx, app_rt, Actor.system()).execute(
            select(schema.tasks.c.id).where(schema.tasks.c.project_id == a.project_id)).scalar()
    allowed = a.approval(app_rt, "redaction.reidentify", {"task": task_id})
    assert redaction.reidentify_task(a.ctx(app_rt, "owner"), task_id, approval=allowed)["id"] == task_id
    approvals.request(b.ctx(app_rt, "owner"), b.workspace_id, "keys.rotate", {}, "b's own")
    redaction.reidentify_task(a.ctx(app_rt, "owner"), task_id, break_glass="outage")
    second = co_owner(app_rt, a.workspace_id)
    assert [x["kind"] for x in alerts.list_alerts(as_user(app_rt, second))][0] == "approval.break_glass"
    with app_rt.db.transaction(write=False) as tx:  # A's owner, the application's filter removed
        unit = Unit(tx, app_rt, as_user(app_rt, a.users["owner"]).actor)
        seen = unit.execute(select(schema.approvals.c.workspace_id)).scalars().all()
        assert set(seen) == {a.workspace_id}
        assert unit.execute(select(func.count()).select_from(schema.approvals)
                            .where(schema.approvals.c.workspace_id == b.workspace_id)).scalar() == 0
