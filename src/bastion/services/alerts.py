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

from sqlalchemy import func, insert, select, update

from .. import ids
from ..domain.errors import InvalidInput, PermissionDenied
from ..storage import schema
from .context import Context, Unit

AL = schema.alerts
MAX_LISTED = 200


def notify(w: Unit, user_ids: Iterable[str], workspace_id: str, kind: str, message: str,
           subject: str | None = None) -> int:
    """Alert these people (each once) in the current transaction; returns how many."""
    people = sorted(set(user_ids) - {"system"})
    if people:
        w.execute(insert(AL), [{"user_id": user_id, "id": ids.new_id("alr"), "workspace_id": workspace_id,
                                "kind": kind, "message": message[:600], "subject": subject, "created_at": w.now}
                               for user_id in people])
    return len(people)


def _out(row) -> dict:
    return {"id": row.id, "workspace_id": row.workspace_id, "kind": row.kind, "message": row.message,
            "subject": row.subject, "created_at": row.created_at, "read_at": row.read_at}


def list_alerts(ctx: Context, *, unread_only: bool = False, limit: int = 100) -> list[dict]:
    """Your alerts, newest first (the local operator has none)."""
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidInput(f"limit: from 1 to {MAX_LISTED}")
    if ctx.actor.is_system:
        return []
    with ctx.read() as r:
        query = select(AL).where(AL.c.user_id == ctx.actor.user_id)
        if unread_only:
            query = query.where(AL.c.read_at.is_(None))
        return [_out(row) for row in r.execute(query.order_by(AL.c.id.desc()).limit(limit)).all()]


def unread_count(ctx: Context) -> int:
    if ctx.actor.is_system:
        return 0
    with ctx.read() as r:
        return r.execute(select(func.count()).select_from(AL).where(
            AL.c.user_id == ctx.actor.user_id, AL.c.read_at.is_(None))).scalar_one()


def mark_read(ctx: Context, alert_ids: list[str] | None = None) -> int:
    """Mark your alerts read: these ids (others' ids change nothing), or all of them. Returns how many."""
    if alert_ids is not None and (len(alert_ids) > MAX_LISTED or not all(isinstance(a, str) for a in alert_ids)):
        raise InvalidInput(f"ids: a list of at most {MAX_LISTED} alert ids")
    if ctx.actor.is_system:
        return 0
    with ctx.write() as w:
        if ctx.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        query = update(AL).where(AL.c.user_id == ctx.actor.user_id, AL.c.read_at.is_(None))
        if alert_ids is not None:
            if not alert_ids:
                return 0
            query = query.where(AL.c.id.in_(alert_ids))
        return w.execute(query.values(read_at=w.now)).rowcount


__all__ = ["list_alerts", "mark_read", "notify", "unread_count"]
