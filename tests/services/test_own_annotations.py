"""A person's own annotations: progress, the list, undo and edit — counts, done flags, the queue and
exports stay consistent; refusals once reviewed, on someone else's annotation and across workspaces.
Both databases."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from bastion.domain.errors import Conflict, InvalidAnswer, InvalidInput, NotFound, PermissionDenied
from bastion.leaks.simulation import CANARY_TEXT
from bastion.services import (
    annotations,
    audit,
    canaries,
    exports,
    imports,
    labelling,
    own_annotations,
    projects,
    queue,
    reviews,
    workspaces,
)
from bastion.storage import schema
from factories import as_user, make_side, make_user, operator_tx, system


def _workers(rt, side, n, tag="w"):
    out = []
    for i in range(n):
        user = make_user(rt, f"{tag}{i}.{side.workspace_id[-6:]}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        out.append(as_user(rt, user.id))
    return out


def _task_row(rt, task_id):
    t = schema.tasks
    with operator_tx(rt, write=False) as tx:
        row = tx.execute(select(t.c.annotation_count, t.c.lease_count, t.c.done).where(t.c.id == task_id)).one()
    return (int(row[0]), int(row[1]), bool(row[2]))


def _counts(rt, project_id):
    c = projects.get_project(system(rt), project_id).counts
    return c.done, c.annotations


def _versions(rt, task_id):
    v = schema.annotation_versions
    with operator_tx(rt, write=False) as tx:
        return tx.execute(
            select(v.c.version, v.c.change, v.c.review_status).where(v.c.task_id == task_id).order_by(v.c.version)
        ).all()


def _actions(rt, workspace_id):
    return [e["action"] for e in audit.list_entries(system(rt), workspace_id, limit=1000)["items"]]


def test_progress_counts_the_persons_own_annotations_not_completed_tasks(rt):
    """The reported bug: with overlap 2 an annotator's work showed as "Done 0" (tasks with all their answers)."""
    side = make_side(rt, "prog", n_tasks=5, settings={"overlap": 2})
    (me,) = _workers(rt, side, 1)
    assert own_annotations.my_progress(me, side.project_id) == own_annotations.Progress(done=0, done_last_day=0, left=5)
    for _ in range(2):
        task = queue.next_task(me, side.project_id)
        annotations.submit_annotation(me, task["id"], {"label": "pos"})
    skipped = queue.next_task(me, side.project_id)
    queue.skip_task(me, skipped["id"])
    assert projects.get_project(system(rt), side.project_id).counts.done == 0  # no task has both its answers
    progress = own_annotations.my_progress(me, side.project_id)
    assert (progress.done, progress.done_last_day) == (2, 2)
    assert progress.left == 2  # 5 open, 2 answered, 1 skipped
    # The day's count is the last 24 hours: an answer from two days ago is done, not today's.
    with operator_tx(rt) as tx:
        a = schema.assignments
        tx.execute(
            a.update().where(a.c.task_id == task["id"]).values(updated_at=a.c.updated_at - 2 * own_annotations.DAY_MS)
        )
    assert own_annotations.my_progress(me, side.project_id).done_last_day == 1


def test_progress_respects_the_per_person_cap_and_a_pause(rt):
    side = make_side(rt, "cap", n_tasks=6, settings={"overlap": 1, "max_tasks_per_person": 2})
    (me,) = _workers(rt, side, 1)
    task = queue.next_task(me, side.project_id)
    annotations.submit_annotation(me, task["id"], {"label": "pos"})
    assert own_annotations.my_progress(me, side.project_id).left == 1
    with operator_tx(rt) as tx:
        tx.execute(
            schema.annotator_pauses.insert().values(
                workspace_id=side.workspace_id,
                project_id=side.project_id,
                user_id=me.actor.user_id,
                paused_at=0,
                reason="accuracy",
            )
        )
    paused = own_annotations.my_progress(me, side.project_id)
    assert paused.left == 0 and paused.paused == "accuracy"
    with pytest.raises(PermissionDenied, match="paused"):  # an undo would lease the task again
        own_annotations.undo_last(me, side.project_id)


def test_undo_takes_back_the_last_annotation_and_the_queue_offers_the_task_again(rt):
    side = make_side(rt, "undo", n_tasks=2, settings={"overlap": 1})
    me, other = _workers(rt, side, 2)
    first = queue.next_task(me, side.project_id)
    annotations.submit_annotation(me, first["id"], {"label": "neg"})
    assert _task_row(rt, first["id"]) == (1, 0, True) and _counts(rt, side.project_id) == (1, 1)
    following = queue.next_task(me, side.project_id)  # the labelling page leases the next one at once

    taken = own_annotations.undo_last(me, side.project_id)
    assert taken.task["id"] == first["id"] and taken.previous == {"label": "neg"}
    assert taken.task["lease"]["expires_at"] > 0
    assert _task_row(rt, first["id"]) == (0, 1, False)  # reopened, and held by me again
    assert _task_row(rt, following["id"]) == (0, 0, False)  # the next one went back to the pool
    assert _counts(rt, side.project_id) == (0, 0)
    assert _versions(rt, first["id"]) == [(1, "undone", "none")]
    assert own_annotations.my_progress(me, side.project_id).done == 0
    assert queue.next_task(me, side.project_id)["id"] == first["id"]  # what I hold is what I am shown
    # The other annotator gets the released task; mine they cannot, I hold it.
    assert queue.next_task(other, side.project_id)["id"] == following["id"]
    # I give it back: the task is open again, and the queue offers it to the other.
    queue.skip_task(me, first["id"])
    annotations.submit_annotation(other, following["id"], {"label": "pos"})
    assert queue.next_task(other, side.project_id)["id"] == first["id"]
    assert "annotation.undone" in _actions(rt, side.workspace_id)


def test_an_annotation_made_again_after_undo_counts_once_and_keeps_its_history(rt):
    side = make_side(rt, "again", n_tasks=1, settings={"overlap": 1})
    (me,) = _workers(rt, side, 1)
    task = queue.next_task(me, side.project_id)
    annotations.submit_annotation(me, task["id"], {"label": "pos"})
    own_annotations.undo_last(me, side.project_id)
    second = annotations.submit_annotation(me, task["id"], {"label": "neg"})
    assert _task_row(rt, task["id"]) == (1, 0, True) and _counts(rt, side.project_id) == (1, 1)
    own_annotations.undo_last(me, side.project_id)
    third = annotations.submit_annotation(me, task["id"], {"label": "neutral"})
    assert third["id"] != second["id"]
    assert [v[:2] for v in _versions(rt, task["id"])] == [(1, "undone"), (2, "undone")]
    page = own_annotations.my_annotations(me, side.project_id)["items"]
    assert [(i["id"], i["summary"], i["version"]) for i in page] == [(third["id"], "neutral", 3)]


def test_undo_steps_back_one_annotation_at_a_time(rt):
    side = make_side(rt, "steps", n_tasks=3, settings={"overlap": 1})
    (me,) = _workers(rt, side, 1)
    done = []
    for label in ("pos", "neg"):
        task = queue.next_task(me, side.project_id)
        done.append(annotations.submit_annotation(me, task["id"], {"label": label}))
    queue.next_task(me, side.project_id)
    assert own_annotations.undo_last(me, side.project_id).task["id"] == done[1]["task_id"]
    assert own_annotations.undo_last(me, side.project_id).task["id"] == done[0]["task_id"]
    with pytest.raises(Conflict, match="no annotation here"):
        own_annotations.undo_last(me, side.project_id)
    with operator_tx(rt, write=False) as tx:
        a = schema.assignments
        leased = tx.execute(select(a.c.task_id).where(a.c.state == "leased")).scalars().all()
    assert leased == [done[0]["task_id"]]  # one lease at a time: the others went back to the pool
    assert _counts(rt, side.project_id) == (0, 0)
    assert [_task_row(rt, d["task_id"]) for d in done] == [(0, 1, False), (0, 0, False)]


def test_undo_with_overlap_reopens_only_below_the_overlap(rt):
    side = make_side(rt, "ov", n_tasks=1, settings={"overlap": 2})
    me, other, third = _workers(rt, side, 3)
    task = queue.next_task(me, side.project_id)
    annotations.submit_annotation(me, task["id"], {"label": "pos"})
    assert queue.next_task(other, side.project_id)["id"] == task["id"]
    annotations.submit_annotation(other, task["id"], {"label": "pos"})
    assert _task_row(rt, task["id"]) == (2, 0, True) and _counts(rt, side.project_id) == (1, 2)
    own_annotations.undo_last(other, side.project_id)
    assert _task_row(rt, task["id"]) == (1, 1, False) and _counts(rt, side.project_id) == (0, 1)
    assert queue.next_task(third, side.project_id) is None  # full: one answer, one lease
    queue.skip_task(other, task["id"])
    assert queue.next_task(third, side.project_id)["id"] == task["id"]


def test_edit_keeps_the_old_result_as_a_version_and_the_export_has_the_latest(rt):
    side = make_side(rt, "edit", n_tasks=1, settings={"overlap": 1})
    (me,) = _workers(rt, side, 1)
    task = queue.next_task(me, side.project_id)
    given = annotations.submit_annotation(me, task["id"], {"label": "pos"})
    shown = own_annotations.annotation_to_edit(me, side.project_id, given["id"])
    assert shown.task["predictions"] == [{"label": "pos"}] and shown.annotation["summary"] == "pos"
    with pytest.raises(InvalidAnswer):
        own_annotations.edit_annotation(me, side.project_id, given["id"], {"label": "maybe"})
    edited = own_annotations.edit_annotation(me, side.project_id, given["id"], {"label": "neg"})
    assert edited["id"] == given["id"] and edited["result"] == {"label": "neg"} and edited["version"] == 2
    again = own_annotations.edit_annotation(
        me, side.project_id, given["id"], {"label": "neg"}
    )  # unchanged: nothing kept
    assert again["version"] == 2
    own_annotations.edit_annotation(me, side.project_id, given["id"], {"label": "neutral"})
    assert [v[:2] for v in _versions(rt, task["id"])] == [(1, "edited"), (2, "edited")]
    assert _task_row(rt, task["id"]) == (1, 0, True) and _counts(rt, side.project_id) == (1, 1)
    rows = [
        orjson.loads(line) for line in b"".join(exports.start_export(system(rt), side.project_id).chunks()).splitlines()
    ]
    assert [a["result"] for a in rows[0]["annotations"]] == [{"label": "neutral"}]
    assert _actions(rt, side.workspace_id).count("annotation.edited") == 2
    # The versions are sealed like the annotations: no plaintext in the table.
    with operator_tx(rt, write=False) as tx:
        blobs = tx.execute(select(schema.annotation_versions.c.result)).scalars().all()
    assert blobs and not any(b"pos" in bytes(b) or b"neg" in bytes(b) for b in blobs)


def test_reviewed_annotations_can_no_longer_change(rt):
    side = make_side(rt, "rev", n_tasks=3, settings={"overlap": 1, "quality": {"review": "all"}})
    (me,) = _workers(rt, side, 1)
    given = []
    for _ in range(2):
        task = queue.next_task(me, side.project_id)
        given.append(annotations.submit_annotation(me, task["id"], {"label": "pos"}))
    reviewer = side.ctx(rt, "reviewer")
    item = reviews.review_next(reviewer, side.project_id)
    assert item["annotation"]["id"] == given[0]["id"]
    # While a reviewer has it open, it waits.
    with pytest.raises(Conflict, match="reviewer has this annotation open"):
        own_annotations.edit_annotation(me, side.project_id, given[0]["id"], {"label": "neg"})
    reviews.review_annotation(reviewer, given[0]["id"], "reject", comment="it is negative")
    reviews.review_next(reviewer, side.project_id)
    reviews.review_annotation(reviewer, given[1]["id"], "accept")
    for annotation in given:
        with pytest.raises(Conflict, match="already reviewed"):
            own_annotations.edit_annotation(me, side.project_id, annotation["id"], {"label": "neg"})
        with pytest.raises(Conflict, match="already reviewed"):
            own_annotations.annotation_to_edit(me, side.project_id, annotation["id"])
    with pytest.raises(Conflict, match="already reviewed"):
        own_annotations.undo_last(me, side.project_id)
    listed = {i["id"]: i for i in own_annotations.my_annotations(me, side.project_id)["items"]}
    assert listed[given[0]["id"]]["review_status"] == "rejected"
    assert listed[given[0]["id"]]["review"]["comment"] == "it is negative" and not listed[given[0]["id"]]["can_change"]
    assert listed[given[1]["id"]]["review_status"] == "accepted" and listed[given[1]["id"]]["review"]["comment"] is None


def test_someone_elses_annotation_is_refused_and_other_workspaces_do_not_exist(rt):
    a = make_side(rt, "own-a", n_tasks=2, settings={"overlap": 2})
    b = make_side(rt, "own-b", n_tasks=1)
    me, other = _workers(rt, a, 2)
    task = queue.next_task(other, a.project_id)
    theirs = annotations.submit_annotation(other, task["id"], {"label": "pos"})
    for call in (
        lambda ctx, pid, aid: own_annotations.edit_annotation(ctx, pid, aid, {"label": "neg"}),
        own_annotations.annotation_to_edit,
    ):
        with pytest.raises(PermissionDenied, match="someone else"):
            call(me, a.project_id, theirs["id"])
        with pytest.raises(PermissionDenied, match="someone else"):  # a manager is not its author either
            call(a.ctx(rt, "manager"), a.project_id, theirs["id"])
    worker_b = b.ctx(rt, "annotator")
    b_task = queue.next_task(worker_b, b.project_id)
    b_answer = annotations.submit_annotation(worker_b, b_task["id"], {"label": "pos"})
    for ctx, project_id, annotation_id in (
        (worker_b, b.project_id, theirs["id"]),  # A's answer, asked from B: not there
        (other, a.project_id, b_answer["id"]),  # B's answer in A's project
        (other, a.project_id, "ann_" + "0" * 32),
        (other, a.project_id, "not an id"),
    ):
        with pytest.raises(NotFound):
            own_annotations.edit_annotation(ctx, project_id, annotation_id, {"label": "neg"})
        with pytest.raises(NotFound):
            own_annotations.annotation_to_edit(ctx, project_id, annotation_id)
    with pytest.raises(NotFound):
        own_annotations.my_annotations(other, b.project_id)
    with pytest.raises(NotFound):
        own_annotations.undo_last(other, b.project_id)
    for role in ("auditor",):
        with pytest.raises(PermissionDenied):
            own_annotations.my_annotations(a.ctx(rt, role), a.project_id)
    with pytest.raises(InvalidInput, match="cursor"):
        own_annotations.my_annotations(other, a.project_id, cursor="x")


def test_gold_with_feedback_and_qualification_annotations_are_final(rt):
    side = make_side(
        rt, "gold", n_tasks=0, settings={"overlap": 1, "quality": {"gold_rate": 1.0, "gold_feedback": True}}
    )
    imports.import_tasks(system(rt), side.project_id, [(1, {"data": {"text": "gold item"}, "gold": {"label": "pos"}})])
    (me,) = _workers(rt, side, 1)
    gold = queue.next_task(me, side.project_id)
    given = annotations.submit_annotation(me, gold["id"], {"label": "neg"})
    assert "feedback" in given
    with pytest.raises(Conflict, match="expected answer was shown"):
        own_annotations.undo_last(me, side.project_id)
    with pytest.raises(Conflict, match="expected answer was shown"):
        own_annotations.edit_annotation(me, side.project_id, given["id"], {"label": "pos"})
    # Without feedback nothing was shown: the answer may change, and is graded again.
    projects.update_project(
        system(rt), side.project_id, settings={"quality": {"gold_rate": 1.0, "gold_feedback": False}}
    )
    own_annotations.edit_annotation(me, side.project_id, given["id"], {"label": "pos"})
    with operator_tx(rt, write=False) as tx:
        score = tx.execute(select(schema.annotations.c.gold_score)).scalar_one()
    assert score == 1.0
    taken = own_annotations.undo_last(me, side.project_id)
    assert taken.task["id"] == gold["id"] and _task_row(rt, gold["id"]) == (0, 1, True)  # gold stays out of the queue
    assert _counts(rt, side.project_id) == (0, 0)
    # A qualification test: graded, a skill granted on the last answer.
    test = projects.create_project(
        system(rt),
        side.workspace_id,
        name="Test",
        config={"type": "classification", "field": "text", "labels": ["pos", "neg"]},
        settings={"qualification": {"grants": "history:3", "pass_score": 0.5}},
    )
    imports.import_tasks(system(rt), test.id, [(1, {"data": {"text": "q1"}, "gold": {"label": "pos"}})])
    assert own_annotations.my_progress(me, test.id).left == 1
    question = queue.next_task(me, test.id)
    answered = annotations.submit_annotation(me, question["id"], {"label": "pos"})
    assert own_annotations.my_progress(me, test.id) == own_annotations.Progress(done=1, done_last_day=1, left=0)
    with pytest.raises(Conflict, match="qualification test are final"):
        own_annotations.undo_last(me, test.id)
    with pytest.raises(Conflict, match="qualification test are final"):
        own_annotations.edit_annotation(me, test.id, answered["id"], {"label": "neg"})


def test_an_undo_cannot_re_roll_the_review_sample(rt):
    side = make_side(
        rt, "draw", n_tasks=12, settings={"overlap": 1, "quality": {"review": "sample", "review_fraction": 0.5}}
    )
    (me,) = _workers(rt, side, 1)
    first = {}
    for _ in range(12):
        task = queue.next_task(me, side.project_id)
        annotations.submit_annotation(me, task["id"], {"label": "pos"})
        with operator_tx(rt, write=False) as tx:
            n = schema.annotations
            first[task["id"]] = tx.execute(select(n.c.review_status).where(n.c.task_id == task["id"])).scalar_one()
        own_annotations.undo_last(me, side.project_id)
        annotations.submit_annotation(me, task["id"], {"label": "neg"})
        with operator_tx(rt, write=False) as tx:
            again = tx.execute(select(n.c.review_status).where(n.c.task_id == task["id"])).scalar_one()
        assert again == first[task["id"]]
    assert set(first.values()) == {"pending", "none"}  # the sample drew both ways: the carry was tested


def test_the_list_is_newest_first_paged_and_summarised_as_shown(rt):
    side = make_side(rt, "list", n_tasks=5, settings={"overlap": 1})
    (me,) = _workers(rt, side, 1)
    given = []
    for label in ("pos", "neg", "neutral", "pos", "neg"):
        task = queue.next_task(me, side.project_id)
        given.append(annotations.submit_annotation(me, task["id"], {"label": label}))
    first = own_annotations.my_annotations(me, side.project_id, limit=2)
    second = own_annotations.my_annotations(me, side.project_id, cursor=first["next_cursor"], limit=2)
    third = own_annotations.my_annotations(me, side.project_id, cursor=second["next_cursor"], limit=2)
    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert seen == [g["id"] for g in reversed(given)] and third["next_cursor"] is None
    item = first["items"][0]
    assert item["summary"] == "neg" and item["data"] == {"text": "list 4"} and item["review_status"] == "none"
    assert item["can_change"] and item["version"] == 1 and item["review"] is None
    assert "annotations.listed" in _actions(rt, side.workspace_id)


def test_a_canary_answer_is_listed_undone_and_edited_like_an_annotation(rt, monkeypatch):
    side = make_side(rt, "canary", n_tasks=0)
    config = {"type": "classification", "labels": ["a", "b"], "leak_tracing": {"canary_rate": 0.2}}
    project = projects.create_project(side.ctx(rt, "owner"), side.workspace_id, name="C", config=config)
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"real {i}"}}) for i in range(1, 3)])
    canary = canaries.create_canary(side.ctx(rt, "owner"), project.id, {"text": CANARY_TEXT})
    canaries.set_canary_state(side.ctx(rt, "owner"), canary["id"], "approved")
    (me,) = _workers(rt, side, 1)
    monkeypatch.setattr(canaries.random, "random", lambda: 0.99)  # no canary this time
    real = queue.next_task(me, project.id)
    annotations.submit_annotation(me, real["id"], {"label": "a"})
    monkeypatch.setattr(canaries.random, "random", lambda: 0.0)  # a canary now
    task = queue.next_task(me, project.id)
    assert task["id"] == canary["id"]
    answer = annotations.submit_annotation(me, task["id"], {"label": "b"})
    listed = own_annotations.my_annotations(me, project.id)["items"]
    assert [(i["id"], i["summary"]) for i in listed] == [(answer["id"], "b"), (listed[1]["id"], "a")]
    assert listed[0]["data"] == task["data"] and own_annotations.my_progress(me, project.id).done == 2
    edited = own_annotations.edit_annotation(me, project.id, answer["id"], {"label": "a"})
    assert edited["id"] == answer["id"] and edited["result"] == {"label": "a"}
    assert own_annotations.annotation_to_edit(me, project.id, answer["id"]).task["predictions"] == [{"label": "a"}]
    taken = own_annotations.undo_last(me, project.id)
    assert taken.task["id"] == canary["id"] and taken.task["data"] == task["data"] and taken.previous == {"label": "a"}
    assert projects.get_project(system(rt), project.id).counts.annotations == 1
    again = annotations.submit_annotation(me, canary["id"], {"label": "b"})
    assert [i["id"] for i in own_annotations.my_annotations(me, project.id)["items"]][0] == again["id"]
    with operator_tx(rt, write=False) as tx:  # still never an annotation
        n = schema.annotations
        assert tx.execute(select(func.count()).select_from(n).where(n.c.task_id == canary["id"])).scalar_one() == 0


def test_the_labelling_view_after_undo_starts_the_widget_from_the_result(rt):
    side = make_side(rt, "view", n_tasks=2, settings={"overlap": 1})
    (me,) = _workers(rt, side, 1)
    task = queue.next_task(me, side.project_id)
    annotations.submit_annotation(me, task["id"], {"label": "neutral"})
    view = labelling.undo_view(me, side.project_id)
    assert view.task["id"] == task["id"] and view.task["predictions"][0] == {"label": "neutral"}
    shown = labelling.labelling_view(me, side.project_id, lease=False, with_progress=True)
    assert shown.task["id"] == task["id"] and shown.progress.done == 0 and shown.progress.left == 2
