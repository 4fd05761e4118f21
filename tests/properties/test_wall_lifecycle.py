"""Walls over time, through the real services on SQLite: a Hypothesis state machine.

Owners declare and withdraw walls (with a second owner's approval, or break-glass),
the other side consents or keeps a wall by declaring it, platform admins put
workspaces into a sector group and take them out (two admins), people join
workspaces across competitors (an approval where they are tied to a competitor),
and are shown tasks — first accesses, refreshed ones, reads of leased tasks —
while time passes.

The machine keeps its own model of who holds which wall (and until when) and of
what each person was shown (``shown``: the instant of their last successful
access per workspace). After every step:

* the walls standing in the database are exactly those the model's holders keep
  up — so a wall falls only when its holders withdrew it and the waiting period
  passed, or the other side consented;
* no person holds live history on both ends of a standing wall, judged from what
  they were actually shown (and the database's history agrees with it);
* every access was allowed or refused exactly as the rule says (a refusal only
  where a live wall stands), and adding a person tied to a competitor needed an
  approval exactly when a tie existed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bastion.access import WallDenied
from bastion.domain.errors import ApprovalRequired, Conflict, NotFound, PermissionDenied
from bastion.services import approvals, queue, tasks, workforce, workspaces
from bastion.storage import database, schema
from environment import make_settings
from factories import add_tasks, as_user, make_project, make_user, system

HOUR = 3600 * 1000
DAY = 24 * HOUR
WAIT = 7 * DAY  # the default wall_removal_wait_days
N_WS, N_PEOPLE = 3, 3
WS, PEOPLE = st.integers(0, N_WS - 1), st.integers(0, N_PEOPLE - 1)
_template: list[Path] = []


def _template_db() -> Path:
    """One migrated SQLite database for the whole module, copied for each run of the machine."""
    if not _template:
        from bastion.storage import migrate
        from bastion.storage.database import Database

        path = Path(tempfile.mkdtemp(prefix="walls-template-")) / "bastion.db"
        db = Database(f"sqlite:///{path}")
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        _template.append(path)
    return _template[0]


def _live(last_at: int | None, cooling: int | None, now: int) -> bool:
    return last_at is not None and (cooling is None or last_at + cooling > now)


class WallLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from bastion.services.runtime import Runtime

        self.dir = Path(tempfile.mkdtemp(prefix="walls-machine-"))
        target = self.dir / "data" / "bastion.db"
        target.parent.mkdir(parents=True)
        shutil.copy(_template_db(), target)
        self.now = database.now_ms()
        self._real_now = database.now_ms
        database.now_ms = lambda: self.now  # the transaction clock: every rule's "now"
        self.rt = Runtime.open(make_settings(self.dir, f"sqlite:///{target}"), migrate_schema="never")
        rt = self.rt
        self.owners, self.seconds, self.ws, self.projects = [], [], [], []
        for i in range(N_WS):
            owner, second = make_user(rt, f"owner{i}@example.com"), make_user(rt, f"second{i}@example.com")
            ws = workspaces.create_workspace(system(rt), f"W{i}", owner=owner.id)
            workspaces.add_member(system(rt), ws.id, second.id, "owner")
            project = make_project(rt, ws.id, settings={"overlap": N_PEOPLE})
            add_tasks(rt, project.id, 8, prefix=f"w{i}")
            self.owners.append(owner.id)
            self.seconds.append(second.id)
            self.ws.append(ws.id)
            self.projects.append(project.id)
        self.people = [make_user(rt, f"person{p}@example.com").id for p in range(N_PEOPLE)]
        self.admins = [make_user(rt, f"admin{k}@example.com", admin=True).id for k in range(2)]
        self.group = workforce.create_group(system(rt), "Sector")
        # The model.
        self.holders: dict[
            tuple[str, str], dict[str, tuple[int | None, int | None]]
        ] = {}  # pair -> holder -> (cooling, lifts_at)
        self.in_group: set[int] = set()
        self.members: dict[int, set[int]] = {p: set() for p in range(N_PEOPLE)}
        self.shown: dict[int, dict[int, int]] = {p: {} for p in range(N_PEOPLE)}  # person -> ws index -> last access
        self.leased: dict[tuple[int, int], str] = {}

    def teardown(self) -> None:
        database.now_ms = self._real_now
        self.rt.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model ---------------------------------------------------------------

    def _pair(self, i: int, j: int) -> tuple[str, str]:
        return tuple(sorted((self.ws[i], self.ws[j])))  # type: ignore[return-value]

    def _standing(self, pair) -> dict[str, tuple[int | None, int | None]]:
        return {h: v for h, v in self.holders.get(pair, {}).items() if v[1] is None or v[1] > self.now}

    def _cooling(self, held) -> int | None:
        coolings = [c for c, _ in held.values()]
        return None if None in coolings else max(coolings)

    def _edges(self) -> dict[tuple[str, str], int | None]:
        return {pair: self._cooling(held) for pair in self.holders if (held := self._standing(pair))}

    def _walled(self, p: int, i: int) -> bool:
        """Would the rule refuse person p workspace i now (from what they were shown)?"""
        edges = self._edges()
        return any(
            _live(self.shown[p].get(j), edges[pair], self.now)
            for j in range(N_WS)
            if j != i and (pair := self._pair(i, j)) in edges
        )

    def _tied(self, p: int, i: int) -> bool:
        edges = self._edges()
        return any(
            j in self.members[p] or _live(self.shown[p].get(j), edges[pair], self.now)
            for j in range(N_WS)
            if j != i and (pair := self._pair(i, j)) in edges
        )

    def _both_sides_under(self, i: int, j: int, cooling: int | None) -> bool:
        return any(
            _live(self.shown[p].get(i), cooling, self.now) and _live(self.shown[p].get(j), cooling, self.now)
            for p in range(N_PEOPLE)
        )

    def _hold(self, pair, holder: str, cooling: int | None) -> None:
        held = self.holders.setdefault(pair, {})
        current = self._standing(pair).get(holder)
        held[holder] = (current[0], None) if current is not None else (cooling, None)

    def _approved(self, i: int, kind: str, params: dict) -> str:
        asked = approvals.request(as_user(self.rt, self.owners[i]), self.ws[i], kind, params, "machine")
        approvals.decide(as_user(self.rt, self.seconds[i]), asked["id"], approve=True)
        return asked["id"]

    # -- rules ---------------------------------------------------------------------

    @initialize(
        walls=st.sets(st.sampled_from([(0, 1), (1, 0), (1, 2), (0, 2)]), max_size=2),
        memberships=st.lists(st.tuples(PEOPLE, WS), min_size=3, max_size=9),
    )
    def start(self, walls, memberships):
        """Some walls and memberships to begin with (the local operator adds members: no approval)."""
        for i, j in walls:
            self.declare(i, j, None)
        for p, i in sorted(set(memberships)):
            workspaces.add_member(system(self.rt), self.ws[i], self.people[p], "annotator")
            self.members[p].add(i)

    @rule(i=WS, j=WS, cooling=st.sampled_from([None, HOUR, 2 * DAY]))
    def declare(self, i, j, cooling):
        if i == j:
            return
        pair, holder = self._pair(i, j), self.ws[i]
        held = self._standing(pair)
        after = {**held, holder: held.get(holder, (cooling, None))}
        try:
            workforce.add_conflict(
                as_user(self.rt, self.owners[i]),
                self.ws[i],
                self.ws[j],
                cooling_off_days=None if cooling is None else cooling / DAY,
            )
        except Conflict:
            assert self._both_sides_under(i, j, self._cooling(after)), "a declaration refused for no one"
            event("declaration refused: someone on both sides")
            return
        assert not (holder not in held and self._both_sides_under(i, j, self._cooling(after)))
        self._hold(pair, holder, cooling)

    def _declared(self, scheduled: bool) -> list[tuple[int, int]]:
        """(declaring side, other side) of the standing declarations, scheduled for withdrawal or not."""
        index = {ws: i for i, ws in enumerate(self.ws)}
        return sorted(
            (index[h], index[b if h == a else a])
            for (a, b) in self.holders
            for h, (_, lifts_at) in self._standing((a, b)).items()
            if h in index and (lifts_at is not None) == scheduled
        )

    @rule(k=st.integers(0, 5), glass=st.booleans())
    def withdraw(self, k, glass):
        """A declaring side's owners withdraw its declaration (approved by a second owner, or break-glass)."""
        held = self._declared(scheduled=False)
        if not held:
            return
        i, j = held[k % len(held)]
        pair = self._pair(i, j)
        kw = (
            {"break_glass": "machine"}
            if glass
            else {"approval": self._approved(i, "wall.remove", {"competitor": self.ws[j]})}
        )
        result = workforce.remove_conflict(as_user(self.rt, self.owners[i]), self.ws[i], self.ws[j], **kw)
        assert result["effective_at"] == self.now + WAIT
        self.holders[pair][self.ws[i]] = (self.holders[pair][self.ws[i]][0], self.now + WAIT)
        event("withdrawal scheduled")

    @rule(i=WS, j=WS)
    def attack(self, i, j):
        """i's owner tries to lift the wall with j where i holds no declaration of its own (break-glass even)."""
        if i == j:
            return
        held = self._standing(self._pair(i, j))
        if self.ws[i] in held and held[self.ws[i]][1] is None:
            return  # i's own declaration: that is a withdrawal
        before = self._edges()
        try:
            workforce.remove_conflict(as_user(self.rt, self.owners[i]), self.ws[i], self.ws[j], break_glass="attack")
        except (PermissionDenied, NotFound, Conflict) as refused:
            expected = Conflict if self.ws[i] in held else (PermissionDenied if held else NotFound)
            assert type(refused) is expected, (refused, held)
        else:
            raise AssertionError("a wall lifted by a workspace that does not hold it")
        assert self._edges() == before
        event(f"withdrawal refused: {expected.__name__}")

    @rule(k=st.integers(0, 5), stray=st.booleans())
    def consent(self, k, stray):
        """The other side's owner agrees to a scheduled withdrawal (or, stray, to one that is not scheduled)."""
        scheduled = self._declared(scheduled=True)
        if stray or not scheduled:
            j, i = k % N_WS, (k + 1) % N_WS
            theirs = self._standing(self._pair(i, j)).get(self.ws[j])
            if theirs is not None and theirs[1] is not None:
                return
            try:
                workforce.consent_removal(as_user(self.rt, self.owners[i]), self.ws[i], self.ws[j])
            except (Conflict, NotFound):
                return
            raise AssertionError("consented to a withdrawal nobody scheduled")
        j, i = scheduled[k % len(scheduled)]
        workforce.consent_removal(as_user(self.rt, self.owners[i]), self.ws[i], self.ws[j])
        del self.holders[self._pair(i, j)][self.ws[j]]
        event("consented")

    @rule(dt=st.sampled_from([HOUR, DAY, 3 * DAY, WAIT]))
    def wait(self, dt):
        self.now += dt

    @rule(i=WS)
    def join_group(self, i):
        members = sorted(self.in_group)
        admin = as_user(self.rt, self.admins[0], is_admin=True)
        if i in self.in_group:
            assert workforce.add_to_group(admin, self.group, self.ws[i]) == 0
            return
        others = [m for m in members if m != i]
        try:
            workforce.add_to_group(admin, self.group, self.ws[i])
        except Conflict:
            assert any(
                self._both_sides_under(i, m, self._cooling({**self._standing(self._pair(i, m)), "g": (None, None)}))
                for m in others
            )
            return
        for m in others:
            self._hold(self._pair(i, m), f"group:{self.group}", None)
        self.in_group.add(i)

    @rule(i=WS)
    def leave_group(self, i):
        admin = as_user(self.rt, self.admins[0], is_admin=True)
        if i not in self.in_group:
            try:
                workforce.remove_from_group(admin, self.group, self.ws[i], break_glass="x")
            except NotFound:
                return
            raise AssertionError("left a group it was not in")
        asked = approvals.request(admin, self.ws[i], "wall.remove", {"group": self.group}, "machine")
        approvals.decide(as_user(self.rt, self.admins[1], is_admin=True), asked["id"], approve=True)
        workforce.remove_from_group(admin, self.group, self.ws[i], approval=asked["id"])
        holder = f"group:{self.group}"
        for m in self.in_group - {i}:
            pair = self._pair(i, m)
            held = self._standing(pair).get(holder)
            if held is not None and held[1] is None:
                self.holders[pair][holder] = (held[0], self.now + WAIT)
        self.in_group.discard(i)
        event("left the group")

    @rule(p=PEOPLE, i=WS, glass=st.booleans())
    def join(self, p, i, glass):
        if i in self.members[p]:
            return
        tied, owner = self._tied(p, i), as_user(self.rt, self.owners[i])
        try:
            workspaces.add_member(owner, self.ws[i], self.people[p], "annotator")
        except ApprovalRequired:
            assert tied, "an approval asked for a person with no tie to a competitor"
            event("member tied to a competitor")
            kw = (
                {"break_glass": "machine"}
                if glass
                else {
                    "approval": self._approved(
                        i, "member.add_competitor", {"user": self.people[p], "role": "annotator"}
                    )
                }
            )
            workspaces.add_member(owner, self.ws[i], self.people[p], "annotator", **kw)
        else:
            assert not tied, "a person tied to a competitor added without an approval"
        self.members[p].add(i)

    def _show(self, p, i, call):
        walled = self._walled(p, i)
        try:
            result = call()
        except WallDenied:
            assert walled, "refused with no live wall"
            event("access refused by a wall")
            return None
        assert not walled, "shown data across a live wall"
        event("access allowed")
        self.shown[p][i] = self.now
        return result

    def _membership(self, k: int) -> tuple[int, int] | None:
        pairs = sorted((p, i) for p, joined in self.members.items() for i in joined)
        return pairs[k % len(pairs)] if pairs else None

    @rule(k=st.integers(0, 8))
    def next_task(self, k):
        """A member asks for their next task: a first access binds, a later one refreshes."""
        if (chosen := self._membership(k)) is None:
            return
        p, i = chosen
        task = self._show(p, i, lambda: queue.next_task(as_user(self.rt, self.people[p]), self.projects[i]))
        if task is not None:
            self.leased[(p, i)] = task["id"]

    @rule(k=st.integers(0, 8))
    def read_leased(self, k):
        """A member reads a task they were leased (walls decide again: one may have risen since)."""
        if self.leased:
            p, i = sorted(self.leased)[k % len(self.leased)]
            self._show(p, i, lambda: tasks.get_task(as_user(self.rt, self.people[p]), self.leased[(p, i)]))

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def walls_stand_exactly_as_their_holders_keep_them(self):
        from bastion.storage import workforce_store as store

        with self.rt.db.transaction(write=False) as tx:
            standing = {(e.a, e.b): e.cooling_off_ms for ws in self.ws for e in store.list_edges(tx, ws, self.now)}
        assert standing == self._edges()

    @invariant()
    def nobody_holds_live_history_on_both_ends_of_a_standing_wall(self):
        edges = self._edges()
        index = {ws: i for i, ws in enumerate(self.ws)}
        for (a, b), cooling in edges.items():
            for p in range(N_PEOPLE):
                assert not (
                    _live(self.shown[p].get(index[a]), cooling, self.now)
                    and _live(self.shown[p].get(index[b]), cooling, self.now)
                ), (p, a, b)
        with self.rt.db.transaction(write=False) as tx:
            rows = tx.execute(schema.person_history.select()).all()
        recorded = {(r.user_id, r.workspace_id): r.last_at for r in rows}
        assert recorded == {
            (self.people[p], self.ws[i]): at for p in range(N_PEOPLE) for i, at in self.shown[p].items()
        }


WallLifecycle.TestCase.settings = settings(
    max_examples=35,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestWallLifecycle = WallLifecycle.TestCase
