"""Tasks after import: change (one, many by a filter), delete, assign to a named person."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from bastion.access import WallDenied
from bastion.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.services import (
    annotations,
    files,
    imports,
    projects,
    queue,
    reviews,
    task_assignees,
    task_changes,
    tasks,
    workforce,
    workspaces,
)
from bastion.storage import schema
from factories import as_user, fold_audit, make_project, make_side, make_user, operator_tx, system

IMAGES = Path(__file__).resolve().parents[2] / "src" / "bastion" / "demo" / "data" / "images"


def _ids(rt, side) -> list[str]:
    return [t["id"] for t in tasks.list_tasks(side.ctx(rt, "owner"), side.project_id)["items"]]


def _audit(rt, workspace_id: str) -> list[dict]:
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaves = tx.execute(
            select(schema.audit_events.c.leaf)
            .where(schema.audit_events.c.workspace_id == workspace_id)
            .order_by(schema.audit_events.c.seq)
        ).scalars()
        return [orjson.loads(x) for x in leaves]


def test_patch_priority_predictions_meta_sealed_and_audited_without_values(rt):
    side = make_side(rt, "p", n_tasks=2)
    owner = side.ctx(rt, "owner")
    first, _ = _ids(rt, side)
    answer = task_changes.update_task(
        owner, first, {"priority": 7, "predictions": [{"label": "pos"}], "meta": {"source": "batch-9"}}
    )
    assert answer == {"id": first, "fields": ["priority", "predictions", "meta"]}
    task = tasks.get_task(owner, first)
    assert (task["priority"], task["predictions"], task["meta"]) == (7, [{"label": "pos"}], {"source": "batch-9"})
    assert task["data"] == {"text": "p 0"} and task["external_id"] == "p-0"
    with operator_tx(rt, write=False) as tx:
        row = tx.execute(select(schema.tasks.c.payload).where(schema.tasks.c.id == first)).scalar_one()
    assert b"batch-9" not in row  # sealed like at import
    event = next(e for e in _audit(rt, side.workspace_id) if e["action"] == "task.updated")
    assert event["details"]["fields"] == ["priority", "predictions", "meta"]
    assert "batch-9" not in orjson.dumps(event).decode()
    # predictions are checked by the task type; meta null removes it; [] removes the predictions
    with pytest.raises(InvalidInput, match="predictions"):
        task_changes.update_task(owner, first, {"predictions": [{"label": "nope"}]})
    with pytest.raises(InvalidInput, match="priority"):
        task_changes.update_task(owner, first, {"priority": 5000})
    with pytest.raises(InvalidInput, match="data: cannot be changed"):
        task_changes.update_task(owner, first, {"data": {"text": "x"}})
    task_changes.update_task(owner, first, {"meta": None, "predictions": []})
    task = tasks.get_task(owner, first)
    assert task["meta"] is None and task["predictions"] == []


def test_only_owners_and_managers_change_tasks_and_foreign_ids_are_not_found(rt):
    a, b = make_side(rt, "ra", n_tasks=1), make_side(rt, "rb", n_tasks=1)
    task_id = _ids(rt, a)[0]
    task_changes.update_task(a.ctx(rt, "manager"), task_id, {"priority": 1})
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises((PermissionDenied, NotFound)):
            task_changes.update_task(a.ctx(rt, role), task_id, {"priority": 2})
        with pytest.raises((PermissionDenied, NotFound)):
            task_changes.delete_task(a.ctx(rt, role), task_id)
    for call in (
        lambda: task_changes.update_task(b.ctx(rt, "owner"), task_id, {"priority": 2}),
        lambda: task_changes.delete_task(b.ctx(rt, "owner"), task_id),
        lambda: task_assignees.assign_task(b.ctx(rt, "owner"), task_id, "annotator.rb@example.com"),
        lambda: task_changes.update_tasks(b.ctx(rt, "owner"), a.project_id, {"ids": [task_id]}, {"priority": 1}),
    ):
        with pytest.raises(NotFound):
            call()


def test_bulk_patch_by_filter_in_one_transaction_with_a_limit(rt, monkeypatch):
    side = make_side(rt, "b", n_tasks=6)
    owner = side.ctx(rt, "owner")
    ids = _ids(rt, side)
    done = task_changes.update_tasks(owner, side.project_id, {"external_ids": ["b-1", "b-2"]}, {"priority": 3})
    assert done == {"updated": 2, "fields": ["priority"]}
    assert task_changes.update_tasks(owner, side.project_id, {"priority_min": 3}, {"meta": {"k": 1}})["updated"] == 2
    ann = side.ctx(rt, "annotator")
    task = queue.next_task(ann, side.project_id)
    annotations.submit_annotation(ann, task["id"], {"label": "pos"})
    answer = task_changes.update_tasks(owner, side.project_id, {"has_annotations": True}, {"priority": -1})
    assert answer["updated"] == 1
    # one bad task fails the whole change: nothing is written
    with pytest.raises(InvalidInput):
        task_changes.update_tasks(owner, side.project_id, {"ids": ids}, {"priority": 9, "predictions": [{"x": 1}]})
    assert all(t["priority"] != 9 for t in tasks.list_tasks(owner, side.project_id)["items"])
    monkeypatch.setattr(task_changes, "MAX_BULK", 3)
    with pytest.raises(InvalidInput, match="more than 3 tasks"):
        task_changes.update_tasks(owner, side.project_id, {"priority_max": 1000}, {"priority": 1})
    with pytest.raises(InvalidInput, match="filter"):
        task_changes.update_tasks(owner, side.project_id, {}, {"priority": 1})
    with pytest.raises(InvalidInput, match="filter.color"):
        task_changes.update_tasks(owner, side.project_id, {"color": "red"}, {"priority": 1})


def test_a_raised_priority_is_the_next_lease_at_once(rt):
    side = make_side(rt, "q", n_tasks=5)
    ann = side.ctx(rt, "annotator")
    first = queue.next_task(ann, side.project_id)
    annotations.submit_annotation(ann, first["id"], {"label": "pos"})
    second = queue.next_task(ann, side.project_id)  # the queue has a mark past the head now
    annotations.submit_annotation(ann, second["id"], {"label": "pos"})
    last = _ids(rt, side)[-1]
    task_changes.update_task(side.ctx(rt, "manager"), last, {"priority": 50})
    assert queue.next_task(ann, side.project_id)["id"] == last
    # and lowering one sends it after the others
    third, fourth = _ids(rt, side)[2:4]
    task_changes.update_task(side.ctx(rt, "owner"), third, {"priority": -5})
    assert queue.next_task(side.ctx(rt, "reviewer"), side.project_id)["id"] == fourth


def test_delete_takes_annotations_reviews_assignments_and_keeps_counts_right(rt):
    side = make_side(rt, "d", n_tasks=3, settings={"overlap": 1})
    owner = side.ctx(rt, "owner")
    ann = side.ctx(rt, "annotator")
    task = queue.next_task(ann, side.project_id)
    annotation = annotations.submit_annotation(ann, task["id"], {"label": "pos"})
    reviews.review_annotation(side.ctx(rt, "reviewer"), annotation["id"], "accept")
    counts = task_changes.delete_task(owner, task["id"])
    assert counts == {"tasks": 1, "annotations": 1, "reviews": 1, "assignments": 1, "files": 0}
    with pytest.raises(NotFound):
        tasks.get_task(owner, task["id"])
    project = projects.get_project(owner, side.project_id)
    assert (project.counts.tasks, project.counts.done, project.counts.annotations) == (2, 0, 0)
    event = next(e for e in _audit(rt, side.workspace_id) if e["action"] == "task.deleted")
    assert event["target"] == task["id"] and event["details"]["annotations"] == 1
    bulk = task_changes.delete_tasks(owner, side.project_id, {"external_ids": ["d-1", "d-2", "d-9"]})
    assert bulk["tasks"] == 2
    project = projects.get_project(owner, side.project_id)
    assert (project.counts.tasks, project.counts.done, project.counts.annotations) == (0, 0, 0)
    assert any(e["action"] == "tasks.deleted" for e in _audit(rt, side.workspace_id))
    with pytest.raises(NotFound):
        task_changes.delete_task(owner, task["id"])


def test_delete_removes_a_file_when_no_other_task_names_it(rt):
    owner = make_user(rt, "owner.f@example.com")
    ws = workspaces.create_workspace(system(rt), "Files", owner=owner.id)
    project = make_project(rt, ws.id, config={"type": "image", "box_labels": ["car", "tree"]})
    png = (IMAGES / "single_tree.png").read_bytes()
    shared = files.store_file(system(rt), project.id, png)
    imports.import_tasks(
        system(rt),
        project.id,
        [
            (1, {"data": {"image": shared.id}, "external_id": "a"}),
            (2, {"data": {"image": shared.id}, "external_id": "b"}),
        ],
    )
    ctx = as_user(rt, owner.id)
    first, second = (t["id"] for t in tasks.list_tasks(ctx, project.id)["items"])
    blob = rt.settings.files_dir / ws.id / shared.id
    assert task_changes.delete_task(ctx, first)["files"] == 0  # the other task still names it
    assert blob.exists()
    assert task_changes.delete_task(ctx, second)["files"] == 1
    assert not blob.exists()


def test_assigned_task_is_served_to_its_assignee_first_and_to_nobody_else(rt):
    side = make_side(rt, "a", n_tasks=3, settings={"overlap": 1})
    last = _ids(rt, side)[-1]
    given = task_assignees.assign_task(side.ctx(rt, "manager"), last, "annotator.a@example.com")
    assert given["user_id"] == side.users["annotator"]
    served = [queue.next_task(side.ctx(rt, "reviewer"), side.project_id)]
    annotations.submit_annotation(side.ctx(rt, "reviewer"), served[0]["id"], {"label": "pos"})
    served.append(queue.next_task(side.ctx(rt, "reviewer"), side.project_id))
    assert last not in {t["id"] for t in served}  # nobody else is served it
    assert queue.next_task(side.ctx(rt, "annotator"), side.project_id)["id"] == last
    assert any(e["action"] == "task.assigned" for e in _audit(rt, side.workspace_id))
    # assigning again is a no-op; a done task or an auditor cannot be given it
    task_assignees.assign_task(side.ctx(rt, "owner"), last, "annotator.a@example.com")
    with pytest.raises(Conflict, match="role auditor"):
        task_assignees.assign_task(side.ctx(rt, "owner"), _ids(rt, side)[0], "auditor.a@example.com")
    with pytest.raises(NotFound):
        task_assignees.assign_task(side.ctx(rt, "owner"), last, "nobody@example.com")


def test_clearing_or_leaving_the_workspace_returns_the_task_to_the_pool(rt):
    side = make_side(rt, "c", n_tasks=1, settings={"overlap": 1})
    (task_id,) = _ids(rt, side)
    owner = side.ctx(rt, "owner")
    task_assignees.assign_task(owner, task_id, "annotator.c@example.com")
    assert queue.next_task(side.ctx(rt, "reviewer"), side.project_id) is None
    assert task_assignees.unassign_task(owner, task_id) == {"id": task_id, "released": 1}
    assert any(e["action"] == "task.unassigned" for e in _audit(rt, side.workspace_id))
    task_assignees.assign_task(owner, task_id, "annotator.c@example.com")
    workspaces.remove_member(owner, side.workspace_id, side.users["annotator"])
    assert queue.next_task(side.ctx(rt, "reviewer"), side.project_id)["id"] == task_id


def test_a_person_walled_off_is_never_given_an_assigned_task(rt):
    a, b = make_side(rt, "wa", n_tasks=2), make_side(rt, "wb", n_tasks=2)
    workforce.add_conflict(a.ctx(rt, "owner"), a.workspace_id, b.workspace_id)
    expert = make_user(rt, "expert@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, expert.id, "annotator")
    task_b = _ids(rt, b)[0]
    # assigned before they touched either side; then they work for A and are walled off B
    task_assignees.assign_task(b.ctx(rt, "owner"), task_b, expert.email)
    assert queue.next_task(as_user(rt, expert.id), a.project_id) is not None
    with pytest.raises(WallDenied):
        queue.next_task(as_user(rt, expert.id), b.project_id)
    with pytest.raises(Conflict, match="walls"):
        task_assignees.assign_task(b.ctx(rt, "owner"), _ids(rt, b)[1], expert.email)
    with pytest.raises(PermissionDenied):
        tasks.get_task(as_user(rt, expert.id), task_b)  # nor can they read it by id
    task_assignees.unassign_task(b.ctx(rt, "owner"), task_b)
    assert queue.next_task(b.ctx(rt, "annotator"), b.project_id)["id"] == task_b


def test_assignment_respects_skills_and_caps(rt):
    side = make_side(rt, "s", n_tasks=3, settings={"max_tasks_per_person": 1})
    owner = side.ctx(rt, "owner")
    first, second, _ = _ids(rt, side)
    task_assignees.assign_task(owner, first, "annotator.s@example.com")
    with pytest.raises(Conflict, match="cap"):
        task_assignees.assign_task(owner, second, "annotator.s@example.com")
    projects.update_project(owner, side.project_id, settings={"required_skills": {"all": ["law"]}})
    with pytest.raises(Conflict, match="skills"):
        task_assignees.assign_task(owner, second, "reviewer.s@example.com")
