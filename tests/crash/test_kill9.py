"""kill -9 during imports and a concurrent annotation load: nothing acknowledged is lost.

The harness of ``python -m benchmarks.crash`` (see its docstring for every check)
at a size CI affords: a few kill cycles against a real ``bastion serve`` process.
SQLite only: it is the default setup, and the one whose durability (WAL,
``synchronous=FULL``) lives in this process's files; PostgreSQL's is the server's.
"""

from __future__ import annotations

import pytest
from benchmarks.crash import run


@pytest.mark.slow
def test_kill9_during_imports_and_annotation(tmp_path):
    result = run(6, import_tasks=25_000, clients=4, load_tasks=2000, seed=7, work=tmp_path, verbose=False)
    assert result["cycles"] == 6 and result["restarts"] == 7
    assert result["integrity_checks"] == 7 and result["lease_checks"] == 1
    assert result["audit_verified_workspaces"] == 1
    assert result["acknowledged_annotations"] > 0
    assert result["synchronous"] == "FULL"
    assert result["problems"] == [], result["problems"]


@pytest.mark.slow
def test_the_checks_notice_a_lost_annotation_and_a_half_batch(tmp_path):
    """The harness's own checks fail when a write is missing (so a green run means something)."""
    from benchmarks.crash import Harness
    from sqlalchemy import delete, select

    from bastion.storage import schema

    harness = Harness(tmp_path, import_tasks=500, clients=2, seed=3, load_tasks=300)
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
        with harness.rt.db.transaction() as tx:
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
