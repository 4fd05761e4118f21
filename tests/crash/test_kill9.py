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
    result = run(6, import_tasks=2000, clients=4, load_tasks=2000, seed=7, work=tmp_path, verbose=False)
    assert result["cycles"] == 6 and result["restarts"] == 7
    assert result["integrity_checks"] == 7 and result["lease_checks"] == 1
    assert result["audit_verified_workspaces"] == 1
    assert result["acknowledged_annotations"] > 0
    assert result["synchronous"] == "FULL"
    assert result["problems"] == [], result["problems"]
