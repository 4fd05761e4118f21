"""The client's calls for operations against a real ``bastion serve`` (SQLite and PostgreSQL): the event
feed, webhooks, jobs and deactivating a person. Each server of this module is its own (a person is
deactivated here)."""

from __future__ import annotations

import uuid

import pytest

from async_support import run_async
from bastion.client import AsyncClient, Client, Conflict, NotFound, PermissionDenied, Unauthenticated
from webhook_receiver import start_receiver

CLASSIFICATION = {"type": "classification", "field": "text", "labels": ["pos", "neg"]}


@pytest.fixture
def admin(served):
    with Client(served.url, served.admin_token) as client:
        yield client


def _project_with_tasks(admin, n=7):
    workspace = admin.create_workspace(f"Ops {uuid.uuid4().hex[:8]}")
    project = admin.create_project(workspace.id, "Tasks", CLASSIFICATION)
    admin.import_tasks(project.id, [{"data": {"text": f"text {i}"}} for i in range(n)])
    return workspace, project


def test_events_are_read_in_order_through_every_page(admin):
    workspace, project = _project_with_tasks(admin)
    for i in range(4):  # five imports, five events
        admin.import_tasks(project.id, [{"data": {"text": f"more {i}"}}])
    events = list(admin.iter_events(workspace.id, page_size=2))
    assert [e.kind for e in events] == ["tasks.imported"] * 5
    assert [e.seq for e in events] == sorted(e.seq for e in events) and len({e.seq for e in events}) == 5
    assert events[0].data["count"] == 7 and events[0].subject == project.id
    # after a cursor: only what came later
    assert [e.seq for e in admin.iter_events(workspace.id, after=events[2].seq)] == [e.seq for e in events[3:]]


def test_webhooks_are_made_listed_and_removed_and_their_secret_is_shown_once(admin):
    workspace, _ = _project_with_tasks(admin, 1)
    receiver = start_receiver()
    try:
        url = receiver.url()
        made = admin.create_webhook(workspace.id, url, ["tasks.imported"], allowed_hosts=[f"127.0.0.1:{receiver.port}"])
        assert made.secret and made.secret.startswith("whsec_")
        read = admin.get_webhook(made.id)
        assert read.secret is None and read.url == url and read.events == ["tasks.imported"]
        assert [w.id for w in admin.list_webhooks(workspace.id)] == [made.id]
        assert admin.list_deliveries(made.id) == []
        assert admin.replay_dead(made.id) == 0
        admin.delete_webhook(made.id)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    with pytest.raises(NotFound):
        admin.get_webhook(made.id)
    assert admin.list_webhooks(workspace.id) == []


def test_a_job_is_submitted_waited_for_and_listed(admin):
    workspace, project = _project_with_tasks(admin)
    job = admin.submit_job(workspace.id, "search.reindex", {"project_id": project.id})
    assert job.kind == "search.reindex" and job.params["project_id"] == project.id
    done = admin.wait_job(job.id, timeout=60, poll_seconds=0.1)
    assert done.state == "succeeded" and done.finished and done.progress.done == 7
    assert job.id in [j.id for j in admin.list_jobs(workspace.id)]
    assert [j.id for j in admin.list_jobs(workspace.id, state="failed")] == []
    with pytest.raises(Conflict):
        admin.cancel_job(job.id)  # finished: nothing to cancel
    with pytest.raises(Conflict):
        admin.retry_job(job.id)  # it succeeded
    with pytest.raises(NotFound):
        admin.get_job("job_" + "0" * 26)


def test_the_async_client_reads_events_and_jobs(served):
    async def run():
        async with AsyncClient(served.url, served.admin_token) as client:
            workspace = await client.create_workspace(f"Async ops {uuid.uuid4().hex[:8]}")
            project = await client.create_project(workspace.id, "Tasks", CLASSIFICATION)
            await client.import_tasks(project.id, [{"data": {"text": "one"}}, {"data": {"text": "two"}}])
            events = [e async for e in client.iter_events(workspace.id, page_size=1)]
            job = await client.submit_job(workspace.id, "search.reindex", {"project_id": project.id})
            done = await client.wait_job(job.id, timeout=60, poll_seconds=0.1)
            return events, done

    events, done = run_async(run)
    assert [e.kind for e in events] == ["tasks.imported"] and events[0].data["count"] == 2
    assert done.state == "succeeded"


def test_an_annotators_own_work_progress_list_edit_and_undo(served, admin):
    workspace, project = _project_with_tasks(admin, 3)
    admin.add_member(workspace.id, served.annotator_email, "annotator")
    with Client(served.url, served.annotator_token) as me:
        made = []
        for label in ("pos", "neg"):
            task = me.next_task(project.id)
            made.append(me.submit_annotation(task.id, {"label": label}))
        progress = me.my_progress(project.id)
        assert (progress.done, progress.left, progress.paused) == (2, 1, None)
        mine = list(me.iter_my_annotations(project.id, page_size=1))
        assert [a.id for a in mine] == [made[1].id, made[0].id] and all(a.can_change for a in mine)
        edited = me.edit_annotation(project.id, made[0].id, {"label": "neg"})
        assert edited.result == {"label": "neg"} and edited.version == 2
        taken = me.undo_last(project.id)
        assert taken.task.id == made[1].task_id and taken.previous == {"label": "neg"} and taken.task.lease
        assert me.my_progress(project.id).done == 1
        with pytest.raises(NotFound):
            me.edit_annotation(project.id, "ann_" + "0" * 32, {"label": "pos"})


def test_deactivating_a_person_refuses_their_token_and_reactivating_revives_none(served, admin):
    with Client(served.url, served.annotator_token) as annotator:
        me = annotator.me().user
        with pytest.raises(PermissionDenied):
            annotator.deactivate_user(me.id)  # platform admins only
        gone = admin.deactivate_user(me.id)
        assert gone.id == me.id and gone.is_active is False
        with pytest.raises(Unauthenticated):
            annotator.me()
        back = admin.activate_user(me.id)
        assert back.is_active is True
        with pytest.raises(Unauthenticated):
            annotator.me()  # the token was revoked with the deactivation
