"""Questions on a task: asked while labelling, answered by the project's managers, read by the asker.
Sealed at rest, walled, audited; every role and foreign ids tried. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.services import annotations, audit, labelling, questions, queue
from bastion.storage import schema
from factories import make_side, operator_tx, system


def _actions(rt, workspace_id):
    return [e["action"] for e in audit.list_entries(system(rt), workspace_id, limit=1000)["items"]]


def test_a_question_is_asked_answered_and_read(rt):
    side = make_side(rt, "ask", n_tasks=3, settings={"overlap": 1})
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)
    asked = questions.ask_question(worker, side.project_id, task["id"], "  Is sarcasm negative?  ")
    assert asked["state"] == "open"
    assert queue.next_task(worker, side.project_id)["id"] == task["id"]  # kept the lease
    # Sealed at rest.
    with operator_tx(rt, write=False) as tx:
        (blob,) = tx.execute(select(schema.questions.c.text)).scalars().all()
    assert b"sarcasm" not in bytes(blob)
    listed = questions.list_questions(side.ctx(rt, "manager"), side.project_id)
    assert listed["open"] == 1
    (item,) = listed["items"]
    assert item["text"] == "Is sarcasm negative?" and item["asker"] == "annotator.ask@example.com"
    assert item["data"] == task["data"] and item["answer"] is None
    assert questions.list_questions(side.ctx(rt, "owner"), side.project_id, state="answered")["items"] == []
    questions.answer_question(side.ctx(rt, "manager"), side.project_id, item["id"], "Yes, when it mocks.")
    assert questions.list_questions(side.ctx(rt, "owner"), side.project_id)["items"] == []  # none open now
    (answered,) = questions.list_questions(side.ctx(rt, "owner"), side.project_id, state=None)["items"]
    assert answered["answer"] == "Yes, when it mocks." and answered["answerer"] == "manager.ask@example.com"
    # The asker sees it, and a notice counts it until they mark it read.
    (mine,) = questions.my_questions(worker, side.project_id)
    assert mine["answer"] == "Yes, when it mocks." and mine["state"] == "answered"
    view = labelling.labelling_view(worker, side.project_id, lease=False, with_progress=True)
    assert view.unseen_answers == 1
    assert questions.mark_answers_read(worker, side.project_id) == 1
    assert labelling.labelling_view(worker, side.project_id, lease=False, with_progress=True).unseen_answers == 0
    # A second answer replaces the first and tells the asker again.
    questions.answer_question(side.ctx(rt, "owner"), side.project_id, item["id"], "Yes.")
    assert questions.my_questions(worker, side.project_id)[0]["answer"] == "Yes."
    assert labelling.labelling_view(worker, side.project_id, lease=False, with_progress=True).unseen_answers == 1
    log = _actions(rt, side.workspace_id)
    for action in ("question.asked", "question.answered", "questions.read", "questions.answers_read"):
        assert action in log, action


def test_asking_can_give_the_task_back(rt):
    side = make_side(rt, "giveback", n_tasks=2, settings={"overlap": 1})
    worker, other = side.ctx(rt, "annotator"), side.ctx(rt, "reviewer")
    task = queue.next_task(worker, side.project_id)
    view = labelling.ask_view(worker, side.project_id, task["id"], "Which label for spam?", keep_lease=False)
    assert view.task is not None and view.task["id"] != task["id"]  # the next one, never the same again
    assert queue.next_task(other, side.project_id)["id"] == task["id"]  # it went on to someone else
    with pytest.raises(Conflict, match="not leased to you"):  # asked again after giving it back
        questions.ask_question(worker, side.project_id, task["id"], "And now?", keep_lease=False)
    kept = labelling.ask_view(worker, side.project_id, view.task["id"], "And this one?", keep_lease=True)
    assert kept.task["id"] == view.task["id"]


def test_who_may_ask_read_and_answer(rt):
    a = make_side(rt, "qa", n_tasks=2, settings={"overlap": 1})
    b = make_side(rt, "qb", n_tasks=1)
    worker = a.ctx(rt, "annotator")
    task = queue.next_task(worker, a.project_id)
    annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    asked = questions.ask_question(worker, a.project_id, task["id"], "Was this right?")  # after answering, too
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            questions.list_questions(a.ctx(rt, role), a.project_id)
        with pytest.raises(PermissionDenied):
            questions.answer_question(a.ctx(rt, role), a.project_id, asked["id"], "no")
    # A task never handed to them: refused; another workspace's: not there.
    other_task = queue.next_task(a.ctx(rt, "reviewer"), a.project_id)
    with pytest.raises(PermissionDenied, match="not assigned"):
        questions.ask_question(worker, a.project_id, other_task["id"], "What is this?")
    with pytest.raises(NotFound):
        questions.ask_question(b.ctx(rt, "annotator"), b.project_id, task["id"], "Hello?")
    with pytest.raises(NotFound):
        questions.answer_question(b.ctx(rt, "manager"), b.project_id, asked["id"], "no")
    with pytest.raises(NotFound):
        questions.answer_question(b.ctx(rt, "manager"), a.project_id, asked["id"], "no")
    with pytest.raises(NotFound):
        questions.answer_question(a.ctx(rt, "manager"), a.project_id, "qst_" + "0" * 32, "no")
    with pytest.raises(NotFound):
        questions.list_questions(b.ctx(rt, "manager"), a.project_id)
    assert questions.my_questions(a.ctx(rt, "reviewer"), a.project_id) == []  # only one's own
    for bad, field in (("", "text"), ("   ", "text"), ("x" * 5001, "text"), ("a\x00b", "text"), (7, "text")):
        with pytest.raises(InvalidInput, match=field):
            questions.ask_question(worker, a.project_id, task["id"], bad)
    with pytest.raises(InvalidInput, match="answer"):
        questions.answer_question(a.ctx(rt, "manager"), a.project_id, asked["id"], " ")
    with pytest.raises(InvalidInput, match="state"):
        questions.list_questions(a.ctx(rt, "manager"), a.project_id, state="closed")
