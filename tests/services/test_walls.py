"""Walls, exclusions, caps, skills, qualification tests and the cross-project queue, against the database."""

from __future__ import annotations

import concurrent.futures as futures

import orjson
import pytest
from sqlalchemy import select, update

from bastion.access import WallDenied
from bastion.domain.errors import Conflict, PermissionDenied
from bastion.services import annotations, imports, queue, tasks, workforce, workspaces
from bastion.storage import schema
from factories import add_tasks, as_user, fold_audit, make_project, make_side, make_user, operator_tx, system


def _member(rt, side, email, role="annotator", admin=False):
    user = make_user(rt, email, admin=admin)
    workspaces.add_member(system(rt), side.workspace_id, user.id, role)
    return user


def _actions(rt, ws):
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
    return [orjson.loads(x)["action"] for x in leaves]


@pytest.fixture
def rivals(rt):
    a, b, c = make_side(rt, "wa", 3), make_side(rt, "wb", 3), make_side(rt, "wc", 3)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    return a, b, c


def test_first_access_binds_and_the_other_side_is_walled(rt, rivals):
    a, b, c = rivals
    expert = make_user(rt, "expert@example.com")
    for side in (a, b, c):
        workspaces.add_member(system(rt), side.workspace_id, expert.id, "annotator")
    ctx = as_user(rt, expert.id)
    assert queue.next_task(ctx, a.project_id) is not None
    with pytest.raises(WallDenied, match="conflict-of-interest wall"):
        queue.next_task(ctx, b.project_id)
    assert queue.next_task(ctx, c.project_id) is not None  # not transitive: C competes with nobody
    assert "wall.bound" in _actions(rt, a.workspace_id)
    assert "wall.denied" in _actions(rt, b.workspace_id)  # the refusal is on the record, though it rolled back
    explained = workforce.explain(b.ctx(rt, "owner"), expert.email, b.workspace_id)
    assert not explained["allowed"] and explained["reasons"][0]["kind"] == "wall"
    assert explained["reasons"][0]["edge"]["other_workspace"] == a.workspace_id
    # Every point where data is shown is walled: reads, listings, exports.
    task_b = queue.next_task(b.ctx(rt, "annotator"), b.project_id)
    workspaces.add_member(system(rt), b.workspace_id, expert.id, "manager")
    for call in (
        lambda: tasks.get_task(ctx, task_b["id"]),
        lambda: tasks.list_tasks(ctx, b.project_id),
        lambda: annotations.list_annotations(ctx, task_b["id"]),
    ):
        with pytest.raises(WallDenied):
            call()
    from bastion.services import exports

    with pytest.raises(WallDenied):
        exports.start_export(ctx, b.project_id)


def test_platform_admins_are_walled_too(rt, rivals):
    a, b, _ = rivals
    admin = make_user(rt, "root@example.com", admin=True)
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, admin.id, "owner")
    ctx = as_user(rt, admin.id, is_admin=True)
    tasks.list_tasks(ctx, b.project_id)
    with pytest.raises(WallDenied):
        tasks.list_tasks(ctx, a.project_id)


def test_cooling_off_lifts_with_an_audit_event(rt):
    a, b = make_side(rt, "ca", 2), make_side(rt, "cb", 2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id, cooling_off_days=30)
    expert = _member(rt, a, "cool@example.com")
    workspaces.add_member(system(rt), b.workspace_id, expert.id, "annotator")
    queue.next_task(as_user(rt, expert.id), a.project_id)
    with pytest.raises(WallDenied):
        queue.next_task(as_user(rt, expert.id), b.project_id)
    explained = workforce.explain(system(rt), expert.id, b.workspace_id)
    assert explained["reasons"][0]["lifts_at"] > 0
    with operator_tx(rt) as tx:  # thirty-one days pass
        tx.execute(update(schema.person_history).values(last_at=schema.person_history.c.last_at - 31 * 86400_000))
    assert queue.next_task(as_user(rt, expert.id), b.project_id) is not None
    bound = [orjson.loads(x) for x in _leaves(rt, b.workspace_id) if b"wall.bound" in x][-1]
    assert bound["details"]["lifted"] == [a.workspace_id]
    with pytest.raises(WallDenied):  # and now A is walled: B's history is live
        queue.next_task(as_user(rt, expert.id), a.project_id)


def _leaves(rt, ws):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        return (
            tx.execute(
                select(schema.audit_events.c.leaf)
                .where(schema.audit_events.c.workspace_id == ws)
                .order_by(schema.audit_events.c.seq)
            )
            .scalars()
            .all()
        )


def test_a_conflict_cannot_put_someone_on_both_sides(rt):
    a, b = make_side(rt, "ba", 2), make_side(rt, "bb", 2)
    both = _member(rt, a, "both@example.com")
    workspaces.add_member(system(rt), b.workspace_id, both.id, "annotator")
    queue.next_task(as_user(rt, both.id), a.project_id)
    queue.next_task(as_user(rt, both.id), b.project_id)
    with pytest.raises(Conflict, match="both workspaces"):
        workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    with pytest.raises(PermissionDenied):
        workforce.add_conflict(a.ctx(rt, "manager"), a.workspace_id, b.workspace_id)


def test_declared_sides_and_prior_employment(rt, rivals):
    a, b, _ = rivals
    planned = _member(rt, a, "planned@example.com")
    workspaces.add_member(system(rt), b.workspace_id, planned.id, "annotator")
    workforce.declare_side(system(rt), planned.email, b.workspace_id, approved_by="Dana at Lab B")
    with pytest.raises(WallDenied):
        queue.next_task(as_user(rt, planned.id), a.project_id)
    with pytest.raises(Conflict):
        workforce.declare_side(system(rt), planned.email, a.workspace_id, approved_by="someone")
    alumnus = _member(rt, a, "alumnus@example.com")
    workforce.record_prior_employment(system(rt), alumnus.email, b.workspace_id, since=0, until=1)
    with pytest.raises(WallDenied):
        queue.next_task(as_user(rt, alumnus.id), a.project_id)
    assert workforce.history(as_user(rt, alumnus.id), alumnus.id)[0]["source"] == "prior"


def test_excluded_affiliations(rt):
    lab = make_side(rt, "ex", 3)
    workforce.add_exclusion(lab.ctx(rt, "owner"), lab.workspace_id, "Rival Capital", "investor")
    person = _member(rt, lab, "investor@example.com")
    ctx = as_user(rt, person.id)
    task = queue.next_task(ctx, lab.project_id)
    assert task is not None
    result = workforce.add_affiliation(system(rt), person.email, "rival capital", "investor")
    assert result["released_leases"] == 1  # the open lease ended in the same request
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(schema.tasks.c.lease_count).where(schema.tasks.c.id == task["id"])).scalar() == 0
    with pytest.raises(WallDenied, match="excluded affiliation"):
        queue.next_task(ctx, lab.project_id)
    with pytest.raises(WallDenied):
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    newcomer = make_user(rt, "lp@example.com")
    workforce.add_affiliation(system(rt), newcomer.email, "Rival Capital", "investor")
    with pytest.raises(Conflict, match="excludes"):
        workspaces.add_member(lab.ctx(rt, "owner"), lab.workspace_id, newcomer.email, "annotator")
    employee = make_user(rt, "staff@example.com")
    workforce.add_affiliation(system(rt), employee.email, "Rival Capital", "employer")
    workspaces.add_member(
        lab.ctx(rt, "owner"), lab.workspace_id, employee.email, "annotator"
    )  # only investors excluded


def test_need_to_know_caps(rt):
    side = make_side(rt, "cap", 10, settings={"max_tasks_per_person": 3, "max_tasks_per_day": 2})
    ctx = side.ctx(rt, "annotator")
    seen = []
    while (task := queue.next_task(ctx, side.project_id)) is not None:
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
        seen.append(task["id"])
    assert len(seen) == 2  # the daily cap first
    with operator_tx(rt) as tx:
        tx.execute(update(schema.assignments).values(created_at=0))  # a day later
    while (task := queue.next_task(ctx, side.project_id)) is not None:
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
        seen.append(task["id"])
    assert len(seen) == 3  # then the total cap


def test_skills_route_people(rt):
    side = make_side(rt, "sk", 2, settings={"required_skills": {"all": ["history:3"], "any": ["law", "finance:2"]}})
    ctx = side.ctx(rt, "annotator")
    with pytest.raises(PermissionDenied, match="needs skills: history:3"):
        queue.next_task(ctx, side.project_id)
    workforce.grant_skill(system(rt), side.users["annotator"], "history:4")
    with pytest.raises(PermissionDenied):
        queue.next_task(ctx, side.project_id)
    workforce.grant_skill(system(rt), side.users["annotator"], "finance:2")
    assert queue.next_task(ctx, side.project_id) is not None
    with pytest.raises(PermissionDenied):
        workforce.grant_skill(ctx, side.users["annotator"], "law:9")  # only admins grant


def test_qualification_test_grants_a_skill(rt, monkeypatch):
    side = make_side(rt, "qt", 0)
    test = make_project(
        rt,
        side.workspace_id,
        name="History test",
        settings={"qualification": {"grants": "history:3", "pass_score": 0.6, "retake_after_days": 7}},
    )
    items = [(i, {"data": {"text": f"q{i}"}, "gold": {"label": "pos" if i % 2 else "neg"}}) for i in range(1, 6)]
    report = imports.import_tasks(system(rt), test.id, items)
    assert report.imported == 5
    target = make_project(rt, side.workspace_id, name="Real work", settings={"required_skills": {"all": ["history:3"]}})
    add_tasks(rt, target.id, 2, prefix="real")
    people = [_member(rt, side, f"cand{i}@example.com") for i in range(2)]
    answers = {
        0: lambda text: "pos" if int(text[1:]) % 2 else "neg",  # all right
        1: lambda text: "neutral",
    }  # all wrong
    for i, person in enumerate(people):
        ctx = as_user(rt, person.id)
        while (task := queue.next_task(ctx, test.id)) is not None:
            annotations.submit_annotation(ctx, task["id"], {"label": answers[i](task["data"]["text"])})
    from bastion.services import qualification

    results = {r["email"]: r for r in qualification.results(side.ctx(rt, "manager"), test.id)}
    assert results["cand0@example.com"]["passed"] and results["cand0@example.com"]["correct"] == 5
    assert not results["cand1@example.com"]["passed"] and results["cand1@example.com"]["retake_after"]
    assert queue.next_task(as_user(rt, people[0].id), target.id) is not None  # the skill opened the project
    with pytest.raises(PermissionDenied):
        queue.next_task(as_user(rt, people[1].id), target.id)
    own = qualification.results(as_user(rt, people[1].id), test.id)
    assert [r["email"] for r in own] == ["cand1@example.com"]
    assert queue.next_task(as_user(rt, people[1].id), test.id) is None  # retake blocked for now
    with operator_tx(rt) as tx:
        tx.execute(update(schema.qualification_results).values(retake_after=0))
    assert queue.next_task(as_user(rt, people[1].id), test.id) is not None  # the retake starts afresh


def test_cross_project_queue_follows_priority_skills_and_walls(rt):
    a, b = make_side(rt, "qa", 0), make_side(rt, "qb", 0)
    low = make_project(rt, a.workspace_id, name="low", settings={"priority": 1})
    high = make_project(rt, a.workspace_id, name="high", settings={"priority": 5})
    skilled = make_project(
        rt, a.workspace_id, name="skilled", settings={"priority": 9, "required_skills": {"all": ["law"]}}
    )
    for p in (low, high, skilled):
        add_tasks(rt, p.id, 1, prefix=p.name)
    add_tasks(rt, b.project_id, 1, prefix="rival")
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    person = _member(rt, a, "router@example.com")
    workspaces.add_member(system(rt), b.workspace_id, person.id, "annotator")
    ctx = as_user(rt, person.id)
    first = queue.next_any(ctx)
    assert first["project_id"] == high.id
    assert queue.next_any(ctx)["id"] == first["id"]  # the held lease again
    annotations.submit_annotation(ctx, first["id"], {"label": "pos"})
    got = []
    while (task := queue.next_any(ctx)) is not None:
        got.append(task["project_id"])
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    # Then "low" — never the project needing a skill they lack, never the walled workspace B.
    assert got == [low.id]


def test_a_thousand_concurrent_first_accesses(rt):
    """500 people with empty history try two conflicting workspaces at once: nobody is bound to both."""
    a, b = make_side(rt, "ra", 0, settings={"overlap": 1}), make_side(rt, "rb", 0, settings={"overlap": 1})
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    people = 500
    add_tasks(rt, a.project_id, people, prefix="ta")
    add_tasks(rt, b.project_id, people, prefix="tb")
    ids = []
    for i in range(people):
        user = make_user(rt, f"racer{i}@example.com")
        ids.append(user.id)
    with operator_tx(rt) as tx:
        tx.execute(
            schema.memberships.insert(),
            [
                {"workspace_id": ws, "user_id": uid, "role": "annotator", "created_at": 0}
                for uid in ids
                for ws in (a.workspace_id, b.workspace_id)
            ],
        )

    def attempt(args):
        uid, project_id = args
        try:
            return uid, project_id, queue.next_task(as_user(rt, uid), project_id) is not None
        except WallDenied:
            return uid, project_id, False

    jobs = [
        (uid, p)
        for uid in ids
        for p in ((a.project_id, b.project_id) if hash(uid) % 2 else (b.project_id, a.project_id))
    ]
    with futures.ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, jobs))
    assert len(outcomes) == 2 * people
    wins: dict[str, int] = {}
    for uid, _, ok in outcomes:
        wins[uid] = wins.get(uid, 0) + ok
    assert all(count == 1 for count in wins.values()), [u for u, c in wins.items() if c != 1][:5]
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(
            select(schema.person_history.c.user_id, schema.person_history.c.workspace_id).where(
                schema.person_history.c.workspace_id.in_((a.workspace_id, b.workspace_id))
            )
        ).all()
    per_person: dict[str, set] = {}
    for uid, ws in rows:
        per_person.setdefault(uid, set()).add(ws)
    assert len(per_person) == people and all(len(v) == 1 for v in per_person.values())
