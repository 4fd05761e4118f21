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

from sqlalchemy import delete, func, insert, select

from ..access import Action
from ..domain.errors import NotFound
from ..domain.projects import Project
from ..storage import schema
from .context import Context, Unit

T = schema.tasks
N = schema.annotations
A = schema.assignments
Q = schema.qualification_results
DAY_MS = 24 * 3600 * 1000


def result_of(w: Unit, project: Project, user_id: str):
    return w.execute(select(Q).where(Q.c.workspace_id == project.workspace_id, Q.c.project_id == project.id,
                                     Q.c.user_id == user_id)).first()


def may_take(w: Unit, project: Project, user_id: str) -> bool:
    """Whether the person may get tasks of this test now (resetting an allowed retake)."""
    result = result_of(w, project, user_id)
    if result is None:
        return True
    if result.passed or (result.retake_after is not None and w.now < result.retake_after):
        return False
    ws = project.workspace_id
    mine = (N.c.workspace_id == ws, N.c.project_id == project.id, N.c.user_id == user_id)
    removed = w.execute(delete(N).where(*mine)).rowcount
    w.execute(delete(A).where(A.c.workspace_id == ws, A.c.project_id == project.id, A.c.user_id == user_id))
    w.audit(ws, "qualification.retake", user_id, removed_answers=removed)
    return True


def grade_if_complete(w: Unit, project: Project, user_id: str, task_type, config) -> dict | None:
    """After an answer: if the person has answered every gold task, grade and record the test."""
    ws = project.workspace_id
    golds = w.execute(select(T.c.id, T.c.payload, T.c.gold).where(
        T.c.workspace_id == ws, T.c.project_id == project.id, T.c.is_gold.is_(True))).all()
    if not golds:
        return None
    answers = dict(w.execute(select(N.c.task_id, N.c.result).where(
        N.c.workspace_id == ws, N.c.project_id == project.id, N.c.user_id == user_id)).all())
    if any(g.id not in answers for g in golds):
        return None
    sealer = w.sealer(ws, project.key_id)
    answer_ids = dict(w.execute(select(N.c.task_id, N.c.id).where(
        N.c.workspace_id == ws, N.c.project_id == project.id, N.c.user_id == user_id)).all())
    score = 0.0
    for g in golds:
        data = sealer.open_json("tasks", g.id, "payload", g.payload)["data"]
        gold = sealer.open_json("tasks", g.id, "gold", g.gold)
        result = sealer.open_json("annotations", answer_ids[g.id], "result", answers[g.id])
        score += task_type.gold_score(config, data, result, gold)
    total = len(golds)
    rule = project.settings.qualification
    passed = score / total >= rule.pass_score
    retake_after = None if passed else w.now + rule.retake_after_days * DAY_MS
    w.execute(delete(Q).where(Q.c.workspace_id == ws, Q.c.project_id == project.id, Q.c.user_id == user_id))
    w.execute(insert(Q).values(workspace_id=ws, project_id=project.id, user_id=user_id, correct=round(score),
                               total=total, passed=passed, taken_at=w.now, retake_after=retake_after))
    w.audit(ws, "qualification.graded", user_id, score=round(score / total, 4), passed=passed)
    if passed:
        SK = schema.skills
        name, level = rule.grants.split(":")[0], int(rule.grants.split(":")[1]) if ":" in rule.grants else 1
        held = w.execute(select(SK.c.level).where(SK.c.user_id == user_id, SK.c.skill == name)).scalar()
        if held is None or held < level:
            w.execute(delete(SK).where(SK.c.user_id == user_id, SK.c.skill == name))
            w.execute(insert(SK).values(user_id=user_id, skill=name, level=level,
                                        source=f"qualification:{project.id}", granted_at=w.now))
            w.audit(ws, "person.skill_granted", user_id, skill=name, level=level, source=f"qualification:{project.id}")
    return {"score": score / total, "passed": passed}


def results(ctx: Context, project_id: str) -> list[dict]:
    """A test's results: everyone's for managers, one's own for the people who took it."""
    from .projects import load_project

    with ctx.read() as r:
        project = load_project(r, project_id, Action.PROJECT_READ)
        query = select(Q, schema.users.c.email).join(schema.users, schema.users.c.id == Q.c.user_id).where(
            Q.c.workspace_id == project.workspace_id, Q.c.project_id == project.id)
        if not r.access.allows(Action.MEMBER_READ, project.workspace_id):
            query = query.where(Q.c.user_id == ctx.actor.user_id)
        rows = r.execute(query.order_by(Q.c.taken_at)).all()
        if project.settings.qualification is None:
            raise NotFound("this project is not a qualification test")
    return [{"user_id": x.user_id, "email": x.email, "correct": x.correct, "total": x.total, "passed": x.passed,
             "taken_at": x.taken_at, "retake_after": x.retake_after} for x in rows]


def gold_count(w: Unit, project: Project) -> int:
    return w.execute(select(func.count()).select_from(T).where(
        T.c.workspace_id == project.workspace_id, T.c.project_id == project.id, T.c.is_gold.is_(True))).scalar_one()
