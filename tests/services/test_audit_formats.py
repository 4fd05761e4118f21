"""Audit logs in the database written before RFC 8785 and after: both verify, edits to either are caught."""

from __future__ import annotations

import orjson
from sqlalchemy import select, update

from bastion.audit import verify_log
from bastion.services import _audit_append, annotations, audit, queue
from bastion.storage import schema
from factories import add_tasks, fold_audit, make_side, operator_tx


def _entries(rt, ws):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(
            select(schema.audit_events.c.seq, schema.audit_events.c.leaf)
            .where(schema.audit_events.c.workspace_id == ws)
            .order_by("seq")
        ).all()
    return [(row.seq, orjson.loads(row.leaf)) for row in rows]


def _tamper(rt, ws, seq, old: bytes, new: bytes) -> bytes:
    """Edit one stored leaf in place (the operator's attack); returns the original."""
    E = schema.audit_events
    with operator_tx(rt) as tx:
        leaf = tx.execute(select(E.c.leaf).where(E.c.workspace_id == ws, E.c.seq == seq)).scalar_one()
        assert old in leaf, (old, leaf)
        tx.execute(update(E).where(E.c.workspace_id == ws, E.c.seq == seq).values(leaf=leaf.replace(old, new)))
    return leaf


def _restore(rt, ws, seq, leaf: bytes) -> None:
    E = schema.audit_events
    with operator_tx(rt) as tx:
        tx.execute(update(E).where(E.c.workspace_id == ws, E.c.seq == seq).values(leaf=leaf))


def test_a_log_written_before_rfc_8785_and_after_verifies_and_edits_to_either_are_caught(rt, monkeypatch):
    from functools import partial

    from bastion.audit import LEGACY_FORMAT, AuditEntry

    # The log as the code before RFC 8785 wrote it: entries without "v".
    monkeypatch.setattr(_audit_append, "AuditEntry", partial(AuditEntry, v=LEGACY_FORMAT))
    side = make_side(rt, "mix", n_tasks=2)
    owner = side.ctx(rt, "owner")
    saved = audit.latest_checkpoint(owner, side.workspace_id)  # the client saved this back then
    monkeypatch.setattr(_audit_append, "AuditEntry", AuditEntry)
    add_tasks(rt, side.project_id, 2, start=10)
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    annotations.submit_annotation(ctx, task["id"], {"label": "pos"})

    entries = _entries(rt, side.workspace_id)
    legacy = [seq for seq, e in entries if "v" not in e]
    jcs = [seq for seq, e in entries if e.get("v") == 2]
    assert legacy == list(range(saved["size"])) and jcs == list(range(saved["size"], len(entries)))

    report, _ = audit.verify_stored(owner, side.workspace_id)
    assert report.ok, report.problems
    latest = audit.latest_checkpoint(owner, side.workspace_id)
    lines = b"".join(audit.iter_export(owner, side.workspace_id)).splitlines()
    assert verify_log(lines, latest, audit.public_key(rt), previous_checkpoint=saved).ok

    for seq in (legacy[1], jcs[-1]):
        original = _tamper(rt, side.workspace_id, seq, b'"actor":"', b'"actor":"x')
        report, _ = audit.verify_stored(owner, side.workspace_id)
        assert not report.ok and "root_mismatch" in report.kinds(), seq
        lines = b"".join(audit.iter_export(owner, side.workspace_id)).splitlines()
        report = verify_log(lines, latest, audit.public_key(rt), previous_checkpoint=saved)
        assert not report.ok and report.verified_size <= seq, seq
        _restore(rt, side.workspace_id, seq, original)
    assert audit.verify_stored(owner, side.workspace_id)[0].ok
