"""Lifting a wall: only its holder withdraws it, with two-person approval, after a waiting period.

Time is the transaction clock (``storage.database.now_ms``), set by the ``clock``
fixture: nothing here sleeps.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from bastion.access import WallDenied
from bastion.domain.errors import ApprovalRequired, Conflict, NotFound, PermissionDenied
from bastion.services import approvals, queue, workforce, workspaces
from bastion.storage import schema
from factories import approval, as_user, co_owner, fold_audit, make_side, make_user, operator_tx, system

DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS


@pytest.fixture
def clock(monkeypatch):
    """The instant every transaction starts at, moved by hand."""
    from bastion.storage import database

    class Clock:
        now = database.now_ms()

        def advance(self, ms: int) -> None:
            self.now += ms

    clock = Clock()
    monkeypatch.setattr(database, "now_ms", lambda: clock.now)
    return clock


def _entries(rt, ws, action):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaves = (
            tx.execute(
                select(schema.audit_events.c.leaf)
                .where(schema.audit_events.c.workspace_id == ws)
                .order_by(schema.audit_events.c.seq)
            )
            .scalars()
            .all()
        )
    return [e for e in map(orjson.loads, leaves) if e["action"] == action]


@pytest.fixture
def walled(rt, clock):
    """A declared B a competitor; an expert bound to A is a member of B too."""
    a, b = make_side(rt, "ra", 2), make_side(rt, "rb", 2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    expert = make_user(rt, "expert.rm@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, expert.id, "annotator")
    assert queue.next_task(as_user(rt, expert.id), a.project_id) is not None
    return a, b, as_user(rt, expert.id)


def _refused(ctx, side):
    with pytest.raises(WallDenied):
        queue.next_task(ctx, side.project_id)


def test_the_other_side_and_other_roles_cannot_withdraw(rt, walled):
    a, b, expert = walled
    with pytest.raises(PermissionDenied, match="declared by the other workspace"):
        workforce.remove_conflict(b.ctx(rt, "owner"), b.workspace_id, a.workspace_id)
    with pytest.raises(NotFound):  # A's URL: B's owner is not a member of A
        workforce.remove_conflict(b.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    for role in ("manager", "reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            workforce.remove_conflict(a.ctx(rt, role), a.workspace_id, b.workspace_id)
    admin = make_user(rt, "root.rm@example.com", admin=True)
    with pytest.raises(NotFound):  # a platform admin is no owner of A
        workforce.remove_conflict(as_user(rt, admin.id, is_admin=True), a.workspace_id, b.workspace_id)
    # B's owner cannot get there by asking for an approval in A either.
    with pytest.raises(NotFound):
        approvals.request(b.ctx(rt, "owner"), a.workspace_id, "wall.remove", {"competitor": b.workspace_id}, "x")
    with pytest.raises(NotFound, match="declared no wall"):
        approvals.request(b.ctx(rt, "owner"), b.workspace_id, "wall.remove", {"competitor": a.workspace_id}, "x")
    _refused(expert, b)


def test_withdrawal_needs_an_approval_that_fits(rt, walled, clock):
    a, b, expert = walled
    owner = a.ctx(rt, "owner")
    params = {"competitor": b.workspace_id}
    with pytest.raises(ApprovalRequired) as missing:
        workforce.remove_conflict(owner, a.workspace_id, b.workspace_id)
    assert missing.value.details["problem"] == "missing"

    asked = approvals.request(owner, a.workspace_id, "wall.remove", params, "we merged with B")
    with pytest.raises(PermissionDenied, match="different person"):
        approvals.decide(owner, asked["id"], approve=True)
    with pytest.raises(ApprovalRequired) as pending:
        workforce.remove_conflict(owner, a.workspace_id, b.workspace_id, approval=asked["id"])
    assert pending.value.details["problem"] == "pending"
    second = co_owner(rt, a.workspace_id)
    approvals.decide(as_user(rt, second), asked["id"], approve=True)
    with pytest.raises(ApprovalRequired) as other:  # only the requester uses it
        workforce.remove_conflict(as_user(rt, second), a.workspace_id, b.workspace_id, approval=asked["id"])
    assert other.value.details["problem"] == "not_requester"

    # An approval for another wall does not fit this one.
    c = make_side(rt, "rc", 0)
    workforce.add_conflict(owner, a.workspace_id, c.workspace_id)
    for_c = approval(rt, a.workspace_id, "wall.remove", {"competitor": c.workspace_id}, requester=a.users["owner"])
    with pytest.raises(ApprovalRequired) as mismatch:
        workforce.remove_conflict(owner, a.workspace_id, b.workspace_id, approval=for_c)
    assert mismatch.value.details["problem"] == "mismatch"

    # Past its window it no longer works.
    late = approval(rt, a.workspace_id, "wall.remove", params, requester=a.users["owner"])
    clock.advance(int(rt.settings.approval_window_hours * 3600_000) + 1)
    with pytest.raises(ApprovalRequired) as expired:
        workforce.remove_conflict(owner, a.workspace_id, b.workspace_id, approval=late)
    assert expired.value.details["problem"] == "expired"
    assert {x["id"] for x in approvals.list_approvals(owner, a.workspace_id, state="expired")} >= {late}
    assert not _entries(rt, a.workspace_id, "approval.expired")  # a read writes nothing...
    approvals.request(owner, a.workspace_id, "keys.rotate", {}, "x")  # ...the workspace's next request records it
    assert {e["target"] for e in _entries(rt, a.workspace_id, "approval.expired")} >= {late, asked["id"]}

    fresh = approval(rt, a.workspace_id, "wall.remove", params, requester=a.users["owner"])
    result = workforce.remove_conflict(owner, a.workspace_id, b.workspace_id, approval=fresh)
    assert result["effective_at"] == clock.now + WEEK_MS and result["other_holders"] == []
    with pytest.raises(Conflict, match="already scheduled"):
        workforce.remove_conflict(owner, a.workspace_id, b.workspace_id, approval=fresh)
    # Used once: a second withdrawal (after declaring again) needs a new approval.
    workforce.add_conflict(owner, a.workspace_id, b.workspace_id)
    with pytest.raises(ApprovalRequired) as used:
        workforce.remove_conflict(owner, a.workspace_id, b.workspace_id, approval=fresh)
    assert used.value.details["problem"] == "used"
    _refused(expert, b)


def test_a_scheduled_withdrawal_holds_until_the_wait_ends_and_both_logs_show_it(rt, walled, clock):
    a, b, expert = walled
    allowed = a.approval(rt, "wall.remove", {"competitor": b.workspace_id})
    result = workforce.remove_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id, approval=allowed)
    due = clock.now + WEEK_MS
    for ws in (a.workspace_id, b.workspace_id):
        scheduled = _entries(rt, ws, "wall.removal_scheduled")
        assert [e["details"]["lifts_at"] for e in scheduled] == [due], ws
        assert scheduled[0]["details"]["approval"] == allowed
    listed = workforce.list_conflicts(b.ctx(rt, "owner"), b.workspace_id)
    assert listed[0]["lifts_at"] == due and listed[0]["holders"] == [
        {"holder": a.workspace_id, "withdrawal_effective_at": due}
    ]
    assert result["effective_at"] == due
    clock.advance(WEEK_MS - 1)
    _refused(expert, b)  # the wall holds for the whole wait
    clock.advance(1)
    assert queue.next_task(expert, b.project_id) is not None  # and falls at its instant, with no job running
    assert workforce.list_conflicts(b.ctx(rt, "owner"), b.workspace_id) == []


def test_the_other_side_consents_and_it_takes_effect_at_once(rt, walled):
    a, b, expert = walled
    with pytest.raises(Conflict, match="nothing to consent to"):
        workforce.consent_removal(b.ctx(rt, "owner"), b.workspace_id, a.workspace_id)
    workforce.remove_conflict(
        a.ctx(rt, "owner"),
        a.workspace_id,
        b.workspace_id,
        approval=a.approval(rt, "wall.remove", {"competitor": b.workspace_id}),
    )
    _refused(expert, b)
    with pytest.raises(PermissionDenied):
        workforce.consent_removal(b.ctx(rt, "manager"), b.workspace_id, a.workspace_id)
    with pytest.raises(NotFound):  # consenting for the side that withdrew is not a thing
        workforce.consent_removal(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    workforce.consent_removal(b.ctx(rt, "owner"), b.workspace_id, a.workspace_id)
    assert queue.next_task(expert, b.project_id) is not None
    for ws in (a.workspace_id, b.workspace_id):
        assert _entries(rt, ws, "wall.removal_consented")[0]["details"]["consented_by"] == b.workspace_id


def test_the_other_side_keeps_the_wall_by_declaring_it(rt, walled, clock):
    a, b, expert = walled
    workforce.remove_conflict(
        a.ctx(rt, "owner"),
        a.workspace_id,
        b.workspace_id,
        approval=a.approval(rt, "wall.remove", {"competitor": b.workspace_id}),
    )
    assert workforce.add_conflict(b.ctx(rt, "owner"), b.workspace_id, a.workspace_id)["added"]
    clock.advance(WEEK_MS + 1)
    _refused(expert, b)
    held = workforce.list_conflicts(a.ctx(rt, "owner"), a.workspace_id)[0]["holders"]
    assert held == [{"holder": b.workspace_id, "withdrawal_effective_at": None}]
    # A wall both sides declared stands until both have withdrawn: now B withdraws too.
    workforce.remove_conflict(
        b.ctx(rt, "owner"),
        b.workspace_id,
        a.workspace_id,
        approval=b.approval(rt, "wall.remove", {"competitor": a.workspace_id}),
    )
    clock.advance(WEEK_MS - 1)
    _refused(expert, b)
    clock.advance(1)
    assert queue.next_task(expert, b.project_id) is not None


def test_declaring_again_calls_off_ones_own_withdrawal(rt, walled, clock):
    a, b, expert = walled
    workforce.remove_conflict(
        a.ctx(rt, "owner"),
        a.workspace_id,
        b.workspace_id,
        approval=a.approval(rt, "wall.remove", {"competitor": b.workspace_id}),
    )
    assert workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)["added"]
    assert _entries(rt, b.workspace_id, "wall.removal_cancelled")
    clock.advance(WEEK_MS + 1)
    _refused(expert, b)


def test_break_glass_withdraws_alone_and_alerts_every_owner(rt, walled):
    a, b, _ = walled
    second = co_owner(rt, a.workspace_id)
    workforce.remove_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id, break_glass="the client asked")
    marked = _entries(rt, a.workspace_id, "approval.break_glass")
    assert marked[0]["details"]["kind"] == "wall.remove" and marked[0]["details"]["reason"] == "the client asked"
    from bastion.services import alerts

    for person in (a.users["owner"], second):
        got = alerts.list_alerts(as_user(rt, person))
        assert [x["kind"] for x in got] == ["approval.break_glass"], person
    assert alerts.list_alerts(a.ctx(rt, "manager")) == []


def test_a_group_wall_goes_only_when_admins_take_a_workspace_out(rt, clock):
    a, b, c = make_side(rt, "ga", 1), make_side(rt, "gb", 1), make_side(rt, "gc", 1)
    group = workforce.create_group(system(rt), "Sector")
    for side in (a, b, c):
        workforce.add_to_group(system(rt), group, side.workspace_id)
    expert = make_user(rt, "expert.grp@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, expert.id, "annotator")
    queue.next_task(as_user(rt, expert.id), a.project_id)
    for side, other in ((a, b), (b, a)):
        with pytest.raises(PermissionDenied, match="sector group"):
            workforce.remove_conflict(side.ctx(rt, "owner"), side.workspace_id, other.workspace_id)
    with pytest.raises(PermissionDenied):  # owners cannot take their workspace out
        workforce.remove_from_group(a.ctx(rt, "owner"), group, a.workspace_id)
    with pytest.raises(PermissionDenied):  # nor ask for it: admins decide
        approvals.request(a.ctx(rt, "owner"), a.workspace_id, "wall.remove", {"group": group}, "x")
    admin = make_user(rt, "admin.grp@example.com", admin=True)
    admin_ctx = as_user(rt, admin.id, is_admin=True)
    with pytest.raises(ApprovalRequired):
        workforce.remove_from_group(admin_ctx, group, b.workspace_id)
    asked = approvals.request(admin_ctx, b.workspace_id, "wall.remove", {"group": group}, "B left the sector")
    with pytest.raises(PermissionDenied):  # an owner of B is not the authority here
        approvals.decide(b.ctx(rt, "owner"), asked["id"], approve=True)
    with pytest.raises(PermissionDenied, match="different person"):
        approvals.decide(admin_ctx, asked["id"], approve=True)
    other_admin = make_user(rt, "admin2.grp@example.com", admin=True)
    approvals.decide(as_user(rt, other_admin.id, is_admin=True), asked["id"], approve=True)
    with pytest.raises(Conflict, match="still has workspaces"):
        workforce.delete_group(admin_ctx, group)
    done = workforce.remove_from_group(admin_ctx, group, b.workspace_id, approval=asked["id"])
    assert sorted(x["competitor"] for x in done["withdrawn"]) == sorted((a.workspace_id, c.workspace_id))
    _refused(as_user(rt, expert.id), b)  # waiting
    assert _entries(rt, b.workspace_id, "wall.removal_scheduled")
    clock.advance(WEEK_MS)
    assert queue.next_task(as_user(rt, expert.id), b.project_id) is not None
    assert [x["competitor"] for x in workforce.list_conflicts(a.ctx(rt, "owner"), a.workspace_id)] == [c.workspace_id]
