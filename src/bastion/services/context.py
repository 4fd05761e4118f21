"""The context every service function takes first: the runtime and the actor.

``with ctx.write() as u:`` opens the service call's one transaction and yields a
``Unit``: the transaction, the actor's access decisions (``u.access``), sealers
for the workspace data keys and the audit recorder. Everything a service does
happens through it, so the access check, the write and its audit record commit
or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from .. import ids
from ..access import Access, Actor
from ..storage import schema
from ..storage.crypto import Sealer
from ..storage.database import Tx
from ..storage.keyring import require_key
from .runtime import Runtime


class Unit:
    """One service call's transaction, with the actor's access decisions."""

    __slots__ = ("tx", "rt", "actor", "access", "_sealers")

    def __init__(self, tx: Tx, rt: Runtime, actor: Actor) -> None:
        self.tx = tx
        self.rt = rt
        self.actor = actor
        self.access = Access(actor, tx.conn)
        self._sealers: dict[str, Sealer] = {}
        if rt.db.dialect.name == "postgresql":
            scope = "*" if actor.is_system else ",".join(self.access.roles)
            tx.set_scope(actor.user_id, scope)

    @property
    def conn(self):
        return self.tx.conn

    @property
    def now(self) -> int:
        return self.tx.now

    def execute(self, statement, params=None):
        return self.tx.execute(statement, params)

    def sealer(self, workspace_id: str, key_id: str) -> Sealer:
        sealer = self._sealers.get(key_id)
        if sealer is None:
            require_key(self.rt.keyring, workspace_id, key_id)
            sealer = Sealer(self.rt.keyring, workspace_id, key_id)
            self._sealers[key_id] = sealer
        return sealer

    def audit(self, workspace_id: str, action: str, target: str | None = None, **details) -> None:
        """Append an audit event in this transaction (no task content in ``details``)."""
        self.tx.execute(
            schema.audit_events.insert().values(
                workspace_id=workspace_id,
                id=ids.new_id("aud"),
                at=self.tx.now,
                actor=self.actor.user_id,
                action=action,
                target=target,
                details=orjson.dumps(details, option=orjson.OPT_SORT_KEYS).decode(),
            )
        )


class Context:
    __slots__ = ("rt", "actor")

    def __init__(self, rt: Runtime, actor: Actor) -> None:
        self.rt = rt
        self.actor = actor

    @contextmanager
    def write(self) -> Iterator[Unit]:
        with self.rt.db.transaction(write=True) as tx:
            yield Unit(tx, self.rt, self.actor)

    @contextmanager
    def read(self) -> Iterator[Unit]:
        with self.rt.db.transaction(write=False) as tx:
            yield Unit(tx, self.rt, self.actor)

    def as_actor(self, actor: Actor) -> "Context":
        return Context(self.rt, actor)
