"""Leak tracing's reads of a project's tasks: every task's sealed texts, a page at a time.

Tracing rebuilds, for every task of a project, the texts and protected ranges
that were used at display time, so it reads the payload, predictions and gold
answer of each task (still sealed: the service opens them with the project's
key). Canaries are left out: they are matched on their facts, not their slots.
Who was shown each task is ``redaction_store.viewers_of``; canaries are
``canaries_store``.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from . import schema
from .database import Tx

T = schema.tasks


class SealedTask(NamedTuple):
    """One task's sealed payload, predictions and gold answer (the last two None when absent)."""

    id: str
    payload: bytes
    predictions: bytes | None
    gold: bytes | None


def source_tasks(tx: Tx, project_id: str, *, workspace_id: str, after: str, limit: int) -> list[SealedTask]:
    """The project's tasks (no canaries) with ids after ``after``, in id order: one page of at most ``limit``."""
    rows = tx.execute(
        select(T.c.id, T.c.payload, T.c.predictions, T.c.gold)
        .where(T.c.workspace_id == workspace_id, T.c.project_id == project_id, T.c.is_canary.is_(False), T.c.id > after)
        .order_by(T.c.id)
        .limit(limit)
    ).all()
    return [SealedTask._make(row) for row in rows]


__all__ = ["SealedTask", "source_tasks"]
