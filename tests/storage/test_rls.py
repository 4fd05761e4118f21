"""PostgreSQL row-level security: with the application's own filters removed, no foreign row comes back.

Every test connects as the ordinary role ``bastion_app`` (not the tables' owner,
not a superuser), exactly as docs/security.md tells operators to deploy it; the
first tests here make sure of that. Then: the per-workspace and per-person
policies (storage/rls.py), walls that still refuse, the actions that write into
another workspace's audit log, and the backup that needs another role.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select, text

from bastion.access import WallDenied
from bastion.domain.errors import Conflict, InvalidInput
from bastion.services import annotations, backups, queue, workforce, workspaces
from bastion.services.context import Unit
from bastion.storage import rls, schema
from factories import as_user, fold_audit, make_side, make_token, make_user, operator_tx, system


@pytest.fixture
def db_kind():
    from environment import require_postgres

    require_postgres()
    return "postgresql"


def test_the_runtime_connects_as_an_ordinary_role(rt):
    """Every test runtime (and so the CLI's and the servers') is subject to row-level security."""
    with rt.db.engine.connect() as conn:
        flags = conn.exec_driver_sql(
            "SELECT rolsuper, rolbypassrls, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).one()
        owns = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        ).scalar()
    assert tuple(flags) == (False, False, False)
    assert owns == 0  # not the tables' owner either


def test_the_servers_the_benchmarks_and_load_tests_start_connect_as_the_app_role():
    """``benchmarks.servers.postgres_database`` (the load test, the suite, e2e): the same documented setup."""
    import psycopg
    from benchmarks.servers import APP_ROLE, postgres_database
    from sqlalchemy.engine import make_url

    from environment import PG_ADMIN_URL, require_postgres

    require_postgres()
    with postgres_database("bastion_roles", PG_ADMIN_URL) as url:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as conn:
            flags = conn.execute(
                "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert flags == (APP_ROLE, False, False)
    assert tables > 0  # migrated by its owner


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
        assert unit.tx.execute(select(T.c.id).where(T.c.workspace_id == b.workspace_id)).all() == []
        assert unit.tx.execute(select(func.count()).select_from(T)).scalar() == 3
        b_ids = unit.tx.execute(select(schema.projects.c.id).where(schema.projects.c.id == b.project_id)).all()
        assert b_ids == []

    # Writes into another workspace are refused by the policy's WITH CHECK.
    with pytest.raises(Exception, match="row-level security"), rt.db.transaction() as tx:
        unit = Unit(tx, rt, as_user(rt, a.users["owner"]).actor)
        unit.tx.execute(
            schema.project_counters.update()
            .where(schema.project_counters.c.workspace_id == a.workspace_id)
            .values(workspace_id=b.workspace_id)
        )


def test_every_table_has_a_row_security_decision_and_rls_is_forced_where_it_applies(rt):
    """A new table fails here until storage/rls.py says whose rows it holds."""
    groups = [
        set(schema.WORKSPACE_TABLES) | {"workspaces"},
        set(rls.PER_WORKSPACE),
        set(rls.PER_PERSON),
        set(rls.UNRESTRICTED),
        set(rls.DEPLOYMENT_ADMIN),
    ]
    with rt.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        ).all()
    tables = {r.relname for r in rows}
    assert tables == set(schema.metadata.tables) | {"alembic_version"}
    assert sorted(sum((sorted(g) for g in groups), [])) == sorted(tables)  # each table in exactly one group
    forced = {r.relname for r in rows if r.relrowsecurity and r.relforcerowsecurity}
    assert forced == tables - set(rls.UNRESTRICTED)


# -- per-person tables: history, tombstones; conflicts and sector groups -------------------


def test_a_persons_transaction_sees_only_their_own_history_and_no_foreign_tombstone(rt):
    a, b, c, gone = (make_side(rt, tag, n_tasks=2) for tag in ("ha", "hb", "hc", "hgone"))
    for side in (a, b):  # each annotator is shown a task: a history row each
        assert queue.next_task(side.ctx(rt, "annotator"), side.project_id) is not None
    workforce.add_conflict(b.ctx(rt, "owner"), b.workspace_id, c.workspace_id)
    group = workforce.create_group(system(rt), "sector")
    for side in (b, c):
        workforce.add_to_group(system(rt), group, side.workspace_id)
    workspaces.delete_workspace(
        gone.ctx(rt, "owner"), gone.workspace_id, approval=gone.approval(rt, "workspace.delete")
    )
    H, TS, TR = schema.person_history, schema.workspace_tombstones, schema.workspace_tombstone_readers
    me = a.users["annotator"]
    with rt.db.transaction(write=False) as tx:
        unit = Unit(tx, rt, as_user(rt, me).actor)
        assert set(unit.tx.execute(select(H.c.user_id)).scalars()) == {me}  # no filter: still only their own
        assert unit.tx.execute(select(TS.c.workspace_id)).all() == []
        assert unit.tx.execute(select(TR.c.user_id)).all() == []
        assert (
            unit.tx.execute(select(schema.conflict_declarations.c.workspace_a)).all() == []
        )  # an edge between b and c
        assert unit.tx.execute(select(schema.conflict_group_members.c.workspace_id)).all() == []
    with rt.db.transaction(write=False) as tx:  # b's owner sees b's edge and b's group, not c's
        unit = Unit(tx, rt, b.ctx(rt, "owner").actor)
        # one edge, two holders of it: b's declaration and the group
        assert unit.tx.execute(select(func.count()).select_from(schema.conflict_declarations)).scalar() == 2
        assert set(unit.tx.execute(select(schema.conflict_group_members.c.workspace_id)).scalars()) == {b.workspace_id}
        assert set(unit.tx.execute(select(H.c.user_id)).scalars()) <= {b.users["owner"]}
    with rt.db.transaction(write=False) as tx:  # whoever may still read the tombstone sees it
        unit = Unit(tx, rt, gone.ctx(rt, "auditor").actor)
        assert unit.tx.execute(select(TS.c.workspace_id)).scalars().all() == [gone.workspace_id]
    # Writes into another person's history are refused too.
    with pytest.raises(Exception, match="row-level security"), rt.db.transaction() as tx:
        unit = Unit(tx, rt, as_user(rt, me).actor)
        unit.tx.execute(
            schema.person_history.insert().values(
                user_id=b.users["annotator"], workspace_id=c.workspace_id, first_at=0, last_at=0, source="access"
            )
        )


def test_walls_still_refuse_as_the_app_role_after_leaving_the_other_side(rt):
    """History rows of a workspace the person left stay in their wall decisions (a policy keyed
    on the workspace would drop them and the wall would fail open)."""
    a, b = make_side(rt, "la", 2), make_side(rt, "lb", 2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    expert = make_user(rt, "left@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, expert.id, "annotator")
    assert queue.next_task(as_user(rt, expert.id), a.project_id) is not None  # bound to A
    workspaces.remove_member(a.ctx(rt, "owner"), a.workspace_id, expert.id)
    with pytest.raises(WallDenied):
        queue.next_task(as_user(rt, expert.id), b.project_id)
    explained = workforce.explain(b.ctx(rt, "owner"), expert.email, b.workspace_id)  # B's owner is not in A
    assert not explained["walls_allow"] and explained["reasons"][0]["kind"] == "wall"
    assert explained["reasons"][0]["edge"]["other_workspace"] == a.workspace_id
    # And an owner cannot declare a conflict that would put someone on both sides of it.
    c = make_side(rt, "lc", 1)
    workspaces.add_member(system(rt), c.workspace_id, expert.id, "annotator")
    assert queue.next_task(as_user(rt, expert.id), c.project_id) is not None
    with pytest.raises(Conflict, match="both workspaces"):
        workforce.add_conflict(c.ctx(rt, "owner"), c.workspace_id, a.workspace_id)


# -- the audit log outside the caller's scope ---------------------------------------------


def _actions(rt, workspace_id: str) -> list[str]:
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        return [
            orjson.loads(leaf)["action"]
            for leaf in tx.execute(
                select(schema.audit_events.c.leaf)
                .where(schema.audit_events.c.workspace_id == workspace_id)
                .order_by(schema.audit_events.c.seq)
            ).scalars()
        ]


def test_cross_workspace_actions_answer_as_documented_under_the_app_role(client, rt):
    """Each of these wrote an audit entry into a log outside the caller's scope and answered 500."""
    a, b = make_side(rt, "xa", 1), make_side(rt, "xb", 1)
    admin = make_user(rt, "platform@example.com", admin=True)
    admin_h = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    owner = make_user(rt, "new.owner@example.com")
    r = client.post("/api/v1/workspaces", json={"name": "Made by an admin", "owner": owner.id}, headers=admin_h)
    assert r.status_code == 201, r.text
    made = r.json()["id"]
    assert _actions(rt, made) == ["workspace.created"]
    r = client.post(
        f"/api/v1/workspaces/{made}/members", json={"user": a.users["annotator"], "role": "annotator"}, headers=admin_h
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/workspaces/{a.workspace_id}/conflicts",
        json={"competitor": b.workspace_id},
        headers=a.headers("owner"),
    )
    assert r.status_code == 201, r.text
    r = client.delete(
        f"/api/v1/workspaces/{a.workspace_id}/conflicts/{b.workspace_id}",
        headers=a.headers("owner"),
        params={"approval": a.approval(rt, "wall.remove", {"competitor": b.workspace_id})},
    )
    assert r.status_code == 200, r.text
    assert _actions(rt, b.workspace_id)[-2:] == ["wall.conflict_added", "wall.removal_scheduled"]
    group = client.post("/api/v1/conflict-groups", json={"name": "labs"}, headers=admin_h).json()["id"]
    for side, edges in ((a, 0), (b, 1)):
        r = client.post(
            f"/api/v1/conflict-groups/{group}/members", json={"workspace_id": side.workspace_id}, headers=admin_h
        )
        assert (r.status_code, r.json()) == (201, {"edges_added": edges}), r.text
    assert _actions(rt, a.workspace_id)[-1] == "wall.conflict_added"
    r = client.post(f"/api/v1/users/{a.users['annotator']}/skills", json={"skill": "law:2"}, headers=admin_h)
    assert r.status_code == 201, r.text
    assert _actions(rt, made)[-1] == "person.skill_granted"
    r = client.post(
        f"/api/v1/workspaces/{b.workspace_id}/approvals",
        headers=admin_h,  # admins decide this one
        json={"kind": "workspace.delete", "reason": "contract ended"},
    )
    assert r.status_code == 201 and r.json()["authority"] == "admins", r.text
    second = {"Authorization": f"Bearer {make_token(rt, make_user(rt, 'platform2@example.com', admin=True).id)}"}
    assert client.post(f"/api/v1/approvals/{r.json()['id']}/approve", headers=second).status_code == 200
    r = client.delete(
        f"/api/v1/workspaces/{b.workspace_id}",
        headers=admin_h,  # an admin, not a member of b
        params={"approval": r.json()["id"]},
    )
    assert r.status_code == 204, r.text
    stone = client.get(f"/api/v1/audit/tombstones/{b.workspace_id}", headers=admin_h)
    assert stone.status_code == 200 and stone.json()["deleted_by"] == admin.id
    assert stone.json()["final_checkpoint"]["size"] > 0


def test_opening_a_log_for_an_append_shows_none_of_its_entries(rt):
    a, b = make_side(rt, "oa", 1), make_side(rt, "ob", 1)
    E, Hd = schema.audit_events, schema.audit_heads
    with rt.db.transaction(write=False) as tx:
        unit = Unit(tx, rt, a.ctx(rt, "owner").actor)
        with unit.audit_scope([a.workspace_id, b.workspace_id]):
            assert unit.tx.execute(select(E.c.seq).where(E.c.workspace_id == b.workspace_id)).all() == []
            assert unit.tx.execute(select(Hd.c.size).where(Hd.c.workspace_id == b.workspace_id)).scalar() > 0
        assert unit.tx.execute(select(Hd.c.size).where(Hd.c.workspace_id == b.workspace_id)).all() == []
        with unit.wall_check_scope([b.workspace_id]):
            assert unit.tx.execute(select(E.c.seq).where(E.c.workspace_id == b.workspace_id)).all() == []
        assert unit.tx.execute(select(func.count()).select_from(E)).scalar() == _count(rt, E, a.workspace_id)


def _count(rt, table, workspace_id: str) -> int:
    with operator_tx(rt, write=False) as tx:
        return tx.execute(select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)).scalar()


# -- platform admins' workforce operations in workspaces they are not members of ----------


def test_an_admins_change_to_a_person_applies_in_workspaces_the_admin_is_not_in(rt):
    lab = make_side(rt, "ad", 3)
    workforce.add_exclusion(lab.ctx(rt, "owner"), lab.workspace_id, "Rival Capital", "investor")
    admin = make_user(rt, "workforce@example.com", admin=True)
    ctx = as_user(rt, admin.id, is_admin=True)
    # An excluded person cannot be made a member by an admin either.
    investor = make_user(rt, "lp.admin@example.com")
    workforce.add_affiliation(ctx, investor.email, "Rival Capital", "investor")
    with pytest.raises(Conflict, match="excludes"):
        workspaces.add_member(ctx, lab.workspace_id, investor.email, "annotator")
    # A member who takes on the tie loses their open lease at once.
    task = queue.next_task(lab.ctx(rt, "annotator"), lab.project_id)
    result = workforce.add_affiliation(ctx, lab.users["annotator"], "rival capital", "investor")
    assert result["released_leases"] == 1
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(schema.tasks.c.lease_count).where(schema.tasks.c.id == task["id"])).scalar() == 0
    assert _actions(rt, lab.workspace_id)[-2:] == ["person.affiliation_added", "wall.leases_released"]
    # Walls read by an admin: the workspace's exclusions and conflicts.
    assert workforce.list_exclusions(ctx, lab.workspace_id) == [{"org": "Rival Capital", "kind": "investor"}]


# -- backups need a role row-level security does not apply to -------------------------------


def test_a_backup_as_the_app_role_is_refused_with_the_reason(rt, tmp_path):
    make_side(rt, "bk", 1)
    out = tmp_path / "backup.tar"
    with pytest.raises(InvalidInput, match="row-level security.*BYPASSRLS"):
        backups.backup(rt, out)
    assert not out.exists() and not (tmp_path / "backup.tar.partial").exists()


def test_scim_tables_are_for_platform_admins_and_the_operator_alone(rt):
    """SCIM's tokens, linked people, groups and members: a person's transaction (an owner's
    included) sees none of it and cannot write it; platform admins and the operator do."""
    from bastion.services import scim

    side = make_side(rt, "sr", n_tasks=0)
    scim.create_token(system(rt), "idp")
    person = scim.create_person(system(rt), scim.PersonIn(email="linked@example.com", name="L", external_id="x1"))
    scim.create_group(system(rt), scim.GroupIn("Labellers", members=frozenset({person.person.id})))
    tables = (schema.scim_tokens, schema.scim_users, schema.scim_groups, schema.scim_group_members)
    admin = make_user(rt, "rlsadmin@example.com", admin=True)

    def counts(actor):
        with rt.db.transaction(write=False) as tx:
            unit = Unit(tx, rt, actor)
            return [unit.tx.execute(select(func.count()).select_from(t)).scalar() for t in tables]

    assert counts(as_user(rt, side.users["owner"]).actor) == [0, 0, 0, 0]
    assert counts(as_user(rt, person.person.id).actor) == [0, 0, 0, 0]  # not even their own link
    assert counts(as_user(rt, admin.id, is_admin=True).actor) == [1, 1, 1, 1]
    assert counts(system(rt).actor) == [1, 1, 1, 1]
    with rt.db.transaction(write=False) as tx:  # no scope at all: nothing
        assert tx.execute(select(func.count()).select_from(schema.scim_tokens)).scalar() == 0
    with pytest.raises(Exception, match="row-level security"), rt.db.transaction() as tx:
        unit = Unit(tx, rt, as_user(rt, side.users["owner"]).actor)
        unit.tx.execute(
            schema.scim_tokens.insert().values(id="stk_x", name="", token_hash="0" * 64, created_by="x", created_at=0)
        )
