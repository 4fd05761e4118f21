"""Canaries: owner-approved synthetic tasks, each recipient shown a fictitious fact of their own.

A canary's template is a task row flagged ``is_canary``, stored done so no queue
query ever picks it (storage/canaries_store.py). :func:`maybe_issue_canary` runs
in ``lease_next``: at the project's ``canary_rate`` a person gets a canary they
have not had, rendered with their own facts (services/variants.py). A submission
on a canary is checked like any result (the person sees nothing different) but
is **not an annotation**: it is kept, sealed, on the canary's issue row, and
never reaches annotations, review, agreement or exports (only the project's
annotation counter moves, as it would for a real one).

Canaries survive paraphrase where variant slots do not: services/tracing.py
matches leaked text on their facts. Owners create, approve and retire them and
read who got which fact — with two-person approval, since that list names people.
"""

from __future__ import annotations

import random
import re
from typing import Any

from . import approvals
from .context import Context, Unit
from .projects import bump_counts, load_project
from .variants import View, tracing_settings
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.fieldpaths import walk_strings
from ..leaks.canaries import PLACEHOLDERS, canary_fact, render_canary_data
from ..storage import canaries_store
from ..storage import queue_store as qs
from ..storage.workspace_secret import workspace_secret

_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def _check_canary_data(task_type, config, data: Any) -> None:
    if not isinstance(data, dict):
        raise InvalidInput("data: required, a JSON object shaped like the project's tasks")
    text = "\n".join(text for _path, _segments, text in walk_strings(data))
    used = set(_ANY_PLACEHOLDER.findall(text))
    missing = [p for p in PLACEHOLDERS if p not in used]
    unknown = sorted(used - set(PLACEHOLDERS))
    if missing or unknown:
        raise InvalidInput(
            "data: a canary uses each of {name}, {figure}, {date} and {place} "
            f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})"
        )
    sample = render_canary_data(
        data, {"name": "Ada Example", "figure": "1,234", "date": "3 March", "place": "Exampleton"}
    )
    problem = task_type.check_data(config, sample)
    if problem:
        raise InvalidInput(problem)


def _canary_row(u: Unit, canary_id: str, action: Action) -> canaries_store.CanaryRow:
    """The canary, within the actor's workspaces (NotFound elsewhere), if they may take ``action``."""
    row = canaries_store.find_canary(
        u.tx, canary_id, workspace_ids=None if u.actor.is_system else u.access.workspace_ids()
    )
    if row is None:
        raise NotFound("canary not found")
    u.access.require(action, row.workspace_id, what="canary")
    return row


def create_canary(ctx: Context, project_id: str, data: Any) -> dict[str, Any]:
    """An owner proposes a canary for a project (a draft until an owner approves it)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.CANARY_MANAGE)
        if project.settings.qualification is not None:
            raise InvalidInput("project: a qualification test has no canaries")
        ws = project.workspace_id
        task_type = w.rt.task_types.get(project.task_type)
        config = task_type.parse_config(project.config)
        _check_canary_data(task_type, config, data)
        canary_id = ids.new_id("tsk")  # a task id like any other: nothing tells a recipient apart
        sealer = w.sealer(ws, project.key_id)
        canaries_store.insert_canary(
            w.tx,
            canary_id,
            workspace_id=ws,
            project_id=project.id,
            dedupe_key=sealer.index_hash(b"canary", project.id, canary_id),
            payload=sealer.seal_json("tasks", canary_id, "payload", {"data": data}),
            created_by=None if ctx.actor.is_system else ctx.actor.user_id,
            now=w.now,
        )
        w.audit(ws, "canary.created", canary_id, project=project.id)
        return _canary_out(w, ws, canary_id)


def set_canary_state(ctx: Context, canary_id: str, state: str) -> dict[str, Any]:
    """Approve a draft (it starts being issued) or retire a canary (no longer issued; still traced)."""
    if state not in ("approved", "retired"):
        raise InvalidInput("state: approved or retired")
    with ctx.write() as w:
        row = _canary_row(w, canary_id, Action.CANARY_MANAGE)
        w.see_content(row.workspace_id)  # the answer carries the canary's text
        if state == "approved":
            if row.state != "draft":
                raise Conflict(f"this canary is {row.state}; only a draft can be approved")
            if ctx.actor.is_system:
                raise InvalidInput("approval: a canary is approved by a project owner, not the local operator")
            canaries_store.approve_canary(
                w.tx, canary_id, workspace_id=row.workspace_id, user_id=ctx.actor.user_id, now=w.now
            )
        else:
            if row.state == "retired":
                raise Conflict("this canary is already retired")
            canaries_store.retire_canary(w.tx, canary_id, workspace_id=row.workspace_id)
        w.audit(row.workspace_id, f"canary.{state}", canary_id)
        return _canary_out(w, row.workspace_id, canary_id)


def list_canaries(
    ctx: Context, project_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> list[dict[str, Any]]:
    """A project's canaries with their texts (owners, with two-person approval: services/approvals.py; walled,
    audited as ``canaries.listed``)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.CANARY_MANAGE)
        w.see_content(project.workspace_id)
        approvals.consume(
            w,
            "canary.list",
            project.workspace_id,
            {"project": project.id},
            approval_id=approval,
            break_glass=break_glass,
        )
        ids_ = canaries_store.list_canary_ids(w.tx, project.id, workspace_id=project.workspace_id)
        w.audit(project.workspace_id, "canaries.listed", project.id, count=len(ids_))
        return [_canary_out(w, project.workspace_id, canary_id) for canary_id in ids_]


def get_canary(
    ctx: Context, canary_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> dict[str, Any]:
    """A canary with its recipients and the fact each was given (owners: to probe a model for them).

    With two-person approval (services/approvals.py).
    """
    with ctx.write() as w:
        row = _canary_row(w, canary_id, Action.CANARY_MANAGE)
        w.see_content(row.workspace_id)
        approvals.consume(
            w, "canary.list", row.workspace_id, {"canary": canary_id}, approval_id=approval, break_glass=break_glass
        )
        out = _canary_out(w, row.workspace_id, canary_id)
        secret = workspace_secret(w.rt.keyring, row.workspace_id)
        recipients = canaries_store.recipients_of(w.tx, [canary_id], workspace_id=row.workspace_id)[canary_id]
        out["recipients"] = [
            {"user_id": person, "facts": canary_fact(secret, canary_id, person).formatted()} for person in recipients
        ]
        w.audit(row.workspace_id, "canary.read", canary_id, recipients=len(recipients))
        return out


def _canary_out(u: Unit, workspace_id: str, canary_id: str) -> dict[str, Any]:
    row = canaries_store.get_canary(u.tx, canary_id, workspace_id=workspace_id)
    text = canaries_store.canary_text(u.tx, row, workspace_id=row.workspace_id)
    data = u.sealer(row.workspace_id, text.key_id).open_json("tasks", canary_id, "payload", text.payload)["data"]
    counts = canaries_store.issue_counts(u.tx, canary_id, workspace_id=row.workspace_id)
    return {
        "id": canary_id,
        "project_id": row.project_id,
        "state": row.state,
        "data": data,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "approved_by": row.approved_by,
        "approved_at": row.approved_at,
        "issued": counts.issued,
        "answered": counts.answered,
    }


def maybe_issue_canary(w: Unit, project, user_id: str) -> str | None:
    """In ``lease_next``: now and then (the project's ``canary_rate``), a canary this person has not had.

    Takes a lease slot like any task (the caller records the assignment) and
    records the issue; returns the canary's task id, or None.
    """
    if w.actor.is_system:
        return None
    rate = tracing_settings(w.rt, project.config).canary_rate
    if not rate or random.random() >= rate:
        return None
    ws = project.workspace_id
    if w.access.allows(Action.CANARY_MANAGE, ws):
        return None  # owners approve the canaries: showing them one proves nothing
    canary_id = canaries_store.next_canary(w.tx, project.id, user_id, workspace_id=ws)
    if canary_id is None or not qs.TAKE_ANY.run(w.tx, ws=ws, id=canary_id):
        return None
    canaries_store.issue_canary(
        w.tx, ids.new_id("cni"), workspace_id=ws, project_id=project.id, canary_id=canary_id, user_id=user_id, now=w.now
    )
    return canary_id


def answer_canary(
    w: Unit, found, view: View, task_type, config, data: Any, result: Any, lead_time_ms: int | None, mine
) -> dict[str, Any]:
    """A submission on a canary: checked like any result, kept on the issue, never an annotation."""
    ws, me = found.workspace_id, w.actor.user_id
    if mine is None:
        raise NotFound("task not found")
    normalised = task_type.validate_result(config, view.data(data), result)
    if mine[1] == "leased" and qs.CONSUME.run(w.tx, ws=ws, id=mine[0], now=w.now):
        qs.RELEASE_SLOT.run(w.tx, ws=ws, id=found.id)
    else:
        qs.set_assignment(w.tx, ws, found.project_id, found.id, me, "submitted", w.now)
    issue = canaries_store.issue_of(w.tx, found.id, me, workspace_id=ws)
    out = {
        "id": ids.new_id("ann"),
        "task_id": found.id,
        "project_id": found.project_id,
        "user_id": me,
        "result": normalised,
        "lead_time_ms": lead_time_ms,
        "created_at": w.now,
    }
    if issue is not None:
        sealed = w.sealer(ws, found.key_id).seal_json("canary_issues", issue.id, "result", out)
        canaries_store.answer_canary(w.tx, found.id, me, workspace_id=ws, result=sealed, now=w.now)
    # The project's annotation counter moves as for any submission: annotators read it, and a
    # counter that stood still would give the canary away (the canary API counts the answers).
    bump_counts(w, ws, found.project_id, annotations=1)
    w.audit(ws, "canary.answered", found.id)
    return out


# -- a recipient's own answer: listed, taken back and changed like any answer (services/own_annotations.py) ---------


def canary_answers(u: Unit, project_id: str, *, workspace_id: str, key_id: str) -> list[dict[str, Any]]:
    """The caller's answers to the project's canaries, as they submitted them (an annotation's shape)."""
    rows = canaries_store.list_answered(u.tx, project_id, workspace_id=workspace_id, user_id=u.actor.user_id)
    sealer = u.sealer(workspace_id, key_id)
    return [sealer.open_json("canary_issues", row.issue_id, "result", row.result) for row in rows]


def take_back_canary_answer(u: Unit, project, canary_id: str) -> None:
    """Undo on a canary: the answer goes, the canary is the caller's again under a fresh lease."""
    ws, me = project.workspace_id, u.actor.user_id
    canaries_store.replace_answer(u.tx, canary_id, me, workspace_id=ws, result=None)
    qs.TAKE_ANY.run(u.tx, ws=ws, id=canary_id)
    qs.set_assignment(u.tx, ws, project.id, canary_id, me, "leased", u.now + project.settings.lease_seconds * 1000)
    bump_counts(u, ws, project.id, annotations=-1)  # as the answer moved it (answer_canary)
    u.audit(ws, "canary.answer_taken_back", canary_id)


def change_canary_answer(
    u: Unit, found, view: View, task_type, config, data: Any, result: Any, answer: dict[str, Any]
) -> dict[str, Any]:
    """Edit on a canary: checked like any result; the issue keeps the new answer (same id, as listed)."""
    ws, me = found.workspace_id, u.actor.user_id
    normalised = task_type.validate_result(config, view.data(data), result)
    issue = canaries_store.issue_of(u.tx, found.id, me, workspace_id=ws)
    if issue is None:
        raise NotFound("annotation not found")
    out = {**answer, "result": normalised}
    sealed = u.sealer(ws, found.key_id).seal_json("canary_issues", issue.id, "result", out)
    canaries_store.replace_answer(u.tx, found.id, me, workspace_id=ws, result=sealed)
    u.audit(ws, "canary.answer_changed", found.id)
    return out


__all__ = [
    "answer_canary",
    "canary_answers",
    "change_canary_answer",
    "create_canary",
    "get_canary",
    "list_canaries",
    "maybe_issue_canary",
    "set_canary_state",
    "take_back_canary_answer",
]
