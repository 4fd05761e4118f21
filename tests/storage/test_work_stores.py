"""The stores of projects, tasks, annotations, leases and qualification results on both databases:
typed rows out, and every workspace-owned read or write kept to the workspace it names."""

from __future__ import annotations

from bastion.services import annotations, queue, workspaces
from bastion.storage import (
    annotations_store,
    projects_store,
    qualification_store,
    queue_store,
    review_store,
    tasks_store,
)
from factories import add_tasks, as_user, make_project, make_user, operator_tx, system


def _world(rt):
    """Two workspaces, each with a project of three tasks; one annotator in the first, who annotated one."""
    owner = make_user(rt, "owner.stores@example.com")
    worker = make_user(rt, "worker.stores@example.com")
    ws_a = workspaces.create_workspace(system(rt), "Stores A", owner=owner.id).id
    ws_b = workspaces.create_workspace(system(rt), "Stores B", owner=owner.id).id
    workspaces.add_member(system(rt), ws_a, worker.id, "annotator")
    project_a = make_project(rt, ws_a, name="A", settings={"overlap": 2})
    project_b = make_project(rt, ws_b, name="B")
    add_tasks(rt, project_a.id, 3, prefix="a")
    add_tasks(rt, project_b.id, 3, prefix="b")
    task = queue.next_task(as_user(rt, worker.id), project_a.id)
    annotations.submit_annotation(as_user(rt, worker.id), task["id"], {"label": "pos"})
    return ws_a, ws_b, project_a, project_b, worker.id, task["id"]


def test_project_rows_and_counters_are_typed_and_kept_to_their_workspace(rt):
    ws_a, ws_b, project_a, project_b, _worker, _task = _world(rt)
    with operator_tx(rt, write=False) as tx:
        [record] = projects_store.list_projects(tx, workspace_id=ws_a)
        assert (record.id, record.workspace_id, record.name, record.overlap) == (project_a.id, ws_a, "A", 2)
        assert projects_store.settings_of(record).overlap == 2
        assert [p.id for p in projects_store.list_project_names(tx, workspace_id=ws_b)] == [project_b.id]
        counts = projects_store.sum_counts(tx, [project_a.id, project_b.id], workspace_id=ws_a)
        assert list(counts) == [project_a.id]  # project B's counters are another workspace's
        assert (counts[project_a.id].tasks, counts[project_a.id].annotations) == (3, 1)
        ranked = projects_store.list_projects_by_priority(tx, workspace_ids=[ws_a, ws_b])
        assert {(p.id, p.workspace_id) for p in ranked} == {(project_a.id, ws_a), (project_b.id, ws_b)}
    with operator_tx(rt) as tx:
        projects_store.delete_project(tx, project_b.id, workspace_id=ws_a)  # the wrong workspace: nothing goes
        assert projects_store.find_project(tx, project_b.id, user_id=None).name == "B"


def test_task_pages_and_counts_are_typed_and_kept_to_their_workspace(rt):
    ws_a, _ws_b, project_a, project_b, _worker, _task = _world(rt)
    with operator_tx(rt, write=False) as tx:
        page = tasks_store.list_task_page(tx, project_a.id, workspace_id=ws_a, after="", limit=2)
        assert [type(row) for row in page] == [tasks_store.TaskRow] * 2
        assert all(row.workspace_id == ws_a and row.project_id == project_a.id and not row.held for row in page)
        after = tasks_store.list_task_page(tx, project_a.id, workspace_id=ws_a, after=page[-1].id, limit=10)
        assert len(after) == 1 and after[0].id > page[-1].id
        assert tasks_store.list_task_page(tx, project_b.id, workspace_id=ws_a, after="", limit=10) == []
        assert tasks_store.has_tasks(tx, project_a.id, workspace_id=ws_a)
        assert not tasks_store.has_tasks(tx, project_b.id, workspace_id=ws_a)


def test_annotations_and_leases_are_typed_and_kept_to_their_workspace(rt):
    ws_a, ws_b, project_a, _project_b, worker, task_id = _world(rt)
    with operator_tx(rt, write=False) as tx:
        [row] = annotations_store.list_task_annotations(tx, task_id, workspace_id=ws_a)
        assert (row.task_id, row.user_id, row.project_id, row.review_status) == (task_id, worker, project_a.id, "none")
        assert annotations_store.list_task_annotations(tx, task_id, workspace_id=ws_b) == []
        assert annotations_store.list_task_annotations(tx, task_id, workspace_id=ws_a, user_id="usr_other") == []
        [answer] = annotations_store.list_answers(tx, project_a.id, workspace_id=ws_a, user_id=worker)
        assert (answer.task_id, answer.id) == (task_id, row.id)
        assert review_store.find_annotation(tx, row.id, user_id=None) == row
        assert review_store.find_annotation(tx, row.id, user_id="usr_stranger") is None
        mine = queue_store.find_assignment(tx, task_id, workspace_id=ws_a, user_id=worker)
        assert mine.state == "submitted"
        assert queue_store.find_assignment(tx, task_id, workspace_id=ws_b, user_id=worker) is None
        assert queue_store.count_assignments(tx, project_a.id, workspace_id=ws_a, user_id=worker) == 1
        assert queue_store.count_assignments(tx, project_a.id, workspace_id=ws_b, user_id=worker) == 0
        assert queue_store.find_live_lease(tx, project_a.id, workspace_id=ws_a, user_id=worker, now=tx.now) is None
        history = review_store.annotator_history(tx, project_a.id, workspace_id=ws_a, user_id=worker)
        assert (history.annotations, history.accepted, history.gold_answers) == (1, 0, 0)
    with operator_tx(rt) as tx:
        assert annotations_store.delete_answers(tx, project_a.id, workspace_id=ws_b, user_id=worker) == 0
        assert annotations_store.delete_answers(tx, project_a.id, workspace_id=ws_a, user_id=worker) == 1


def test_a_qualification_result_is_replaced_and_listed_with_the_email(rt):
    ws_a, ws_b, project_a, _project_b, worker, _task = _world(rt)
    with operator_tx(rt) as tx:
        for passed in (False, True):
            qualification_store.replace_result(
                tx,
                project_a.id,
                workspace_id=ws_a,
                user_id=worker,
                correct=2,
                total=3,
                passed=passed,
                taken_at=tx.now,
                retake_after=None,
            )
    with operator_tx(rt, write=False) as tx:
        result = qualification_store.find_result(tx, project_a.id, workspace_id=ws_a, user_id=worker)
        assert (result.correct, result.total, result.passed) == (2, 3, True)
        assert qualification_store.find_result(tx, project_a.id, workspace_id=ws_b, user_id=worker) is None
        [graded] = qualification_store.list_results(tx, project_a.id, workspace_id=ws_a)
        assert (graded.email, graded.passed) == ("worker.stores@example.com", True)
        assert qualification_store.list_results(tx, project_a.id, workspace_id=ws_a, user_id="usr_other") == []
