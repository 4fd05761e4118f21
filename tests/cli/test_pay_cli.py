"""``bastion pay``: list, show, approve, lock and CSV as the local operator; a locked statement refuses."""

from __future__ import annotations

import csv
import io

from bastion.services import annotations, pay, queue
from bastion.services.runtime import Runtime
from bastion.settings import Settings
from factories import make_side, system


def test_pay_commands(cli):
    cli("init")
    rt = Runtime.open(Settings(), migrate_schema="never")  # the same data, made through the services
    try:
        side = make_side(rt, "cli", n_tasks=2)
        pay.set_settings(system(rt), side.workspace_id, currency="EUR")
        pay.set_rate(system(rt), side.workspace_id, task_type="classification", per_task=40, effective_from=0)
        worker = side.ctx(rt, "annotator")
        task = queue.next_task(worker, side.project_id)
        done = annotations.submit_annotation(worker, task["id"], {"label": "pos"})["id"]
        sid = pay.create_statement(system(rt), side.workspace_id, side.users["annotator"], 0, 10**13)["id"]
    finally:
        rt.close()
    assert sid in cli("pay", "list", side.workspace_id).stdout
    assert done in cli("pay", "show", sid).stdout
    assert "approved" in cli("pay", "approve", sid).stdout
    assert "locked" in cli("pay", "lock", sid).stdout
    refused = cli("pay", "lock", sid, ok=False)
    assert refused.exit_code != 0 and "locked" in refused.stderr
    rows = list(csv.DictReader(io.StringIO(cli("pay", "csv", sid).stdout)))
    assert [(r["kind"], r["annotation_id"], r["amount"]) for r in rows] == [
        ("annotation", done, "40"),
        ("total", "", "40"),
    ]
