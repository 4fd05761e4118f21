"""Redaction at import, held tasks, and re-identification by owners.

A project whose config has a ``redaction`` section (``bastion.redaction.policy``)
is redacted at import, before anything is sealed: the stored ``data`` is the
redacted text, with typed pseudonyms (``[PERSON_1]``), and nothing human-facing
is ever made from the original.

Pseudonyms are numbered per task, in order of first appearance, the same in
every field of its data, its predictions and its gold answer — and nothing
carries over to another task. Numbers kept per project would be an oracle: a
manager (who may import but not re-identify) imports a guess and compares its
pseudonym with the stored ones, and an annotator who sees two tasks learns they
name the same person. So what redaction found goes, sealed with the project's
key, to the one place only owners read: the task's record (``task_redactions``),
its findings with their originals and the offset map of every changed field —
so the original text is rebuilt exactly, span annotations made on the redacted
text map back onto it, and pseudonyms typed in free text are read with the
task's own numbers.

Predictions and gold answers follow their task: span offsets are mapped onto
the redacted text (and their ``text`` re-derived); their free-text fields
(``text``, ``other_text``, ``rationale``, …) are redacted with the task's
numbers.

Held tasks: a finding below the policy's ``review_below`` holds the task. It is
stored redacted, with ``held`` and ``done`` set (so it never enters the queue
index), and waits for an owner to release it. So does a task whose
predictions no longer fit after redaction (a span cut through a redacted value).

Re-identification — a task's original text (``reidentify_task``) or an export
with ``reidentify`` — is for owners only (``redaction.reidentify``) and is
audited every time.

Speed: redacting a batch is CPU work on the tasks alone — no lookup, no
transaction, no state shared between imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import approvals
from .context import Context, Unit
from .projects import config_of, load_project
from .tasks import find_task_row
from ..access import Action
from ..domain.errors import InvalidAnswer, InvalidInput
from ..domain.fieldpaths import join_path, replace_strings, walk_strings
from ..domain.tasks import TaskInput
from ..redaction import OffsetMap, Pseudonymizer, Redactor, compile_policy, load_policy
from ..redaction.pseudonyms import PSEUDONYM_PATTERN
from ..storage import annotations_store
from ..storage import redaction_store as store
from ..storage.crypto import Sealer


def policy_of(config: Any):
    """The project's compiled policy, or None when it redacts nothing."""
    raw = getattr(config, "redaction", None)
    if raw is None:
        return None
    policy = load_policy(raw)
    return compile_policy(policy) if policy.enabled else None


# -- import ------------------------------------------------------------------------


@dataclass
class RedactedBatch:
    """A batch after redaction: the tasks to store, which are held, and each one's record (to seal)."""

    batch: list[tuple[int, TaskInput]]
    held: list[bool]
    records: list[dict | None]

    def sealed_records(self, sealer: Sealer, task_ids: list[str]) -> dict[str, bytes]:
        return {
            task_id: sealer.seal_json("task_redactions", task_id, "record", record)
            for task_id, record in zip(task_ids, self.records, strict=True)
            if record is not None
        }


def redact_batch(project, task_type, config, batch: list[tuple[int, TaskInput]]) -> RedactedBatch | None:
    """Redact a validated batch under the project's policy (None when it has none); each task numbered afresh."""
    redactor = policy_of(config)
    if redactor is None:
        return None
    out = [_redact_task(redactor, task_type, config, task) for _line, task in batch]
    return RedactedBatch(
        batch=[(line, task) for (line, _), (task, _, _) in zip(batch, out, strict=True)],
        held=[held for _, held, _ in out],
        records=[record for _, _, record in out],
    )


def _redact_task(redactor: Redactor, task_type, config, task: TaskInput) -> tuple[TaskInput, bool, dict | None]:
    pseudonyms = Pseudonymizer()  # this task's numbers: its data first, then its predictions and gold
    result = redactor.redact_item(task.data, pseudonyms)
    findings = [_finding_json(f) for f in result.findings]
    reasons = list(result.held_reasons)
    offsets = result.offsets

    def follow(answer: Any, where: str, validate) -> Any:
        mapped = _move_offsets(task_type, config, answer, offsets, to_redacted=True)
        mapped = _redact_free_text(redactor, pseudonyms, task_type, config, mapped, where, findings)
        try:
            return validate(mapped)
        except InvalidAnswer as exc:
            reasons.append(f"{where}: no longer valid after redaction ({exc.message})")
            return None

    predictions = task.predictions
    if predictions:
        kept = []
        for i, prediction in enumerate(predictions):
            mapped = follow(
                prediction, f"predictions[{i}]", lambda p: task_type.validate_prediction(config, result.data, p)
            )
            if mapped is not None:
                kept.append(mapped)
        predictions = kept or None
    gold = task.gold
    if gold is not None:
        gold = follow(gold, "gold", lambda g: task_type.validate_result(config, result.data, g))
        if gold is None:
            gold = task.gold  # keep the answer, sealed, for the owner; the task is held
            gold = _move_offsets(task_type, config, gold, offsets, to_redacted=True)
    held = bool(reasons)
    redacted = replace(task, data=result.data, predictions=predictions, gold=gold)
    if not findings and not held:
        return redacted, False, None
    record = {
        "offsets": {path: m.to_json() for path, m in offsets.items()},
        "findings": findings,
        "held_reasons": reasons,
    }
    return redacted, held, record


def _finding_json(f) -> dict:
    return {
        "field": f.field,
        "entity_type": f.entity_type,
        "pseudonym": f.pseudonym,
        "original": f.original,
        "start": f.start,
        "end": f.end,
        "redacted_start": f.redacted_start,
        "redacted_end": f.redacted_end,
        "confidence": round(f.confidence, 4),
        "detector": f.detector,
    }


def _move_offsets(
    task_type,
    config,
    answer: Any,
    offsets: Mapping[str, OffsetMap],
    *,
    to_redacted: bool,
    after: Mapping[str, str] | None = None,
) -> Any:
    """A result's offsets moved between the original and the redacted text (the task type knows where they
    are); derived text re-read from ``after`` (the texts they now point into), else dropped: re-derived."""

    def move(path: str, start: int, end: int) -> tuple[int, int]:
        mapping = offsets.get(path)
        if mapping is None:
            return start, end
        try:
            return (mapping.to_redacted if to_redacted else mapping.to_original)(start, end)
        except InvalidInput:
            return start, end  # out of range: validation names it

    return task_type.map_result_offsets(config, answer, move, after=after)


def _redact_free_text(
    redactor: Redactor, pseudonyms: Pseudonymizer, task_type, config, answer: Any, where: str, findings: list
) -> Any:
    """The free text of a prediction or gold answer (``TaskType.result_texts``) redacted with the task's numbers."""
    replacements = {}
    for path, text in task_type.result_texts(config, answer):
        redacted, _offsets, found = redactor.redact_text(text, pseudonyms, join_path(where, path))
        findings.extend(_finding_json(f) for f in found)
        replacements[path] = redacted
    return replace_strings(answer, replacements)


def store_records(w: Unit, project, records: Mapping[str, bytes]) -> None:
    """In the import batch's transaction: the records of the tasks that were inserted."""
    store.insert_records(w.tx, project.workspace_id, project.id, records)


# -- held tasks ----------------------------------------------------------------------


def list_held(ctx: Context, project_id: str, *, after: str = "", limit: int = 100) -> dict[str, Any]:
    """Tasks redaction held for review (owners): ids and reasons, never their text."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: from 1 to 1000")
    if not isinstance(after, str) or len(after) > 60:
        raise InvalidInput("after: not a task id returned by this API")
    with ctx.read() as r:
        project = load_project(r, project_id, Action.REDACTION_REVIEW)
        ws = project.workspace_id
        r.see_content(ws)  # a review queue: what redaction found, in which of the client's fields
        rows = store.held_tasks(r.tx, ws, project.id, after, limit + 1)
        sealer = r.sealer(ws, project.key_id)
        held = []
        for row in rows[:limit]:
            blob = store.record_of(r.tx, ws, row.id)
            record = sealer.open_json("task_redactions", row.id, "record", blob) if blob else {}
            held.append(
                {
                    "task_id": row.id,
                    "created_at": row.created_at,
                    "reasons": record.get("held_reasons", []),
                    "findings": len(record.get("findings", [])),
                }
            )
        return {"items": held, "next_cursor": rows[limit - 1].id if len(rows) > limit else None}


def release_held(ctx: Context, task_id: str) -> dict[str, Any]:
    """An owner lets a held task into the queue (audited)."""
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        w.access.require(Action.REDACTION_REVIEW, ws, what="task")
        if not store.release_task(w.tx, ws, task_id, found.overlap):
            raise InvalidInput(f"task_id: {task_id} is not held")
        w.audit(ws, "task.released", task_id)
        return {"task_id": task_id, "held": False}


# -- re-identification ----------------------------------------------------------------


def reidentify_task(
    ctx: Context, task_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> dict[str, Any]:
    """One task as it was imported, with what redaction found and its annotations on the original text.

    Owners, with two-person approval (services/approvals.py); audited.
    """
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        w.access.require(Action.REDACTION_REIDENTIFY, ws, what="task")
        w.see_content(ws)  # walls first: a walled person is refused as such, approval or not
        approvals.consume(
            w, "redaction.reidentify", ws, {"task": task_id}, approval_id=approval, break_glass=break_glass
        )
        sealer = w.sealer(ws, found.key_id)
        body = sealer.open_json("tasks", task_id, "payload", found.payload)
        blob = store.record_of(w.tx, ws, task_id)
        record = sealer.open_json("task_redactions", task_id, "record", blob) if blob else {}
        task_type = w.rt.task_types.get(found.task_type)
        config = config_of(w, found)
        predictions = (
            sealer.open_json("tasks", task_id, "predictions", found.predictions)
            if found.predictions is not None
            else []
        )
        data = restore_data(body["data"], record)
        restorer = _Restorer(record, task_type, config, data)
        held = store.task_flags(w.tx, ws, task_id)[0]
        annotations = [
            {
                "id": row.id,
                "user_id": row.user_id,
                "created_at": row.created_at,
                "result": restorer.answer(sealer.open_json("annotations", row.id, "result", row.result)),
            }
            for row in annotations_store.list_task_annotations(w.tx, task_id, workspace_id=ws)
        ]
        out = {
            "id": task_id,
            "project_id": found.project_id,
            "data": data,
            "redacted_data": body["data"],
            "predictions": [restorer.answer(p) for p in predictions],
            "annotations": annotations,
            "findings": record.get("findings", []),
            "held": held,
            "held_reasons": record.get("held_reasons", []),
        }
        w.audit(ws, "task.reidentified", task_id, findings=len(out["findings"]))
        return out


def restore_data(data: Any, record: Mapping[str, Any]) -> Any:
    """The original data: every redacted field rebuilt from its findings (exact, offsets and all)."""
    by_field: dict[str, list[dict]] = {}
    for finding in record.get("findings", []):
        if finding["field"] in record.get("offsets", {}):
            by_field.setdefault(finding["field"], []).append(finding)
    if not by_field:
        return data

    def rebuilt(value: str, found: list[dict]) -> str:
        pieces, cursor = [], 0
        for f in sorted(found, key=lambda f: f["redacted_start"]):
            pieces.append(value[cursor : f["redacted_start"]])
            pieces.append(f["original"])
            cursor = f["redacted_end"]
        pieces.append(value[cursor:])
        return "".join(pieces)

    return replace_strings(
        data,
        {path: rebuilt(value, by_field[path]) for path, _segments, value in walk_strings(data) if path in by_field},
    )


class _Restorer:
    """Re-identifies one task's results: offsets map back (the task type moves them), pseudonyms by its findings.

    A token means something only in its own task (numbers are per task), so only
    the task's own record is read; a token it does not know stays as it is. Text a
    result derives from the task's (what its offsets cover) is re-read from the
    original, never token by token.
    """

    def __init__(self, record: Mapping[str, Any], task_type, config, original_data: Any) -> None:
        self.offsets = {p: OffsetMap.from_json(m) for p, m in record.get("offsets", {}).items()}
        self.originals: dict[str, str] = {}
        for finding in record.get("findings", []):
            self.originals.setdefault(finding["pseudonym"], finding["original"])
        self.task_type, self.config = task_type, config
        self.texts = {
            f: original_data[f]
            for f in task_type.offset_fields(config)
            if isinstance(original_data, dict) and isinstance(original_data.get(f), str)
        }

    def answer(self, answer: Any) -> Any:
        return _move_offsets(
            self.task_type, self.config, self._tokens(answer), self.offsets, to_redacted=False, after=self.texts or None
        )

    def _tokens(self, value: Any) -> Any:
        if not self.originals:
            return value
        return replace_strings(
            value,
            {
                path: PSEUDONYM_PATTERN.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)
                for path, _segments, text in walk_strings(value)
                if "[" in text
            },
        )


def reidentify_records(u: Unit, project, task_type, config, page: list[dict]) -> None:
    """An export page re-identified in place (the export already checked and audited the right)."""
    ws = project.workspace_id
    require_reidentify(u, ws)  # re-checked for every page: a role taken away mid-export stops it
    if not page:
        return
    sealer = u.sealer(ws, project.key_id)
    records = {
        task_id: sealer.open_json("task_redactions", task_id, "record", blob)
        for task_id, blob in store.records_between(u.tx, ws, project.id, page[0]["id"], page[-1]["id"])
    }
    for row in page:
        record = records.get(row["id"], {})
        row["data"] = restore_data(row["data"], record)
        restorer = _Restorer(record, task_type, config, row["data"])
        row["predictions"] = [restorer.answer(p) for p in row.get("predictions") or []]
        if row.get("gold") is not None:
            row["gold"] = restorer.answer(row["gold"])
        for annotation in row.get("annotations") or []:
            annotation["result"] = restorer.answer(annotation["result"])
            review = annotation.get("review") or {}
            if review.get("correction") is not None:
                review["correction"] = restorer.answer(review["correction"])


def require_reidentify(u: Unit, workspace_id: str) -> None:
    u.access.require(Action.REDACTION_REIDENTIFY, workspace_id, what="project")


__all__ = [
    "RedactedBatch",
    "list_held",
    "policy_of",
    "redact_batch",
    "reidentify_records",
    "reidentify_task",
    "release_held",
    "require_reidentify",
    "restore_data",
    "store_records",
]
