"""Questions about a task: a person labelling asks the project's managers, a manager answers.

* Asked from the labelling page on the task in front of the person (one they were
  handed): the text is sealed with the project's key (it quotes the task), and the
  person keeps their lease or gives the task back (it is skipped for them and goes on
  to someone else).
* Owners and managers (``question.answer``) read the project's questions — open first
  — and answer; answering again replaces the answer and tells the asker again.
* The asker reads their questions with the answers on their list of answers; a notice
  on the labelling page counts the answers they have not read yet, until they mark
  them read (a POST: a page view changes nothing).

States: ``open`` (waiting) and ``answered``. The table is general (task, asker, text,
answer, answerer, times, state) so that other uses — an FAQ made of answered
questions — can build on it. Every read of a question's text is walled and audited.
"""

from __future__ import annotations

from typing import Any

from .context import Context, Unit
from .projects import bump_counts, load_project
from .tasks import find_task_row, task_dict
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..storage import questions_store, users_store
from ..storage import queue_store as qs
from ..storage.questions_store import QuestionRow

MAX_TEXT = 5000
STATES = ("open", "answered")
MAX_PAGE = 200


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field}: write a few words")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field}: at most {MAX_TEXT} characters")
    if "\x00" in value:
        raise InvalidInput(f"{field}: must not contain NUL characters")
    return value.strip()


def record_question(w: Unit, project_id: str, task_id: str, text: Any, *, keep_lease: bool) -> dict[str, Any]:
    """Ask about a task the caller was handed, inside an open transaction (the labelling page's call).

    ``keep_lease``: stay on the task; else it is given back (skipped for the caller).
    """
    text = _text(text, "text")
    w.hold_person()
    found = find_task_row(w, task_id)
    ws, me = found.workspace_id, w.actor.user_id
    if found.project_id != project_id:
        raise NotFound("task not found")
    w.access.require(Action.TASK_WORK, ws, what="task")
    mine = qs.find_assignment(w.tx, task_id, workspace_id=ws, user_id=me)
    w.access.require_task_visible(ws, mine is not None)
    w.see_content(ws)
    question_id = ids.new_id("qst")
    sealed = w.sealer(ws, found.key_id).seal_json("questions", question_id, "text", text)
    questions_store.insert_question(
        w.tx, question_id, workspace_id=ws, project_id=project_id, task_id=task_id, asker_id=me, text=sealed, now=w.now
    )
    w.audit(ws, "question.asked", question_id, task=task_id)
    if not keep_lease:
        if mine is None or not qs.skip_assignment(w.tx, mine.id, task_id, workspace_id=ws, now=w.now):
            raise Conflict("this task is not leased to you: there is nothing to give back")
        bump_counts(w, ws, project_id, skips=1)
        w.audit(ws, "task.skipped", task_id)
    return {"id": question_id, "task_id": task_id, "state": "open", "created_at": w.now}


def ask_question(ctx: Context, project_id: str, task_id: str, text: Any, *, keep_lease: bool = True) -> dict[str, Any]:
    """Ask the project's managers about a task you were handed."""
    with ctx.write() as w:
        return record_question(w, project_id, task_id, text, keep_lease=keep_lease)


def _question_dict(w: Unit, row: QuestionRow, key_id: str, names: dict[str, str]) -> dict[str, Any]:
    sealer = w.sealer(row.workspace_id, key_id)
    return {
        "id": row.id,
        "project_id": row.project_id,
        "task_id": row.task_id,
        "asker_id": row.asker_id,
        "asker": names.get(row.asker_id, row.asker_id),
        "text": sealer.open_json("questions", row.id, "text", row.text),
        "state": row.state,
        "answer": sealer.open_json("questions", row.id, "answer", row.answer) if row.answer is not None else None,
        "answerer": names.get(row.answerer_id or "", row.answerer_id),
        "created_at": row.created_at,
        "answered_at": row.answered_at,
        "seen_at": row.seen_at,
    }


def list_questions(
    ctx: Context, project_id: str, *, state: str | None = "open", cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """The project's questions for its managers (``state``: open, answered, or None for all), newest first.

    Each item adds the task's ``data`` (the asker's question is about it). Walled; audited (``questions.read``).
    """
    if state is not None and state not in STATES:
        raise InvalidInput(f"state: one of {', '.join(STATES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: from 1 to {MAX_PAGE}")
    if cursor is not None and not ids.has_prefix(cursor, "qst"):
        raise InvalidInput("cursor: not a cursor given by this page")
    with ctx.write() as w:
        project = load_project(w, project_id, Action.QUESTION_ANSWER)
        ws = project.workspace_id
        w.see_content(ws)
        rows = questions_store.list_project_questions(
            w.tx, project.id, workspace_id=ws, state=state, before=cursor, limit=limit + 1
        )
        page = rows[:limit]
        people = {r.asker_id for r in page} | {r.answerer_id for r in page if r.answerer_id}
        names = users_store.emails_of(w.tx, sorted(people))
        config = w.rt.task_types.get(project.task_type).parse_config(project.config)
        items = []
        for row in page:
            item = _question_dict(w, row, project.key_id, names)
            try:
                item["data"] = task_dict(w, find_task_row(w, row.task_id), project.key_id, full=True, config=config)[
                    "data"
                ]
            except NotFound:  # a canary (shown to its recipients only) or an item held for redaction review
                item["data"] = None
            items.append(item)
        w.audit(ws, "questions.read", project.id, count=len(items), state=state)
        return {
            "items": items,
            "next_cursor": page[-1].id if len(rows) > limit else None,
            "open": questions_store.count_open(w.tx, project.id, workspace_id=ws),
        }


def answer_question(ctx: Context, project_id: str, question_id: str, answer: Any) -> dict[str, Any]:
    """Answer a question (or replace the answer); the asker sees it on their list of answers."""
    answer = _text(answer, "answer")
    with ctx.write() as w:
        project = load_project(w, project_id, Action.QUESTION_ANSWER)
        ws = project.workspace_id
        w.see_content(ws)
        row = (
            questions_store.find_question(w.tx, question_id, workspace_id=ws) if isinstance(question_id, str) else None
        )
        if row is None or row.project_id != project.id:
            raise NotFound("question not found")
        sealed = w.sealer(ws, project.key_id).seal_json("questions", row.id, "answer", answer)
        questions_store.answer_question(
            w.tx, row.id, workspace_id=ws, answer=sealed, answerer_id=ctx.actor.user_id, now=w.now
        )
        w.audit(ws, "question.answered", row.id, task=row.task_id, again=row.state == "answered")
        return {"id": row.id, "task_id": row.task_id, "state": "answered", "answer": answer, "answered_at": w.now}


def my_questions(ctx: Context, project_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The caller's own questions in the project with their answers, newest first (walled; audited)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_WORK)
        ws = project.workspace_id
        w.see_content(ws)
        rows = questions_store.list_asked(w.tx, project.id, workspace_id=ws, user_id=ctx.actor.user_id, limit=limit)
        names = users_store.emails_of(w.tx, sorted({r.answerer_id for r in rows if r.answerer_id}))
        items = [_question_dict(w, row, project.key_id, names) for row in rows]
        if items:
            w.audit(ws, "questions.read", project.id, count=len(items), asker=ctx.actor.user_id)
        return items


def unseen_answers(u: Unit, project_id: str, *, workspace_id: str) -> int:
    """How many answers to the caller's questions in the project they have not marked read (a count)."""
    return questions_store.count_unseen_answers(u.tx, project_id, workspace_id=workspace_id, user_id=u.actor.user_id)


def mark_answers_read(ctx: Context, project_id: str) -> int:
    """The caller has read the answers to their questions in the project; returns how many were new."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_WORK)
        ws = project.workspace_id
        count = questions_store.mark_seen(w.tx, project.id, workspace_id=ws, user_id=ctx.actor.user_id, now=w.now)
        if count:
            w.audit(ws, "questions.answers_read", project.id, count=count)
        return count


__all__ = [
    "answer_question",
    "ask_question",
    "list_questions",
    "mark_answers_read",
    "my_questions",
    "record_question",
    "unseen_answers",
]
