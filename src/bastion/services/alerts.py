"""A person's alerts: what they should look at now, and did not ask for.

Alerts are written inside the transaction of the event they report (``notify``),
so they exist exactly when the event does: a break-glass operation alerts every
owner of the workspace, a request for two-person approval alerts those who may
decide it, a decision alerts the requester. Each person reads only their own
(``list_alerts``) and marks them read; the home page shows a banner while any
is unread.

An alert holds metadata only (what happened, by whom, which approval), never
client content, and survives the deletion of its workspace: an owner learns of a
break-glass deletion after the fact.
"""

from __future__ import annotations

from collections.abc import Iterable

from .context import Context, Unit
from .. import ids
from ..domain.errors import InvalidInput, PermissionDenied
from ..storage import alerts_store
from ..storage.alerts_store import Alert

MAX_LISTED = 200


def notify(
    w: Unit, user_ids: Iterable[str], workspace_id: str, kind: str, message: str, subject: str | None = None
) -> int:
    """Alert these people (each once) in the current transaction; returns how many."""
    people = sorted(set(user_ids) - {"system"})
    if people:
        alerts_store.insert_alerts(
            w.tx,
            workspace_id,
            [(user_id, ids.new_id("alr")) for user_id in people],
            kind=kind,
            message=message[:600],
            subject=subject,
            now=w.now,
        )
    return len(people)


def _out(row: Alert) -> dict:
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "kind": row.kind,
        "message": row.message,
        "subject": row.subject,
        "created_at": row.created_at,
        "read_at": row.read_at,
    }


def list_alerts(ctx: Context, *, unread_only: bool = False, limit: int = 100) -> list[dict]:
    """Your alerts, newest first (the local operator has none)."""
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidInput(f"limit: from 1 to {MAX_LISTED}")
    if ctx.actor.is_system:
        return []
    with ctx.read() as r:
        return [
            _out(row) for row in alerts_store.list_alerts(r.tx, ctx.actor.user_id, unread_only=unread_only, limit=limit)
        ]


def unread_count(ctx: Context) -> int:
    if ctx.actor.is_system:
        return 0
    with ctx.read() as r:
        return alerts_store.count_unread(r.tx, ctx.actor.user_id)


def mark_read(ctx: Context, alert_ids: list[str] | None = None) -> int:
    """Mark your alerts read: these ids (others' ids change nothing), or all of them. Returns how many."""
    if alert_ids is not None and (len(alert_ids) > MAX_LISTED or not all(isinstance(a, str) for a in alert_ids)):
        raise InvalidInput(f"ids: a list of at most {MAX_LISTED} alert ids")
    if ctx.actor.is_system:
        return 0
    with ctx.write() as w:
        if ctx.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        if alert_ids is not None and not alert_ids:
            return 0
        return alerts_store.mark_read(w.tx, ctx.actor.user_id, alert_ids, w.now)


__all__ = ["list_alerts", "mark_read", "notify", "unread_count"]
