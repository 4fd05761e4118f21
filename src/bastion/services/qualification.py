"""Qualification tests: a project of gold tasks that grades people and grants a skill.

A project whose settings carry ``qualification: {"grants": "history:3",
"pass_score": 0.8, "retake_after_days": 7}`` is a test: each person works
through every one of its gold tasks (overlap does not apply — everyone takes the
whole test). When they have answered the last one, their answers are compared
with the gold answers by the task type (``TaskType.gold_score``), the result is
recorded (visible to the person and to managers), and passing grants the skill.
Failing blocks a retake for ``retake_after_days``; a retake starts the person's
test afresh (their earlier answers to it are removed — the result row keeps the
score they got).
"""

from __future__ import annotations

from .context import Context, Unit
from .projects import load_project
from ..access import Action
from ..domain.errors import NotFound
from ..domain.projects import Project
from ..storage import annotations_store, qualification_store, queue_store, tasks_store, workforce_store
from ..storage.qualification_store import QualificationResult

DAY_MS = 24 * 3600 * 1000


def result_of(w: Unit, project: Project, user_id: str) -> QualificationResult | None:
    """The person's latest result on the test, if they were graded."""
    return qualification_store.find_result(w.tx, project.id, workspace_id=project.workspace_id, user_id=user_id)


def may_take(w: Unit, project: Project, user_id: str) -> bool:
    """Whether the person may get tasks of this test now (resetting an allowed retake)."""
    result = result_of(w, project, user_id)
    if result is None:
        return True
    if result.passed or (result.retake_after is not None and w.now < result.retake_after):
        return False
    ws = project.workspace_id
    removed = annotations_store.delete_answers(w.tx, project.id, workspace_id=ws, user_id=user_id)
    queue_store.delete_assignments(w.tx, project.id, workspace_id=ws, user_id=user_id)
    w.audit(ws, "qualification.retake", user_id, removed_answers=removed)
    return True


def grade_if_complete(w: Unit, project: Project, user_id: str, task_type, config) -> dict | None:
    """After an answer: if the person has answered every gold task, grade and record the test."""
    rule = project.settings.qualification
    if rule is None:  # not a qualification test
        return None
    ws = project.workspace_id
    golds = tasks_store.list_gold_tasks(w.tx, project.id, workspace_id=ws)
    if not golds:
        return None
    answers = {a.task_id: a for a in annotations_store.list_answers(w.tx, project.id, workspace_id=ws, user_id=user_id)}
    if any(g.id not in answers for g in golds):
        return None
    sealer = w.sealer(ws, project.key_id)
    score = 0.0
    for g in golds:
        data = sealer.open_json("tasks", g.id, "payload", g.payload)["data"]
        gold = sealer.open_json("tasks", g.id, "gold", g.gold)
        answer = answers[g.id]
        result = sealer.open_json("annotations", answer.id, "result", answer.result)
        score += task_type.gold_score(config, data, result, gold)
    total = len(golds)
    passed = score / total >= rule.pass_score
    retake_after = None if passed else w.now + rule.retake_after_days * DAY_MS
    qualification_store.replace_result(
        w.tx,
        project.id,
        workspace_id=ws,
        user_id=user_id,
        correct=round(score),
        total=total,
        passed=passed,
        taken_at=w.now,
        retake_after=retake_after,
    )
    w.audit(ws, "qualification.graded", user_id, score=round(score / total, 4), passed=passed)
    if passed:
        name, level = rule.grants.split(":")[0], int(rule.grants.split(":")[1]) if ":" in rule.grants else 1
        held = workforce_store.list_skill_levels(w.tx, user_id).get(name)
        if held is None or held < level:
            workforce_store.replace_skill(
                w.tx, user_id, name, level=level, source=f"qualification:{project.id}", now=w.now
            )
            w.audit(ws, "person.skill_granted", user_id, skill=name, level=level, source=f"qualification:{project.id}")
    return {"score": score / total, "passed": passed}


def results(ctx: Context, project_id: str) -> list[dict]:
    """A test's results: everyone's for managers, one's own for the people who took it."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.PROJECT_READ)
        only = None if r.access.allows(Action.MEMBER_READ, project.workspace_id) else ctx.actor.user_id
        rows = qualification_store.list_results(r.tx, project.id, workspace_id=project.workspace_id, user_id=only)
        if project.settings.qualification is None:
            raise NotFound("this project is not a qualification test")
    return [
        {
            "user_id": x.user_id,
            "email": x.email,
            "correct": x.correct,
            "total": x.total,
            "passed": x.passed,
            "taken_at": x.taken_at,
            "retake_after": x.retake_after,
        }
        for x in rows
    ]
