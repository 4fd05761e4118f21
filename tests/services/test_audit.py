"""The audit log in the database: appended with each action, verifiable, tamper-evident."""

from __future__ import annotations

import base64

import orjson
import pytest
from sqlalchemy import select, update

from bastion.audit import verify_consistency, verify_inclusion, verify_log
from bastion.audit.errors import ProofError
from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied
from bastion.services import _audit_append, annotations, audit, queue
from bastion.storage import schema
from factories import add_tasks, fold_audit, make_side, operator_tx, system


def _entries(rt, ws):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(
            select(schema.audit_events.c.seq, schema.audit_events.c.leaf)
            .where(schema.audit_events.c.workspace_id == ws)
            .order_by("seq")
        ).all()
    return [(row.seq, orjson.loads(row.leaf)) for row in rows]


def test_actions_are_recorded_in_order_without_content(rt):
    side = make_side(rt, "au", n_tasks=2)
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    entries = _entries(rt, side.workspace_id)
    assert [seq for seq, _ in entries] == list(range(len(entries)))
    actions = [e["action"] for _, e in entries]
    assert actions[:1] == ["workspace.created"]
    assert "project.created" in actions and "tasks.imported" in actions
    assert actions[-3:] == ["wall.bound", "task.shown", "annotation.submitted"]
    shown = entries[-2][1]
    assert shown["actor"] == side.users["annotator"] and shown["target"] == task["id"]
    assert "token" not in shown["details"]  # service call, not an API token
    blob = b"".join(orjson.dumps(e) for _, e in entries)
    assert b"au 0" not in blob and b"pos" not in blob  # no task content, no results


def test_a_failed_action_leaves_no_audit_record(rt):
    side = make_side(rt, "fail", n_tasks=1)
    before = len(_entries(rt, side.workspace_id))
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    with pytest.raises(InvalidInput):
        annotations.submit_annotation(ctx, task["id"], {"label": "not a label"})
    added = [e["action"] for _, e in _entries(rt, side.workspace_id)[before:]]
    assert added == ["wall.bound", "task.shown"]  # the lease was recorded; the refused result was not


def test_checkpoint_proofs_and_offline_verification(rt, monkeypatch):
    monkeypatch.setattr(_audit_append, "CHECKPOINT_EVERY", 8)
    side = make_side(rt, "cp", n_tasks=12)
    ctx = side.ctx(rt, "annotator")
    for _ in range(12):
        task = queue.next_task(ctx, side.project_id)
        annotations.submit_annotation(ctx, task["id"], {"label": "neg"})
    owner = side.ctx(rt, "owner")
    first = audit.latest_checkpoint(owner, side.workspace_id)
    listed = audit.list_checkpoints(owner, side.workspace_id)
    assert [c["size"] for c in listed][:3] == [8, 16, 24] and listed[-1] == first
    key = audit.public_key(rt)
    lines = b"".join(audit.iter_export(owner, side.workspace_id)).splitlines()
    assert len(lines) == first["size"]
    report = verify_log(lines, first, key, checkpoints=listed[:-1])
    assert report.ok, report.problems

    # More activity; the new head is consistent with the checkpoint saved before.
    add_tasks(rt, side.project_id, 2, start=100)
    second = audit.latest_checkpoint(owner, side.workspace_id)
    proof = audit.consistency(owner, side.workspace_id, first["size"], second["size"])
    verify_consistency(first, second, proof["proof"], key)
    lines = b"".join(audit.iter_export(owner, side.workspace_id)).splitlines()
    assert verify_log(lines, second, key, previous_checkpoint=first).ok
    incl = audit.inclusion(owner, side.workspace_id, 5, second["size"])
    verify_inclusion(incl["entry"], incl["proof"], second, key)
    bad = list(incl["proof"])
    bad[0] = base64.b64encode(b"\x00" * 32).decode()
    with pytest.raises(ProofError):
        verify_inclusion(incl["entry"], bad, second, key)


def test_tampering_in_the_database_is_detected(rt):
    side = make_side(rt, "tp", n_tasks=3)
    owner = side.ctx(rt, "owner")
    audit.latest_checkpoint(owner, side.workspace_id)  # the client saved this
    report, _ = audit.verify_stored(owner, side.workspace_id)
    assert report.ok
    with operator_tx(rt) as tx:
        leaf = tx.execute(
            select(schema.audit_events.c.leaf).where(
                schema.audit_events.c.workspace_id == side.workspace_id, schema.audit_events.c.seq == 1
            )
        ).scalar_one()
        forged = leaf.replace(b'"member.added"', b'"member.removed"')
        assert forged != leaf
        tx.execute(
            update(schema.audit_events)
            .where(schema.audit_events.c.workspace_id == side.workspace_id, schema.audit_events.c.seq == 1)
            .values(leaf=forged)
        )
    report, _ = audit.verify_stored(owner, side.workspace_id)
    assert not report.ok and "root_mismatch" in report.kinds()


def test_who_may_read_the_log(rt):
    a = make_side(rt, "ra", n_tasks=1)
    b = make_side(rt, "rb", n_tasks=1)
    for role in ("owner", "auditor"):
        assert audit.list_entries(a.ctx(rt, role), a.workspace_id)["items"]
    for role in ("manager", "reviewer", "annotator"):
        with pytest.raises(PermissionDenied):
            audit.list_entries(a.ctx(rt, role), a.workspace_id)
    with pytest.raises(NotFound):
        audit.list_entries(a.ctx(rt, "auditor"), b.workspace_id)
    with pytest.raises(NotFound):
        audit.latest_checkpoint(a.ctx(rt, "owner"), b.workspace_id)
    assert audit.count_entries(system(rt), a.workspace_id) > 0


def test_the_timer_signs_logs_that_grew(rt):
    from bastion.services.audit import sign_pending_checkpoints

    a = make_side(rt, "ta", n_tasks=1)
    make_side(rt, "tb", n_tasks=1)
    assert sign_pending_checkpoints(rt) == 2
    assert sign_pending_checkpoints(rt) == 0
    add_tasks(rt, a.project_id, 1, start=50)
    assert sign_pending_checkpoints(rt) == 1
    size = audit.count_entries(system(rt), a.workspace_id)
    assert audit.list_checkpoints(a.ctx(rt, "owner"), a.workspace_id)[-1]["size"] == size
