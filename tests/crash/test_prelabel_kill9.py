"""kill -9 in the middle of a pre-label job: the restarted server finishes it, each task pre-labelled once.

``benchmarks/prelabel.py`` at a CI size: a ``bastion serve`` (one runner, a one-second lease)
pre-labels a project's tasks against tests/model_server.py's ``labeller``; it is SIGKILLed
when a third are done, restarted, and the job finishes. Every task then holds exactly one
prediction of the job's model version (a chunk done twice would show two, a chunk lost none),
and the checkpoint counts agree. On SQLite and PostgreSQL. The 10,000-task run is
``python -m benchmarks.prelabel --tasks 10000``.
"""

from __future__ import annotations

import pytest
from benchmarks.prelabel import run_case

from model_server import model_server  # noqa: F401  (fixture)

TASKS = 200


@pytest.mark.slow
def test_a_pre_label_job_killed_mid_way_labels_each_task_exactly_once(tmp_path, database_url, model_server):  # noqa: F811
    figures = run_case(
        tmp_path / "data",
        database_url,
        tasks=TASKS,
        chunk=10,
        kill_at=0.3,
        model_url=model_server.url(),
        allowed_host=f"127.0.0.1:{model_server.port}",
        migrate="never",
        timeout=120,
    )
    assert figures["state_at_kill"] == "running" and 0 < figures["done_at_kill"] < TASKS, figures
    assert figures["state"] == "succeeded" and figures["attempts"] == 2, figures
    assert figures["tasks_checked"] == TASKS and figures["missing"] == 0 and figures["duplicates"] == 0, figures
    assert figures["counts"] == {"labelled": TASKS, "failed": 0, "skipped": 0}, figures
