"""Two-person approval and wall holders under PostgreSQL row-level security (the app role, no bypass).

An owner's request, a second owner's decision, its use and break-glass alerts work
as the ordinary role the server connects as; platform admins request and decide
group withdrawals in workspaces they are not members of; with the application's
own filters removed, a transaction sees only its workspaces' approvals, only its
own alerts, and only the holders of walls touching its workspaces.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bastion.access import Actor
from bastion.services import alerts, approvals, queue, redaction, workforce, workspaces
from bastion.services.context import Unit
from bastion.storage import schema
from factories import as_user, co_owner, make_side, make_user, system


@pytest.fixture
def db_kind():
    from environment import require_postgres

    require_postgres()
    return "postgresql"


def _rows(rt, actor, table, *where):
    with rt.db.transaction(write=False) as tx:  # the service's scope, the application's filters left out
        return Unit(tx, rt, actor).tx.execute(select(func.count()).select_from(table).where(*where)).scalar()


def test_owners_request_decide_and_use_under_rls(rt):
    a, b = make_side(rt, "rla", 1), make_side(rt, "rlb", 1)
    with rt.db.transaction(write=False) as tx:  # the local operator's scope
        task_id = (
            Unit(tx, rt, Actor.system())
            .tx.execute(select(schema.tasks.c.id).where(schema.tasks.c.project_id == a.project_id))
            .scalar()
        )
    allowed = a.approval(rt, "redaction.reidentify", {"task": task_id})
    assert redaction.reidentify_task(a.ctx(rt, "owner"), task_id, approval=allowed)["id"] == task_id
    approvals.request(b.ctx(rt, "owner"), b.workspace_id, "keys.rotate", {}, "b's own")
    redaction.reidentify_task(a.ctx(rt, "owner"), task_id, break_glass="outage")
    second = co_owner(rt, a.workspace_id)
    assert alerts.list_alerts(as_user(rt, second))[0]["kind"] == "approval.break_glass"
    owner_a = as_user(rt, a.users["owner"]).actor
    A = schema.approvals
    assert _rows(rt, owner_a, A) == _rows(rt, owner_a, A, A.c.workspace_id == a.workspace_id) > 0
    assert _rows(rt, owner_a, A, A.c.workspace_id == b.workspace_id) == 0
    L = schema.alerts
    mine = _rows(rt, owner_a, L)
    assert mine == _rows(rt, owner_a, L, L.c.user_id == a.users["owner"]) > 0  # nobody else's alerts
    assert _rows(rt, as_user(rt, second).actor, L, L.c.user_id == a.users["owner"]) == 0


def test_admins_take_a_workspace_out_of_a_group_they_are_not_in(rt):
    a, b, c = make_side(rt, "rga", 1), make_side(rt, "rgb", 1), make_side(rt, "rgc", 1)
    admins = [as_user(rt, make_user(rt, f"rls.admin{i}@example.com", admin=True).id, is_admin=True) for i in range(2)]
    group = workforce.create_group(admins[0], "RLS sector")
    for side in (a, b):
        workforce.add_to_group(admins[0], group, side.workspace_id)
    asked = approvals.request(admins[0], b.workspace_id, "wall.remove", {"group": group}, "left the sector")
    approvals.decide(admins[1], asked["id"], approve=True)
    done = workforce.remove_from_group(admins[0], group, b.workspace_id, approval=asked["id"])
    assert [x["competitor"] for x in done["withdrawn"]] == [a.workspace_id]
    assert (
        workforce.list_conflicts(b.ctx(rt, "owner"), b.workspace_id)[0]["lifts_at"]
        == done["withdrawn"][0]["effective_at"]
    )
    # C's owner sees no holder of a wall between A and B.
    D = schema.conflict_declarations
    assert _rows(rt, as_user(rt, c.users["owner"]).actor, D) == 0
    assert _rows(rt, as_user(rt, a.users["owner"]).actor, D) == 1


def test_a_tie_to_a_competitor_is_seen_though_the_owner_cannot_see_it(rt):
    """The candidate's membership and history on the competitor are outside the adding owner's scope."""
    a, b = make_side(rt, "rta", 1), make_side(rt, "rtb", 1)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    member = make_user(rt, "member.of.b@example.com")
    workspaces.add_member(system(rt), b.workspace_id, member.id, "annotator")
    worked = make_user(rt, "worked.for.b@example.com")
    workspaces.add_member(system(rt), b.workspace_id, worked.id, "annotator")
    queue.next_task(as_user(rt, worked.id), b.project_id)
    workspaces.remove_member(system(rt), b.workspace_id, worked.id)  # history stays, membership goes
    from bastion.domain.errors import ApprovalRequired

    for person in (member, worked):
        with pytest.raises(ApprovalRequired):
            workspaces.add_member(a.ctx(rt, "owner"), a.workspace_id, person.email, "annotator")
