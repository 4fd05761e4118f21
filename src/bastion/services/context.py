"""The context every service function takes first: the runtime and the actor.

``with ctx.write() as u:`` opens the service call's one transaction and yields a
``Unit``: the transaction, the actor's access decisions (``u.access``), sealers
for the workspace data keys and the audit recorder. Everything a service does
happens through it, so the access check, the write and its audit record commit
or roll back together.

``with ctx.read() as r:`` is a read-only transaction: it records no audit events,
but it passes the wall like a write does (``Unit.see_content``): it decides
without writing, and only when the decision binds (a first access) or the
person's last-access time there is over a minute old does it write, in a short
transaction of its own, under the person's lock, deciding again — then the read
goes on. A refusal in either kind of unit is recorded (``wall.denied``) in a
transaction of its own, since the refused one rolls back.

``Context.may_bind`` is False for GET requests of a browser session (``web/auth.py``):
such a request never binds a person to a workspace (``FirstAccessRequired``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import auth_cache
from ._audit_append import PendingEvent, append_events, fold_after_commit
from .auth_cache import Pending
from .runtime import Runtime
from ..access import Access, Actor, FirstAccessRequired, WallDenied
from ..domain.workspaces import Role
from ..storage import memberships_store, workforce_store
from ..storage.crypto import Sealer
from ..storage.database import Tx
from ..storage.keyring import require_key

# A read refreshes the person's last access to a workspace (what cooling-off periods count
# from) when it is older than this, so read paths write at most once a minute per person.
TOUCH_EVERY_MS = 60_000


class Unit:
    """One service call's transaction, with the actor's access decisions."""

    __slots__ = (
        "tx",
        "rt",
        "actor",
        "access",
        "may_bind",
        "_sealers",
        "_events",
        "_feed",
        "_scope",
        "_held",
        "_seen",
        "fold_after",
    )

    def __init__(
        self,
        tx: Tx,
        rt: Runtime,
        actor: Actor,
        *,
        may_bind: bool = True,
        roles: dict | None = None,
        scoped: bool = False,
    ) -> None:
        """``roles``: the person's memberships, already read at this transaction's auth generation;
        ``scoped``: row-level security's scope is already bound to exactly those (``Context._unit``)."""
        self.tx = tx
        self.rt = rt
        self.actor = actor
        self.may_bind = may_bind
        self.access = Access(actor, tx, roles)
        self._sealers: dict[str, Sealer] = {}
        self._events: list[PendingEvent] = []
        self._feed: list[tuple[str, str, str | None, dict]] = []
        self._scope: frozenset[str] | None = None  # the workspaces RLS shows; None: all (or SQLite)
        self._held = False  # the person's lock is held (``hold_person``)
        self._seen: set[str] = set()  # workspaces whose wall this write unit has passed (``see_content``)
        self.fold_after: set[str] = set()  # PostgreSQL: logs to fold once this commits (``fold_after_commit``)
        if rt.db.dialect.name == "postgresql":
            # Row-level security: who asks first (their memberships are readable), then
            # the workspaces they belong to. Both are local to this transaction.
            if actor.is_system:
                tx.set_scope(actor.user_id, "*", actor.is_admin)
            elif scoped and roles is not None:
                self._scope = frozenset(roles)
            elif roles is not None:  # read already: one setting
                self._scope = frozenset(roles)
                tx.set_scope(actor.user_id, ",".join(self._scope), actor.is_admin)
            else:  # who asks, their memberships and the scope, in one round trip
                _, rows = memberships_store.scope_to_roles(tx, actor.user_id, actor.is_admin, generation=False)
                self.access = Access(actor, tx, {row.workspace_id: Role(row.role) for row in rows})
                self._scope = frozenset(self.access.roles)

    @property
    def conn(self):
        return self.tx.conn

    @property
    def now(self) -> int:
        return self.tx.now

    def sealer(self, workspace_id: str, key_id: str) -> Sealer:
        sealer = self._sealers.get(key_id)
        if sealer is None:
            material = require_key(self.rt.keyring, workspace_id, key_id)
            sealer = Sealer(self.rt.keyring, workspace_id, key_id, material)
            self._sealers[key_id] = sealer
        return sealer

    def audit(self, workspace_id: str, action: str, target: str | None = None, **details) -> None:
        """Record an audit event; it is appended to the log just before this transaction commits.

        ``details`` hold metadata only (counts, ids, settings), never task content.
        """
        if self.actor.token_id:
            details["token"] = self.actor.token_id
        self._events.append(PendingEvent(workspace_id, self.tx.now, self.actor.user_id, action, target, details))

    def event(self, workspace_id: str, kind: str, subject: str | None = None, **ids) -> None:
        """Announce a change in the workspace's event feed (``services/events.py``): appended, with the
        webhook deliveries it starts, just before this transaction commits — so an acknowledged change
        always has its event and a rolled-back one never does. ``ids``: ids and counts, never content."""
        self._feed.append((workspace_id, kind, subject, ids))

    def fold_after_commit(self, workspace_ids) -> None:
        """Fold these workspaces' queued entries and feed events once this transaction has committed
        (``Context.write``; services/_audit_append.py): a write that announced feed events."""
        self.fold_after.update(workspace_ids)

    def hold_person(self) -> None:
        """Take the person's wall lock first (before any task row), so locks always come in one order."""
        if not self.actor.is_system and not self._held:
            workforce_store.lock_person(self.tx, self.actor.user_id, defer=True)  # taken before what follows
            self._held = True  # a row lock lasts until the transaction ends

    def wall_reads(self, workspace_id: str) -> list:
        """The reads ``see_content`` will make for this workspace, to ask ahead with others
        (``fast.prefetch``): none for the operator or once this write unit has passed the wall."""
        if self.actor.is_system or (self.tx.write and workspace_id in self._seen):
            return []
        return workforce_store.wall_reads(self.actor.user_id, workspace_id, self.tx.now)

    def see_content(self, workspace_id: str) -> None:
        """This person is about to be shown the workspace's data: walls decide (access.py).

        In a write unit the decision is made under the person's lock and recorded in
        this transaction. In a read unit it is made without writing; a first access
        (or a stale last-access time) is recorded apart first (``_record_access_apart``).
        """
        if self.actor.is_system:
            return
        if self.tx.write:
            # Once per workspace and transaction: the person's lock is held to the commit, so nothing
            # a second decision would read can have changed but by this transaction itself.
            if workspace_id in self._seen:
                return
            self.access.require_content(
                workspace_id, self.tx.now, self.audit, may_bind=self.may_bind, person_locked=self._held
            )
            self._held = True
            self._seen.add(workspace_id)
            return
        decision = self.access.decide_content(workspace_id, self.tx.now)
        if not decision.allowed:
            raise self.access.wall_denied(workspace_id, decision)
        if decision.binds:
            if not self.may_bind:
                raise FirstAccessRequired(workspace_id)
            self._record_access_apart(workspace_id)
            return
        mine = next((r.history for r in decision.reasons if r.kind == "bound"), None)
        if mine is not None and mine.last_at + TOUCH_EVERY_MS < self.tx.now:
            self._record_access_apart(workspace_id)

    def _record_access_apart(self, workspace_id: str) -> None:
        """Bind (or refresh) in a short write transaction of its own, deciding again under the lock.

        A read transaction holds no lock a writer waits for (WAL on SQLite; plain reads on
        PostgreSQL), so the write cannot wait on the read around it. A refusal here (a wall
        raised meanwhile) propagates as WallDenied and is recorded by ``Context.read``.
        """
        with self.rt.db.transaction(write=True) as tx:
            unit = Unit(tx, self.rt, self.actor, may_bind=self.may_bind)
            unit.access.require_content(workspace_id, tx.now, unit.audit, may_bind=self.may_bind)
            unit.flush_audit()

    def audit_scope(self, workspace_ids):
        """Within the block, this transaction may extend (and sign) these workspaces' audit logs.

        The service has already decided the action (an admin creating a workspace,
        an owner declaring a competitor: the other side's log records it too). On
        PostgreSQL, logs outside the caller's row-level security scope are opened
        for the block only — their heads and checkpoints, never their entries
        (``storage/rls.py``). Nothing is set when every log is in scope.
        """
        outside = () if self._scope is None else sorted(set(workspace_ids) - self._scope)
        return self._widened("app.audit_workspace_ids", outside)

    def wall_check_scope(self, workspace_ids):
        """Within the block, people's history on these workspaces is readable (a wall check
        made for someone else, which the service has authorised: see ``storage/rls.py``)."""
        needed = self._scope is not None and not self.actor.is_admin
        return self._widened("app.wall_workspace_ids", sorted(set(workspace_ids)) if needed else ())

    @contextmanager
    def acting_in(self, workspace_ids) -> Iterator[None]:
        """Within the block, row-level security also shows these workspaces' rows: for a write the
        service has decided in a workspace the caller is not a member of (a platform admin records
        a person's tie, and that person's open leases there end). Wrap exactly that write."""
        scope = self._scope
        outside = () if scope is None else sorted(set(workspace_ids) - scope)
        if scope is None or not outside:
            yield
            return
        actor = self.actor
        self.tx.set_scope(actor.user_id, ",".join(sorted(scope | set(outside))), actor.is_admin)
        try:
            yield
        finally:
            if self.tx.usable:
                self.tx.set_scope(actor.user_id, ",".join(scope), actor.is_admin)

    @contextmanager
    def _widened(self, setting: str, workspace_ids) -> Iterator[None]:
        if not workspace_ids:
            yield
            return
        self.tx.dialect.set_widening(self.conn, setting, ",".join(workspace_ids))
        try:
            yield
        finally:  # closed even when the service catches an error and goes on
            if self.tx.usable:  # else the transaction only rolls back, taking the setting with it
                self.tx.dialect.set_widening(self.conn, setting, "")

    def flush_audit(self) -> None:
        if self._events:
            events, self._events = self._events, []
            append_events(self, events)
        if self._feed:
            from .events import append_feed  # the feed needs the unit; imported late to keep one direction

            feed, self._feed = self._feed, []
            append_feed(self, feed)


class Context:
    """Who is asking, and whether this request may bind them to a workspace (see the module docstring).

    ``pending``: the actor came from the credential cache (``services/auth_cache.py``); the first
    transaction this context opens checks that the auth generation has not moved since, resolving
    the credential again in that transaction if it has (``Unauthenticated`` when it is no longer
    valid). ``confirm`` makes the check in a transaction of its own, for a request that opened none.
    """

    __slots__ = ("rt", "actor", "may_bind", "pending")

    def __init__(self, rt: Runtime, actor: Actor, *, may_bind: bool = True, pending: Pending | None = None) -> None:
        self.rt = rt
        self.actor = actor
        self.may_bind = may_bind
        self.pending = pending

    def _unit(self, tx: Tx) -> Unit:
        """The unit of a transaction this context opened: the pending check first, then the
        person's roles from the cache when they were read at the generation this transaction sees."""
        pending = self.pending
        if pending is None:
            return Unit(tx, self.rt, self.actor, may_bind=self.may_bind)
        if not tx.db.is_sqlite and not self.actor.is_system:
            # PostgreSQL: the generation, who asks, their roles and the scope in one round trip, for
            # the cached actor; kept when the generation has not moved (the actor stands as cached).
            generation, rows = memberships_store.scope_to_roles(
                tx, self.actor.user_id, self.actor.is_admin, generation=True
            )
            if generation == pending.generation:
                self.pending = None
                known = {row.workspace_id: Role(row.role) for row in rows}
                if not tx.write:
                    self.rt.auth_cache.keep_roles(self.actor.user_id, generation, known)
                return Unit(tx, self.rt, self.actor, may_bind=self.may_bind, roles=known, scoped=True)
            tx.set_scope("", "", False)  # moved: nobody asks until the credential is resolved again
        generation, actor = auth_cache.confirm(self.rt.auth_cache, pending, tx)
        if actor is not None:
            self.actor = actor
        self.pending = None
        roles = self.rt.auth_cache.roles(self.actor.user_id, generation)
        unit = Unit(tx, self.rt, self.actor, may_bind=self.may_bind, roles=roles)
        if roles is None and not tx.write:
            unit.access.roles  # noqa: B018  (loaded now, in this read-only snapshot, to be cached)
            self.rt.auth_cache.keep_roles(self.actor.user_id, generation, unit.access.roles)
        return unit

    def confirm(self) -> None:
        """Make the pending check now, in a read-only transaction of its own (nothing when none is pending)."""
        if self.pending is not None:
            with self.rt.db.transaction(write=False) as tx:
                self._unit(tx)

    @contextmanager
    def write(self) -> Iterator[Unit]:
        try:
            with self.rt.db.transaction(write=True) as tx:
                unit = self._unit(tx)
                yield unit
                unit.flush_audit()
        except WallDenied as denied:
            self._record_denial(denied)
            raise
        if unit.fold_after:
            fold_after_commit(self.rt, unit.fold_after)

    def _record_denial(self, denied: WallDenied) -> None:
        """A refused access rolled back with its transaction; its record must not."""
        with self.rt.db.transaction(write=True) as tx:
            unit = Unit(tx, self.rt, self.actor)
            unit.audit(
                denied.workspace_id,
                "wall.denied",
                self.actor.user_id,
                reasons=[r.kind for r in denied.decision.reasons],
            )
            unit.flush_audit()

    @contextmanager
    def read(self) -> Iterator[Unit]:
        """A read-only transaction: no audit events; walls decide without writing (``Unit.see_content``)."""
        try:
            with self.rt.db.transaction(write=False) as tx:
                yield self._unit(tx)
        except WallDenied as denied:
            self._record_denial(denied)
            raise
