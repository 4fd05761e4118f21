"""Read paths pass the wall without becoming write transactions; reads of content and of the log are audited."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from bastion.access import FirstAccessRequired, WallDenied
from bastion.services import annotations, audit, projects, queue, reviews, workforce, workspaces
from bastion.services.context import Context
from bastion.storage import schema
from factories import add_tasks, as_user, fold_audit, make_side, make_user, operator_tx, system


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


def _history(rt, user_id):
    with operator_tx(rt, write=False) as tx:
        return {
            r.workspace_id: r
            for r in tx.execute(select(schema.person_history).where(schema.person_history.c.user_id == user_id)).all()
        }


@pytest.fixture
def rivals(rt):
    a, b = make_side(rt, "ra", 2), make_side(rt, "rb", 2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    person = make_user(rt, "reader@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "manager")
    return a, b, person


def test_a_read_unit_refusal_is_recorded_and_writes_nothing(rt, rivals):
    a, b, person = rivals
    ctx = as_user(rt, person.id)
    queue.next_task(ctx, a.project_id)  # bound to A
    with pytest.raises(WallDenied), ctx.read() as r:
        r.see_content(b.workspace_id)
    denied = [e for e in _log(rt, b.workspace_id) if e["action"] == "wall.denied"]
    assert len(denied) == 1 and denied[0]["actor"] == person.id and denied[0]["details"] == {"reasons": ["wall"]}
    assert set(_history(rt, person.id)) == {a.workspace_id}


def test_a_read_unit_binds_apart_only_when_the_request_may_bind(rt, rivals):
    a, b, person = rivals
    page_view = Context(rt, as_user(rt, person.id).actor, may_bind=False)
    with pytest.raises(FirstAccessRequired), page_view.read() as r:
        r.see_content(a.workspace_id)
    assert _history(rt, person.id) == {}
    with as_user(rt, person.id).read() as r:  # a token's or a form's read: the first access binds, on the record
        r.see_content(a.workspace_id)
    assert set(_history(rt, person.id)) == {a.workspace_id}
    assert [e["action"] for e in _log(rt, a.workspace_id)].count("wall.bound") == 1
    with page_view.read() as r:  # bound now: a page view shows it
        r.see_content(a.workspace_id)
    with pytest.raises(WallDenied), page_view.read() as r:
        r.see_content(b.workspace_id)


def test_config_reads_and_listings_are_audited_and_walled(rt, rivals):
    a, b, person = rivals
    ctx = as_user(rt, person.id)
    assert projects.get_project(ctx, a.project_id).config["labels"]
    assert len(projects.list_projects(ctx, a.workspace_id)) == 1
    actions = [(e["action"], e["target"], e["details"]) for e in _log(rt, a.workspace_id) if e["actor"] == person.id]
    assert ("project.read", a.project_id, {}) in actions
    assert ("projects.listed", a.workspace_id, {"count": 1}) in actions
    for call in (lambda: projects.get_project(ctx, b.project_id), lambda: projects.list_projects(ctx, b.workspace_id)):
        with pytest.raises(WallDenied):
            call()
    # The metadata listing (home page) shows names and counts across both, binding nothing, recording nothing.
    before = len(_log(rt, b.workspace_id))
    summaries = projects.list_project_summaries(ctx, b.workspace_id)
    assert [(s.id, s.name, s.counts.tasks) for s in summaries] == [(b.project_id, "Project rb", 2)]
    assert not hasattr(summaries[0], "config")
    assert len(_log(rt, b.workspace_id)) == before and b.workspace_id not in _history(rt, person.id)


def test_feedback_is_walled_and_audited(rt):
    side = make_side(rt, "fb", 2, settings={"quality": {"review": "all"}})
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)
    annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    item = reviews.review_next(side.ctx(rt, "reviewer"), side.project_id)
    reviews.review_annotation(side.ctx(rt, "reviewer"), item["annotation"]["id"], "reject", comment="look again")
    assert reviews.my_feedback(worker, side.workspace_id)[0]["review"]["comment"] == "look again"
    read = [e for e in _log(rt, side.workspace_id) if e["action"] == "feedback.read"]
    assert read[-1]["actor"] == side.users["annotator"] and read[-1]["details"] == {"count": 1}
    rival = make_side(rt, "fb-rival", 1)
    workforce.add_conflict(rival.ctx(rt, "owner"), rival.workspace_id, side.workspace_id)
    newcomer = make_user(rt, "fb.new@example.com")
    for ws in (rival.workspace_id, side.workspace_id):
        workspaces.add_member(system(rt), ws, newcomer.id, "annotator")
    queue.next_task(as_user(rt, newcomer.id), rival.project_id)
    with pytest.raises(WallDenied):
        reviews.my_feedback(as_user(rt, newcomer.id), side.workspace_id)


def test_reading_the_log_is_audited_and_polling_does_not_grow_it(rt):
    side = make_side(rt, "log", 0)
    add_tasks(rt, side.project_id, 3)
    owner = side.ctx(rt, "owner")
    size = len(_log(rt, side.workspace_id))
    page = audit.list_entries(owner, side.workspace_id, after=-1, limit=5000)
    assert len(page["items"]) == size
    after = len(_log(rt, side.workspace_id))
    assert after == size + 1 and _log(rt, side.workspace_id)[-1]["action"] == "audit.read"
    for _ in range(5):  # a client polling an unchanged log: the one record stands for all of them
        audit.list_entries(owner, side.workspace_id, after=page["items"][-1]["seq"])
        audit.latest_checkpoint(owner, side.workspace_id)
    assert len(_log(rt, side.workspace_id)) == after
    add_tasks(rt, side.project_id, 1)  # something happens: the next read is recorded again
    audit.list_entries(owner, side.workspace_id)
    assert [e["action"] for e in _log(rt, side.workspace_id)][-2:] == ["tasks.imported", "audit.read"]
    # Paging through the whole log ends, however small the pages.
    seen, cursor = 0, -1
    while cursor is not None:
        page = audit.list_entries(owner, side.workspace_id, after=cursor, limit=2)
        seen += len(page["items"])
        cursor = page["next_after"]
    assert seen >= after + 2
    auditor = side.ctx(rt, "auditor")
    audit.list_checkpoints(auditor, side.workspace_id)
    assert _log(rt, side.workspace_id)[-1]["actor"] == side.users["auditor"]
