"""The client's calls for tasks after import (change, delete, assign) against a real ``bastion serve``."""

from __future__ import annotations

import uuid

import pytest

from bastion.client import Client, InvalidInput, NotFound

CLASSIFICATION = {"type": "classification", "field": "text", "labels": ["pos", "neg"]}


@pytest.fixture
def admin(served):
    with Client(served.url, served.admin_token) as client:
        yield client


def test_update_delete_and_assign_through_the_client(admin):
    workspace = admin.create_workspace(f"Changes {uuid.uuid4().hex[:8]}")
    project = admin.create_project(workspace.id, "Tasks", CLASSIFICATION)
    admin.import_tasks(project.id, ({"data": {"text": f"text {i}"}, "external_id": f"t{i}"} for i in range(4)))
    first, *_ = admin.iter_tasks(project.id)
    changed = admin.update_task(first.id, priority=9, predictions=[{"label": "pos"}], meta={"k": 1})
    assert changed.fields == ["priority", "predictions", "meta"]
    task = admin.get_task(first.id)
    assert (task.priority, task.predictions, task.meta) == (9, [{"label": "pos"}], {"k": 1})
    assert admin.update_task(first.id, clear_meta=True).fields == ["meta"]
    assert admin.get_task(first.id).meta is None
    assert admin.update_tasks(project.id, external_ids=["t1", "t2"], priority=5).updated == 2
    with pytest.raises(InvalidInput):
        admin.update_tasks(project.id, priority=5)  # no filter
    with pytest.raises(InvalidInput):
        admin.update_task(first.id, predictions=[{"label": "maybe"}])
    with pytest.raises(NotFound):
        admin.assign_task(first.id, "nobody@example.com")
    assert admin.unassign_task(first.id).released == 0
    assert admin.delete_task(first.id).tasks == 1
    with pytest.raises(NotFound):
        admin.get_task(first.id)
    deleted = admin.delete_tasks(project.id, priority_min=5)
    assert (deleted.tasks, deleted.annotations) == (2, 0)
    assert [t.external_id for t in admin.iter_tasks(project.id)] == ["t3"]
    assert admin.get_project(project.id).counts.tasks == 1
