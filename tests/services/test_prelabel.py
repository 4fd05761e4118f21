"""Pre-labels (services/prelabel.py) against tests/model_server.py's ``labeller`` model, on both databases.

Invariants tried: each task gets exactly one prediction of a model version — across chunks, a
second job, a lease taken over mid-job; an unreadable reply is counted, not fatal; the setting
names an endpoint of the project's own workspace only; only owners and managers start a job.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied
from bastion.services import imports, jobs, model_endpoints, prelabel, projects
from bastion.services.job_runner import Runner
from bastion.storage import schema
from factories import ROLES, add_tasks, make_side, operator_tx, system
from model_server import label_reply, model_server, served  # noqa: F401  (fixtures)


def endpoint(rt, side, served) -> str:
    made = model_endpoints.create_endpoint(
        side.ctx(rt, "owner"),
        side.workspace_id,
        name="labeller",
        base_url=served.url(),
        default_model="labeller",
        allowed_hosts=[f"127.0.0.1:{served.port}"],
    )
    return str(made["id"])


def set_prelabel(rt, side, setting) -> None:
    projects.update_project(side.ctx(rt, "owner"), side.project_id, settings={"prelabel": setting})


def predictions(rt, side) -> dict[str, list]:
    """Every task's predictions, opened (task id -> list)."""
    T = schema.tasks
    project = projects.get_project(system(rt), side.project_id)
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(
            T.select().where(T.c.workspace_id == side.workspace_id, T.c.project_id == side.project_id)
        ).all()
    out = {}
    with system(rt).read() as r:
        sealer = r.sealer(side.workspace_id, project.key_id)
        for row in rows:
            texts = sealer.open_json("tasks", row.id, "payload", row.payload)["data"]["text"]
            preds = [] if row.predictions is None else sealer.open_json("tasks", row.id, "predictions", row.predictions)
            out[texts] = preds
    return out


def run(rt) -> None:
    while Runner(rt).run_once():
        pass


def test_a_job_pre_labels_each_task_once_in_chunks_and_counts_unreadable_replies(rt, served):
    side = make_side(rt, "p", n_tasks=23)
    add_tasks(rt, side.project_id, 2, prefix="UNPARSABLE")
    set_prelabel(rt, side, {"endpoint": endpoint(rt, side, served)})
    job = prelabel.submit(side.ctx(rt, "manager"), side.project_id, chunk=5)
    assert (
        jobs.submit(side.ctx(rt, "owner"), side.workspace_id, "prelabel.run", {"project_id": side.project_id})["id"]
        == job["id"]
    )  # one at a time per project
    run(rt)
    done = jobs.get(system(rt), job["id"])
    assert done["state"] == "succeeded", done["last_error"]
    assert done["checkpoint"]["counts"] == {"labelled": 23, "failed": 2, "skipped": 0}
    assert done["progress"] == {"done": 25, "total": 25}
    version = done["params"]["version"]
    assert version.startswith(done["params"]["endpoint"] + "/labeller/")
    preds = predictions(rt, side)
    for text, found in preds.items():
        if text.startswith("UNPARSABLE"):
            assert found == []
            continue
        expected = label_reply(
            [{"role": "system", "content": "- pos\n- neg\n- neutral"}, {"role": "user", "content": text}]
        )
        assert found == [{"result": {"label": expected}, "model_version": version}]
    # 45 + 2 calls, each audited; a second job for the same version calls only for the unreadable two
    served.requests.clear()
    again = prelabel.submit(side.ctx(rt, "owner"), side.project_id)
    run(rt)
    assert jobs.get(system(rt), again["id"])["checkpoint"]["counts"] == {"labelled": 0, "failed": 2, "skipped": 23}
    assert len(served.requests) == 2
    assert all(len(p) <= 1 for p in predictions(rt, side).values())


def test_a_lease_taken_over_mid_job_never_doubles_a_prediction(rt, served):
    side = make_side(rt, "t", n_tasks=12)
    set_prelabel(rt, side, {"endpoint": endpoint(rt, side, served), "model": "labeller"})
    job = prelabel.submit(side.ctx(rt, "owner"), side.project_id, chunk=5)
    first = Runner(rt)
    claimed = first._claim(None)  # a runner claims it, then stalls (or was killed)
    assert claimed is not None
    with operator_tx(rt) as tx:
        tx.execute(update(schema.jobs).where(schema.jobs.c.id == job["id"]).values(lease_expires_at=1))
    assert Runner(rt).run_once()  # another takes over and finishes
    first._run(claimed, prelabel.PRELABEL_RUN, None)  # the first wakes: its lease is gone, it writes nothing
    after = jobs.get(system(rt), job["id"])
    assert after["state"] == "succeeded" and after["checkpoint"]["counts"]["labelled"] == 12
    assert all(len(p) == 1 for p in predictions(rt, side).values())


def test_the_setting_is_checked_and_names_the_field(rt, served):
    side = make_side(rt, "s", n_tasks=1)
    other = make_side(rt, "o", n_tasks=1)
    foreign = endpoint(rt, other, served)
    with pytest.raises(InvalidInput, match=r"settings\.prelabel\.endpoint: no model endpoint"):
        set_prelabel(rt, side, {"endpoint": foreign})
    with pytest.raises(InvalidInput, match=r"settings\.prelabel\.endpoint"):
        set_prelabel(rt, side, {"endpoint": "not-an-id"})
    mine = endpoint(rt, side, served)
    with pytest.raises(InvalidInput, match=r"settings\.prelabel\.prompt: \{\{text\}\} is not a value"):
        set_prelabel(rt, side, {"endpoint": mine, "prompt": "Label {{text}}"})
    with pytest.raises(InvalidInput, match=r"settings\.prelabel\.colour"):
        set_prelabel(rt, side, {"endpoint": mine, "colour": "red"})
    assert projects.get_project(system(rt), side.project_id).settings.prelabel is None  # nothing written
    with pytest.raises(InvalidInput, match="no pre-label setting"):
        prelabel.submit(side.ctx(rt, "owner"), side.project_id)
    spans = {"type": "spans", "field": "text", "labels": ["PER", "ORG"]}
    with pytest.raises(InvalidInput, match="settings.prelabel: task type spans does not offer pre-labels"):
        projects.create_project(
            side.ctx(rt, "owner"),
            side.workspace_id,
            name="spans",
            config=spans,
            settings={"prelabel": {"endpoint": mine}},
        )
    set_prelabel(rt, side, {"endpoint": mine, "prompt": "Pick one of:\n{{labels}}", "on_import": True})
    assert projects.get_project(system(rt), side.project_id).settings.prelabel.on_import is True


def test_only_owners_and_managers_start_it_and_outsiders_see_nothing(rt, served):
    side = make_side(rt, "r", n_tasks=2)
    other = make_side(rt, "x", n_tasks=1)
    set_prelabel(rt, side, {"endpoint": endpoint(rt, side, served)})
    for role in ROLES:
        if role in ("owner", "manager"):
            continue
        with pytest.raises((PermissionDenied, NotFound)):
            prelabel.submit(side.ctx(rt, role), side.project_id)
    for role in ROLES:  # another workspace's members: not found
        with pytest.raises(NotFound):
            prelabel.submit(other.ctx(rt, role), side.project_id)
        with pytest.raises((NotFound, PermissionDenied)):
            jobs.submit(other.ctx(rt, role), other.workspace_id, "prelabel.run", {"project_id": side.project_id})


def test_an_import_starts_one_job_when_on_import_is_set(rt, served):
    side = make_side(rt, "i", n_tasks=3)
    set_prelabel(rt, side, {"endpoint": endpoint(rt, side, served), "on_import": True})
    first = add_tasks(rt, side.project_id, 4, start=10, prefix="i")
    second = add_tasks(rt, side.project_id, 2, start=20, prefix="i")
    assert first.prelabel_job and second.prelabel_job == first.prelabel_job  # deduped while queued
    run(rt)
    assert jobs.get(system(rt), first.prelabel_job)["checkpoint"]["counts"]["labelled"] == 9
    third = imports.import_tasks(system(rt), side.project_id, [(1, {"data": {"text": "late"}})])
    assert third.prelabel_job not in (None, first.prelabel_job)
    run(rt)
    assert all(len(p) == 1 for p in predictions(rt, side).values())


def test_quality_reports_acceptance_and_agreement_per_model_version(rt, served):
    from bastion.services import annotations, quality, queue

    side = make_side(rt, "q", n_tasks=6)
    set_prelabel(rt, side, {"endpoint": endpoint(rt, side, served)})
    job = prelabel.submit(side.ctx(rt, "owner"), side.project_id)
    run(rt)
    version = jobs.get(system(rt), job["id"])["params"]["version"]
    annotator = side.ctx(rt, "annotator")
    for n in range(6):
        task = queue.next_task(annotator, side.project_id)
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == version
        suggested = prediction["result"]["label"]
        other = next(label for label in ("pos", "neg", "neutral") if label != suggested)
        annotations.submit_annotation(annotator, task["id"], {"label": suggested if n % 2 == 0 else other})
    report = quality.quality_report(side.ctx(rt, "manager"), side.project_id)
    assert report["prelabels"] == [
        {
            "model_version": version,
            "tasks": 6,
            "tasks_answered": 6,
            "answers": 6,
            "accepted": 3,
            "acceptance_rate": 0.5,
            "agreement": 0.5,
        }
    ]
