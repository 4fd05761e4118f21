"""kill -9 during imports and a concurrent annotation load: nothing acknowledged is lost.

The harness of ``python -m benchmarks.crash`` (see its docstring for every check)
at a size CI affords: a few kill cycles against a real ``bastion serve`` process, on
SQLite (whose durability — WAL, ``synchronous=FULL`` — lives in this process's files)
and on PostgreSQL (the server killed, PostgreSQL staying up: its sessions must end and
never block the restarted server; the server connects as ``bastion_app``; ``amcheck``
is the integrity check). The PostgreSQL run skips with the reason when no server is
reachable, and fails under CI (``environment.require_postgres``).
"""

from __future__ import annotations

import pytest
from benchmarks.crash import run


@pytest.mark.slow
def test_kill9_during_imports_and_annotation(tmp_path):
    result = run(6, import_tasks=25_000, clients=4, load_tasks=2000, seed=7, work=tmp_path, verbose=False)
    assert result["db"] == "sqlite"
    assert result["cycles"] == 6 and result["restarts"] == 7
    assert result["integrity_checks"] == 7 and result["lease_checks"] == 1
    assert result["audit_verified_workspaces"] == 1
    assert result["acknowledged_annotations"] > 0
    assert result["synchronous"] == "FULL"
    assert result["problems"] == [], result["problems"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_kill9_on_postgresql_during_imports_and_annotation(tmp_path, database_url):
    """The server dies, PostgreSQL stays up: its sessions end, the restart is not blocked, nothing is lost."""
    from environment import owner_url

    # database_url: bastion_app's (the server's and the checks'); the owner's for the sessions view and amcheck
    result = run(
        6,
        import_tasks=25_000,
        clients=4,
        load_tasks=2000,
        seed=7,
        work=tmp_path,
        verbose=False,
        database_url=database_url,
        owner_url=owner_url(database_url),
    )
    pg = result["postgresql"]
    assert result["db"] == "postgresql"
    assert result["cycles"] == 6 and result["restarts"] == 7
    assert result["lease_checks"] == 1 and result["audit_verified_workspaces"] == 1
    assert result["acknowledged_annotations"] > 0
    assert pg["server_roles"] == ["bastion_app"]  # never a superuser: row-level security applies
    assert pg["kills"] == 6 and pg["server_sessions_at_kill"] > 0
    assert pg["kills_aimed_at_copy"] == 2
    assert pg["dead_sessions_gone_after_kill_max_s"] is not None
    assert pg["first_write_after_restart_max_s"] is not None
    if not pg["integrity_check"].startswith("skipped"):
        assert result["integrity_checks"] == 7
    assert result["problems"] == [], result["problems"]


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_checks_notice_a_lost_annotation_and_a_half_batch(tmp_path, db_kind, request):
    """The harness's own checks fail when a write is missing (so a green run means something)."""
    from benchmarks.crash import Harness
    from sqlalchemy import delete, select

    from bastion.storage import schema
    from environment import owner_url
    from factories import operator_tx

    url = request.getfixturevalue("database_url") if db_kind == "postgresql" else None
    harness = Harness(
        tmp_path,
        import_tasks=500,
        clients=2,
        seed=3,
        load_tasks=300,
        database_url=url,
        owner_url=owner_url(url) if url else None,
    )
    try:
        harness.start()
        harness.calibrate()
        for n in range(5):
            harness.annotate_cycle(n)
            if harness.acknowledged:
                break
        assert harness.acknowledged and harness.report.problems == []
        lost = next(iter(harness.acknowledged))
        project = harness.import_projects[0]
        with operator_tx(harness.rt) as tx:  # row-level security: the operator's scope on PostgreSQL
            tx.execute(delete(schema.annotations).where(schema.annotations.c.id == lost))
            one = tx.execute(select(schema.tasks.c.id).where(schema.tasks.c.project_id == project).limit(1)).scalar()
            tx.execute(delete(schema.tasks).where(schema.tasks.c.id == one))
        harness.check_annotations()
        harness.check_import(project, complete=True)
        found = "\n".join(harness.report.problems)
        assert f"lost acknowledged annotation {lost}" in found
        assert "half batch?" in found and "after the re-run 499 external ids" in found
    finally:
        harness.close()
