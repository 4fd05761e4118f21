"""The event feed and webhooks (``schema.events``, ``webhook_endpoints``, ``webhook_deliveries``,
``webhook_attempts``): services/events.py and services/webhooks.py.

Every function names the workspace or the workspaces the caller may see, so a foreign id finds
nothing. ``next_seq`` is called only under the workspace's audit head lock (SQLite: its one writer;
PostgreSQL: the folder, which numbers the queued events, ``event_queue``), so two transactions never
take the same number and numbers follow commit order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import delete, insert, select, update

from . import schema
from .database import Tx
from .fast import Statement

E = schema.events
W = schema.webhook_endpoints
D = schema.webhook_deliveries
A = schema.webhook_attempts


class EventRow(NamedTuple):
    workspace_id: str
    seq: int
    id: str
    kind: str
    subject: str | None
    data: dict[str, Any]
    created_at: int


class WebhookRow(NamedTuple):
    workspace_id: str
    id: str
    url: str
    kinds: list[str]
    allowed_hosts: list[str]
    secret: bytes
    created_by: str | None
    created_at: int
    updated_at: int


class DeliveryRow(NamedTuple):
    workspace_id: str
    id: str
    endpoint_id: str
    event_seq: int
    state: str
    attempts: int
    round_attempts: int
    last_status: int | None
    last_error: str | None
    job_id: str | None
    created_at: int
    updated_at: int


class AttemptRow(NamedTuple):
    workspace_id: str
    delivery_id: str
    n: int
    at: int
    status: int | None
    error: str | None
    latency_ms: int


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


# -- events ------------------------------------------------------------------------------------------


# Appending events runs in every write that announces one (a task completed: every other submit
# of an overlap-2 project), inside the SQLite writer: plain statements on the driver (fast.py).
NEXT_SEQ = Statement("SELECT MAX(seq) FROM events WHERE workspace_id = :ws")
INSERT_EVENT = Statement(
    "INSERT INTO events (workspace_id, seq, id, kind, subject, data, created_at) "
    "VALUES (:workspace_id, :seq, :id, :kind, :subject, :data, :created_at)"
)


QUEUE_EVENT = Statement(  # PostgreSQL only
    "INSERT INTO event_queue (workspace_id, ord, id, kind, subject, data, created_at) "
    "VALUES (:workspace_id, :ord, :id, :kind, :subject, :data, :created_at)"
)
LIST_QUEUED = Statement(
    "SELECT ord, id, kind, subject, data, created_at FROM event_queue WHERE workspace_id = :ws "
    "ORDER BY ord, id LIMIT :limit"
)
DELETE_QUEUED = Statement(
    "SELECT 1",  # never run on SQLite: nothing is queued there
    postgresql="DELETE FROM event_queue WHERE workspace_id = :ws AND id = ANY(:ids)",
)


class QueuedEvent(NamedTuple):
    ord: int  # the queueing process's clock (µs), strictly increasing within a process
    id: str
    kind: str
    subject: str | None
    data: dict[str, Any]
    created_at: int


def queue_events(tx: Tx, workspace_id: str, rows: Sequence[QueuedEvent]) -> None:
    """Sent with the COMMIT (``defer``)."""
    QUEUE_EVENT.defer_many(
        tx, [{**row._asdict(), "workspace_id": workspace_id, "data": _json(row.data)} for row in rows]
    )


def list_queued(tx: Tx, workspace_id: str, limit: int) -> list[QueuedEvent]:
    """The oldest ``limit`` queued events of the workspace that this transaction sees, in insert order."""
    return [
        QueuedEvent(row[0], row[1], row[2], row[3], orjson.loads(row[4]), row[5])
        for row in LIST_QUEUED.rows(tx, ws=workspace_id, limit=limit)
    ]


def delete_queued(tx: Tx, workspace_id: str, event_ids: Sequence[str]) -> None:
    """Exactly the numbered ones: one queued earlier but committed later is still to come."""
    if event_ids:
        DELETE_QUEUED.defer(tx, ws=workspace_id, ids=list(event_ids))


def next_seq(tx: Tx, workspace_id: str) -> int:
    last = NEXT_SEQ.scalar(tx, ws=workspace_id)
    return int(last or 0) + 1


def insert_events(tx: Tx, rows: Sequence[EventRow]) -> None:
    if rows:
        INSERT_EVENT.many(tx, [{**r._asdict(), "data": _json(r.data)} for r in rows])


def _event(row: Any) -> EventRow:
    values = list(row)
    values[5] = orjson.loads(values[5])
    return EventRow._make(values)


def list_events(tx: Tx, workspace_id: str, *, after: int, limit: int) -> list[EventRow]:
    query = (
        select(*[getattr(E.c, f) for f in EventRow._fields])
        .where(E.c.workspace_id == workspace_id, E.c.seq > after)
        .order_by(E.c.seq)
        .limit(limit)
    )
    return [_event(r) for r in tx.execute(query)]


def find_event(tx: Tx, workspace_id: str, seq: int) -> EventRow | None:
    query = select(*[getattr(E.c, f) for f in EventRow._fields]).where(E.c.workspace_id == workspace_id, E.c.seq == seq)
    row = tx.execute(query).first()
    return None if row is None else _event(row)


# -- endpoints ---------------------------------------------------------------------------------------

_W_COLUMNS = [getattr(W.c, f) for f in WebhookRow._fields]


def _webhook(row: Any) -> WebhookRow:
    values = list(row)
    values[3] = orjson.loads(values[3])
    values[4] = orjson.loads(values[4])
    values[5] = bytes(values[5])
    return WebhookRow._make(values)


def insert_webhook(tx: Tx, row: WebhookRow) -> None:
    values = row._asdict()
    values["kinds"] = _json(row.kinds)
    values["allowed_hosts"] = _json(row.allowed_hosts)
    tx.execute(insert(W).values(**values))


def find_webhook(tx: Tx, webhook_id: str, *, workspace_ids: Collection[str] | None) -> WebhookRow | None:
    query = select(*_W_COLUMNS).where(W.c.id == webhook_id)
    if workspace_ids is not None:
        query = query.where(W.c.workspace_id.in_(list(workspace_ids)))
    row = tx.execute(query).first()
    return None if row is None else _webhook(row)


LIST_WEBHOOKS = Statement(
    f"SELECT {', '.join(WebhookRow._fields)} FROM webhook_endpoints WHERE workspace_id = :ws ORDER BY created_at, id"
)


def list_webhooks(tx: Tx, workspace_id: str) -> list[WebhookRow]:
    """The workspace's endpoints (asked by every event append: a plain statement on the driver)."""
    return [_webhook(r) for r in LIST_WEBHOOKS.rows(tx, ws=workspace_id)]


def delete_webhook(tx: Tx, workspace_id: str, webhook_id: str) -> None:
    tx.execute(delete(W).where(W.c.workspace_id == workspace_id, W.c.id == webhook_id))


# -- deliveries --------------------------------------------------------------------------------------

_D_COLUMNS = [getattr(D.c, f) for f in DeliveryRow._fields]


def insert_delivery(tx: Tx, row: DeliveryRow) -> None:
    tx.execute(insert(D).values(**row._asdict()))


def find_delivery(tx: Tx, workspace_id: str, delivery_id: str) -> DeliveryRow | None:
    query = select(*_D_COLUMNS).where(D.c.workspace_id == workspace_id, D.c.id == delivery_id)
    row = tx.execute(query).first()
    return None if row is None else DeliveryRow._make(row)


def list_deliveries(tx: Tx, workspace_id: str, webhook_id: str, *, state: str | None, limit: int) -> list[DeliveryRow]:
    query = select(*_D_COLUMNS).where(D.c.workspace_id == workspace_id, D.c.endpoint_id == webhook_id)
    if state is not None:
        query = query.where(D.c.state == state)
    query = query.order_by(D.c.event_seq.desc()).limit(limit)
    return [DeliveryRow._make(r) for r in tx.execute(query)]


def update_delivery(tx: Tx, workspace_id: str, delivery_id: str, **values: Any) -> None:
    tx.execute(update(D).where(D.c.workspace_id == workspace_id, D.c.id == delivery_id).values(**values))


def insert_attempt(tx: Tx, row: AttemptRow) -> None:
    tx.execute(insert(A).values(**row._asdict()))


def list_attempts(tx: Tx, workspace_id: str, delivery_ids: Collection[str]) -> list[AttemptRow]:
    if not delivery_ids:
        return []
    query = (
        select(*[getattr(A.c, f) for f in AttemptRow._fields])
        .where(A.c.workspace_id == workspace_id, A.c.delivery_id.in_(list(delivery_ids)))
        .order_by(A.c.delivery_id, A.c.n)
    )
    return [AttemptRow._make(r) for r in tx.execute(query)]
