"""Integrity errors that mean something, raised as domain errors where the row is written.

A store wraps a write the database may refuse for a reason the caller can act on
(a duplicate name, a row that points at nothing) in ``refused_as(tx, error)``: the
write runs in a savepoint, and a refusal rolls back to it and raises ``error``
(chained to the driver's exception). Services never see ``sqlalchemy``'s errors.

The trap: on PostgreSQL a failed statement aborts the whole transaction — only the
savepoint keeps the service call's transaction usable after the refusal (a service
that catches the error and goes on, or records it, needs that).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from .database import Tx
from ..domain.errors import BastionError


@contextmanager
def refused_as(tx: Tx, error: BastionError) -> Iterator[None]:
    try:
        with tx.conn.begin_nested():
            yield
    except IntegrityError as exc:
        raise error from exc
