"""Two-person approval over every operation it guards: refused alone, allowed with an approval,
break-glass alone (marked in the log, every owner alerted); and the rules of requests and decisions.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select, update

from bastion.domain.errors import ApprovalRequired, Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.services import alerts, approvals, canaries, exports, keys, redaction, workforce, workspaces
from bastion.storage import schema
from factories import approval, as_user, co_owner, fold_audit, make_side, make_user, operator_tx, system

CANARY = {"text": "{name} reported {figure} on {date} in {place}."}


def _task_id(rt, side):
    with operator_tx(rt, write=False) as tx:
        return (
            tx.execute(
                select(schema.tasks.c.id)
                .where(schema.tasks.c.project_id == side.project_id)
                .order_by(schema.tasks.c.id)
            )
            .scalars()
            .first()
        )


def _competitor(rt, side):
    """A person who works for a competitor of ``side`` (adding them is a two-person operation)."""
    rival = make_side(rt, f"rival-{side.workspace_id[-6:]}", 0)
    workforce.add_conflict(side.ctx(rt, "owner"), side.workspace_id, rival.workspace_id)
    return rival.users["annotator"]


def _export(ctx, project_id, **extra):
    request = exports.ExportRequest(reidentify=True, **extra)
    return b"".join(exports.start_export(ctx, project_id, request=request).chunks())


# kind -> (prepare(rt, side) -> params, perform(ctx, side, params, approval, break_glass))
OPERATIONS = {
    "reidentify a task": (
        "redaction.reidentify",
        lambda rt, s: {"task": _task_id(rt, s)},
        lambda ctx, s, p, **kw: redaction.reidentify_task(ctx, p["task"], **kw),
    ),
    "export the originals": (
        "redaction.reidentify",
        lambda rt, s: {"project": s.project_id},
        lambda ctx, s, p, **kw: _export(ctx, p["project"], approval=kw["approval"], break_glass=kw["break_glass"]),
    ),
    "list canaries": (
        "canary.list",
        lambda rt, s: {"project": s.project_id},
        lambda ctx, s, p, **kw: canaries.list_canaries(ctx, p["project"], **kw),
    ),
    "read who had a canary": (
        "canary.list",
        lambda rt, s: {"canary": canaries.create_canary(s.ctx(rt, "owner"), s.project_id, CANARY)["id"]},
        lambda ctx, s, p, **kw: canaries.get_canary(ctx, p["canary"], **kw),
    ),
    "add a competitor's person": (
        "member.add_competitor",
        lambda rt, s: {"user": _competitor(rt, s), "role": "annotator"},
        lambda ctx, s, p, **kw: workspaces.add_member(ctx, s.workspace_id, p["user"], p["role"], **kw),
    ),
    "delete the workspace": (
        "workspace.delete",
        lambda rt, s: {},
        lambda ctx, s, p, **kw: workspaces.delete_workspace(ctx, s.workspace_id, **kw),
    ),
    "start new data keys": (
        "keys.rotate",
        lambda rt, s: {},
        lambda ctx, s, p, **kw: keys.start_new_data_keys(ctx, s.workspace_id, **kw),
    ),
    "re-encrypt a project": (
        "keys.reencrypt",
        lambda rt, s: {"project": s.project_id},
        lambda ctx, s, p, **kw: keys.reencrypt_project(ctx, p["project"], **kw),
    ),
    "withdraw a wall": (
        "wall.remove",
        lambda rt, s: {"competitor": _competitor_workspace(rt, s)},
        lambda ctx, s, p, **kw: workforce.remove_conflict(ctx, s.workspace_id, p["competitor"], **kw),
    ),
}


def _competitor_workspace(rt, side):
    rival = make_side(rt, f"wall-{side.workspace_id[-6:]}", 0)
    workforce.add_conflict(side.ctx(rt, "owner"), side.workspace_id, rival.workspace_id)
    return rival.workspace_id


def _log(rt, ws):
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
    return [orjson.loads(x) for x in leaves]


def test_every_guarded_operation_is_a_kind():
    assert {kind for kind, _, _ in OPERATIONS.values()} | {"approval.disable"} == set(approvals.KINDS)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_refused_alone_allowed_with_an_approval(rt, operation):
    kind, prepare, perform = OPERATIONS[operation]
    side = make_side(rt, "op", 2)
    params = prepare(rt, side)
    owner = side.ctx(rt, "owner")
    with pytest.raises(ApprovalRequired) as refused:
        perform(owner, side, params, approval=None, break_glass=None)
    assert refused.value.details == {"problem": "missing", "kind": kind, "params": params}
    allowed = side.approval(rt, kind, params)
    perform(owner, side, params, approval=allowed, break_glass=None)
    with operator_tx(rt, write=False) as tx:
        state = tx.execute(select(schema.approvals.c.state).where(schema.approvals.c.id == allowed)).scalar()
    if kind != "workspace.delete":  # (the workspace's approvals went with it)
        assert state == "used"
        used = [e for e in _log(rt, side.workspace_id) if e["action"] == "approval.used"]
        assert [e["target"] for e in used] == [allowed]
        assert used[0]["details"]["approved_by"] == co_owner(rt, side.workspace_id)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_break_glass_works_alone_is_marked_and_alerts_every_owner(rt, operation):
    kind, prepare, perform = OPERATIONS[operation]
    side = make_side(rt, "bg", 2)
    params = prepare(rt, side)
    second = co_owner(rt, side.workspace_id)
    before = {p: len(alerts.list_alerts(as_user(rt, p))) for p in (side.users["owner"], second)}
    with pytest.raises(InvalidInput, match="break_glass"):
        perform(side.ctx(rt, "owner"), side, params, approval=None, break_glass="  ")
    perform(side.ctx(rt, "owner"), side, params, approval=None, break_glass="the client's security team asked")
    if kind != "workspace.delete":
        marked = [e for e in _log(rt, side.workspace_id) if e["action"] == "approval.break_glass"]
        assert len(marked) == 1 and marked[0]["actor"] == side.users["owner"]
        assert marked[0]["details"] == {"kind": kind, "params": params, "reason": "the client's security team asked"}
    for person in (side.users["owner"], second):
        got = alerts.list_alerts(as_user(rt, person), unread_only=True)
        assert len(got) == before[person] + 1 and got[0]["kind"] == "approval.break_glass", person
        assert got[0]["workspace_id"] == side.workspace_id and kind in got[0]["message"]
    for role in ("manager", "annotator"):
        assert alerts.list_alerts(side.ctx(rt, role)) == []


@pytest.mark.parametrize("operation", ["reidentify a task", "delete the workspace", "withdraw a wall"])
def test_the_local_operator_needs_no_approval(rt, operation):
    _, prepare, perform = OPERATIONS[operation]
    side = make_side(rt, "sys", 2)
    params = prepare(rt, side)
    perform(system(rt), side, params, approval=None, break_glass=None)


def test_requests_and_decisions_follow_the_rules(rt):
    a, b = make_side(rt, "ra", 1), make_side(rt, "rb", 1)
    task_id = _task_id(rt, a)
    for role in ("manager", "reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            approvals.request(a.ctx(rt, role), a.workspace_id, "redaction.reidentify", {"task": task_id}, "x")
    with pytest.raises(NotFound):  # another workspace's owner: A does not exist for them
        approvals.request(b.ctx(rt, "owner"), a.workspace_id, "redaction.reidentify", {"task": task_id}, "x")
    with pytest.raises(NotFound, match="params.task"):  # B's owner naming A's task in B
        approvals.request(b.ctx(rt, "owner"), b.workspace_id, "redaction.reidentify", {"task": task_id}, "x")
    for kind, params, field in (
        ("nope", {}, "kind"),
        ("redaction.reidentify", {}, "params"),
        ("redaction.reidentify", {"task": task_id, "project": a.project_id}, "params"),
        ("member.add_competitor", {"user": "x", "role": "king"}, "params.role"),
        ("redaction.reidentify", {"task": 5}, "params.task"),
    ):
        with pytest.raises(InvalidInput, match=field):
            approvals.request(a.ctx(rt, "owner"), a.workspace_id, kind, params, "x")
    with pytest.raises(InvalidInput, match="reason"):
        approvals.request(a.ctx(rt, "owner"), a.workspace_id, "redaction.reidentify", {"task": task_id}, "")
    with pytest.raises(InvalidInput, match="local operator"):
        approvals.request(system(rt), a.workspace_id, "redaction.reidentify", {"task": task_id}, "x")

    second = co_owner(rt, a.workspace_id)
    asked = approvals.request(a.ctx(rt, "owner"), a.workspace_id, "redaction.reidentify", {"task": task_id}, "audit")
    assert [x["subject"] for x in alerts.list_alerts(as_user(rt, second))] == [asked["id"]]  # the decider is told
    for who in (a.ctx(rt, "manager"), a.ctx(rt, "auditor")):
        with pytest.raises(PermissionDenied):
            approvals.decide(who, asked["id"], approve=True)
    with pytest.raises(NotFound):
        approvals.decide(b.ctx(rt, "owner"), asked["id"], approve=True)
    with pytest.raises(PermissionDenied):  # a read-only token decides nothing
        approvals.decide(as_user(rt, second, read_only=True), asked["id"], approve=True)
    refused = approvals.decide(as_user(rt, second), asked["id"], approve=False, note="not without the DPO")
    assert refused["state"] == "refused" and refused["decided_by"] == second
    with pytest.raises(Conflict, match="already refused"):
        approvals.decide(as_user(rt, second), asked["id"], approve=True)
    with pytest.raises(ApprovalRequired) as error:
        redaction.reidentify_task(a.ctx(rt, "owner"), task_id, approval=asked["id"])
    assert error.value.details["problem"] == "refused"
    assert [x["kind"] for x in alerts.list_alerts(a.ctx(rt, "owner"))] == ["approval.refused"]
    with pytest.raises(InvalidInput, match="one or the other"):
        redaction.reidentify_task(a.ctx(rt, "owner"), task_id, approval=asked["id"], break_glass="x")
    actions = [e["action"] for e in _log(rt, a.workspace_id) if e["action"].startswith("approval.")]
    assert actions == ["approval.requested", "approval.refused"]


def test_an_approver_who_lost_the_authority_no_longer_counts(rt):
    side = make_side(rt, "demote", 1)
    task_id = _task_id(rt, side)
    allowed = side.approval(rt, "redaction.reidentify", {"task": task_id})
    workspaces.add_member(system(rt), side.workspace_id, co_owner(rt, side.workspace_id), "manager")
    with pytest.raises(ApprovalRequired) as error:
        redaction.reidentify_task(side.ctx(rt, "owner"), task_id, approval=allowed)
    assert error.value.details["problem"] == "approver"


def test_an_expired_request_cannot_be_approved_and_the_expiry_is_recorded(rt):
    side = make_side(rt, "exp", 1)
    asked = approvals.request(side.ctx(rt, "owner"), side.workspace_id, "keys.rotate", {}, "yearly rotation")
    with operator_tx(rt) as tx:  # its window has passed
        tx.execute(update(schema.approvals).values(expires_at=schema.approvals.c.requested_at))
    with pytest.raises(Conflict, match="expired"):
        approvals.decide(as_user(rt, co_owner(rt, side.workspace_id)), asked["id"], approve=True)
    assert approvals.get(side.ctx(rt, "owner"), asked["id"])["state"] == "expired"
    assert [e["target"] for e in _log(rt, side.workspace_id) if e["action"] == "approval.expired"] == [asked["id"]]


def test_two_person_approval_is_turned_off_only_through_an_approval(rt):
    side = make_side(rt, "flag", 1)
    task_id = _task_id(rt, side)
    owner = side.ctx(rt, "owner")
    with pytest.raises(ApprovalRequired):
        approvals.set_required(owner, side.workspace_id, False)
    with pytest.raises(PermissionDenied):
        approvals.set_required(side.ctx(rt, "manager"), side.workspace_id, False)
    approvals.set_required(owner, side.workspace_id, False, approval_id=side.approval(rt, "approval.disable"))
    assert approvals.setting(owner, side.workspace_id) == {"workspace_id": side.workspace_id, "enabled": False}
    assert redaction.reidentify_task(owner, task_id)["id"] == task_id  # one owner alone now
    approvals.set_required(owner, side.workspace_id, True)  # on again: no approval needed for that
    with pytest.raises(ApprovalRequired):
        redaction.reidentify_task(owner, task_id)
    changes = [
        e["details"]["enabled"] for e in _log(rt, side.workspace_id) if e["action"] == "approval.setting_changed"
    ]
    assert changes == [False, True]


def test_adding_a_person_without_ties_needs_no_approval(rt):
    side = make_side(rt, "plain", 0)
    newcomer = make_user(rt, "newcomer@example.com")
    workspaces.add_member(side.ctx(rt, "owner"), side.workspace_id, newcomer.email, "annotator")
    # Live history with a competitor is a tie even without membership there.
    rival = make_side(rt, "rival-h", 1)
    alumnus = make_user(rt, "alumnus.tie@example.com")
    workforce.record_prior_employment(system(rt), alumnus.email, rival.workspace_id, since=0, until=None)
    workforce.add_conflict(side.ctx(rt, "owner"), side.workspace_id, rival.workspace_id)
    with pytest.raises(ApprovalRequired):
        workspaces.add_member(side.ctx(rt, "owner"), side.workspace_id, alumnus.email, "annotator")
    allowed = approval(
        rt,
        side.workspace_id,
        "member.add_competitor",
        {"user": alumnus.email, "role": "annotator"},
        requester=side.users["owner"],
    )
    workspaces.add_member(side.ctx(rt, "owner"), side.workspace_id, alumnus.email, "annotator", approval=allowed)


def test_platform_admins_approve_deleting_a_workspace_they_do_not_own(rt):
    side = make_side(rt, "admdel", 1)
    admins = [make_user(rt, f"adm{i}.del@example.com", admin=True).id for i in range(2)]
    first, second = (as_user(rt, a, is_admin=True) for a in admins)
    with pytest.raises(ApprovalRequired):
        workspaces.delete_workspace(first, side.workspace_id)
    asked = approvals.request(first, side.workspace_id, "workspace.delete", {}, "the client's contract ended")
    assert asked["authority"] == "admins"
    with pytest.raises(PermissionDenied):  # the workspace's owners are not the authority for an admin's request
        approvals.decide(as_user(rt, co_owner(rt, side.workspace_id)), asked["id"], approve=True)
    # The owners see it in their list all the same, and the flag they control does not waive it.
    assert [a["id"] for a in approvals.list_approvals(side.ctx(rt, "owner"), side.workspace_id)] == [asked["id"]]
    approvals.decide(second, asked["id"], approve=True)
    workspaces.delete_workspace(first, side.workspace_id, approval=asked["id"])
    assert workspaces.get_tombstone(system(rt), side.workspace_id)["deleted_by"] == admins[0]
