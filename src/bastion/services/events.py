"""A workspace's event feed: an append-only list of what changed, for pollers and webhooks.

An event is appended in the transaction of the change it announces (``Unit.event``, flushed just
before commit like the audit records), so an acknowledged change always has its event and a
rolled-back one never does. Each has a number counting from 1 per workspace (``seq``, the feed's
cursor: ``?after=`` the last one read) and an id (``evt_…``, the ``webhook-id`` of its deliveries).
Its data are ids and counts only, never task content.

Kinds (``KINDS``) and where they are announced: ``tasks.imported`` (services/imports.py),
``task.completed`` (a task reached its overlap: services/annotations.py), ``project.completed`` (no task
of the project is left to do, same place), ``annotation.reviewed`` (services/reviews.py),
``export.ready`` (services/exports.py), ``annotator.paused`` (services/qualification.py's automatic
pause on gold), ``credential.expiring`` and ``credential.expired`` (services/credentials.py's sweep:
a credential's approach to its expiry, once per reminder threshold, and the expiry itself).

Who reads the feed: ``event.read`` — owners, managers and auditors (the ids in it say who was paused
and what was reviewed; annotators and reviewers see their own work elsewhere). A workspace the caller
is not a member of is not found.

Numbers are allocated under the workspace's audit head lock, so two transactions never take the
same one and a reader polling ``after=`` never skips an event committed later with a smaller number.
On SQLite the one writer numbers its events in place. On PostgreSQL a writer queues them
(``event_queue``) and the audit folder numbers them (``fold_feed``, within ``_audit_append.fold``):
right after the announcing write commits (so its webhook deliveries exist when it answers), and
before every read of the feed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._audit_append import FOLD_BATCH, fold, queue_ords
from .context import Context, Unit
from ..access import Action
from ..domain.errors import InvalidInput
from ..ids import new_id
from ..storage import audit_store, events_store
from ..storage.events_store import EventRow, QueuedEvent

KINDS = (
    "tasks.imported",
    "task.completed",
    "project.completed",
    "annotation.reviewed",
    "export.ready",
    "annotator.paused",
    "credential.expiring",
    "credential.expired",
)
MAX_LIMIT = 500


def append_feed(u: Unit, feed: list[tuple[str, str, str | None, dict[str, Any]]]) -> None:
    """Append the unit's pending events (called by ``Unit.flush_audit``) and start their webhook deliveries
    (SQLite); queue them for the folder (PostgreSQL: numbered, and their deliveries made, by ``fold_feed``)."""
    by_workspace: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = {}
    for workspace_id, kind, subject, data in feed:
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        by_workspace.setdefault(workspace_id, []).append((kind, subject, data))
    if not u.tx.db.is_sqlite:
        for workspace_id in sorted(by_workspace):
            events = by_workspace[workspace_id]
            rows = [
                QueuedEvent(ord_, new_id("evt"), kind, subject, data, u.now)
                for ord_, (kind, subject, data) in zip(queue_ords(len(events)), events, strict=True)
            ]
            events_store.queue_events(u.tx, workspace_id, rows)
        u.fold_after_commit(by_workspace)
        return
    for workspace_id in sorted(by_workspace):  # the audit append's order: no lock-order deadlocks
        with u.audit_scope([workspace_id]):
            audit_store.lock_head(u.tx, workspace_id)
        _number(
            u,
            workspace_id,
            [(new_id("evt"), kind, subject, data, u.now) for kind, subject, data in by_workspace[workspace_id]],
        )


def _number(u: Unit, workspace_id: str, events: list[tuple[str, str, str | None, dict[str, Any], int]]) -> None:
    """Give events (id, kind, subject, data, created_at) the next numbers and start their deliveries (head locked)."""
    from .webhooks import enqueue_deliveries

    seq = events_store.next_seq(u.tx, workspace_id)
    rows = [EventRow(workspace_id, seq + i, *event) for i, event in enumerate(events)]
    events_store.insert_events(u.tx, rows)
    enqueue_deliveries(u, rows)


def fold_feed(u: Unit, workspace_id: str) -> int:
    """Number the workspace's queued events in insert order (PostgreSQL; the caller holds the audit
    head's lock: ``_audit_append.fold``). Returns how many."""
    numbered = 0
    while True:
        queued = events_store.list_queued(u.tx, workspace_id, FOLD_BATCH)
        if not queued:
            return numbered
        _number(u, workspace_id, [(q.id, q.kind, q.subject, q.data, q.created_at) for q in queued])
        events_store.delete_queued(u.tx, workspace_id, [q.id for q in queued])
        numbered += len(queued)
        if len(queued) < FOLD_BATCH:
            return numbered


def _out(row: EventRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "id": row.id,
        "kind": row.kind,
        "subject": row.subject,
        "data": row.data,
        "created_at": row.created_at,
    }


def payload(row: EventRow) -> dict[str, Any]:
    """What a webhook delivers (Standard Webhooks' ``type``/``timestamp``/``data``)."""
    moment = datetime.fromtimestamp(row.created_at / 1000, tz=UTC)
    return {
        "type": row.kind,
        "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {"workspace_id": row.workspace_id, "seq": row.seq, "subject": row.subject, **row.data},
    }


def whole_number(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: a whole number from {low} to {high}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field}: a whole number from {low} to {high}") from None
    if not low <= number <= high:
        raise InvalidInput(f"{field}: a whole number from {low} to {high}")
    return number


def list_events(ctx: Context, workspace_id: str, *, after: Any = 0, limit: Any = 100) -> dict[str, Any]:
    """The workspace's events after the cursor ``after`` (a ``seq``), oldest first; ``next`` is the cursor
    to ask with next time (the last one returned, or ``after`` when none was new)."""
    after_n = whole_number(after, "after", 0, 2**62)
    limit_n = whole_number(limit, "limit", 1, MAX_LIMIT)
    if not ctx.rt.db.is_sqlite:  # what is queued gets its number first: a reader sees every committed event
        with ctx.write() as w:
            w.access.require(Action.EVENT_READ, workspace_id, what="event feed")
            fold(w, workspace_id)
    with ctx.read() as r:
        r.access.require(Action.EVENT_READ, workspace_id, what="event feed")
        rows = events_store.list_events(r.tx, workspace_id, after=after_n, limit=limit_n)
    return {"events": [_out(e) for e in rows], "next": rows[-1].seq if rows else after_n}
