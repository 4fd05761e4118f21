"""A hundred clients on two server processes: overlap, uniqueness, walls, exclusions, skills, leases.

The same harness as ``python -m benchmarks.queue_load``, at a size CI affords.
"""

from __future__ import annotations

import pytest
from benchmarks.queue_load import INVARIANTS, run


@pytest.mark.slow
def test_hundred_clients_two_servers(db_kind):
    result = run(db_kind, clients=100, tasks=30, servers=2, walls=True)
    assert result["submissions"] == result["tasks"] * 2
    problems = {key: result[key] for key in INVARIANTS if result[key]}
    assert problems == {}, (problems, result["failures"])
