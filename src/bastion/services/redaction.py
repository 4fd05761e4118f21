"""Redaction at import, held items, and re-identification by owners.

A project whose config has a ``redaction`` section (``bastion.redaction.policy``)
is redacted at import, before anything is sealed: the stored ``data`` is the
redacted text, with typed, consistent pseudonyms (``[PERSON_3]``), and nothing
human-facing is ever made from the original. What redaction found goes, sealed
with the project's key, to places only owners read:

* the vault (``pseudonyms``): one row per distinct value, indexed by a keyed
  hash, holding the value first seen — so one value has one pseudonym
  throughout the project;
* the task's record (``task_redactions``): its findings with their originals
  and the offset map of every changed field — so the original text is rebuilt
  exactly, and span annotations made on the redacted text map back onto it.

Predictions and gold answers follow their item: span offsets are mapped onto
the redacted text (and their ``text`` re-derived); their free-text fields
(``text``, ``other_text``, ``rationale``, …) are redacted with the same vault.

Held items: a finding below the policy's ``review_below`` holds the item. It is
stored redacted, with ``held`` and ``done`` set (so it never enters the queue
index), and waits for an owner to release it. So does an item whose
predictions no longer fit after redaction (a span cut through a redacted value).

Re-identification — a task's original text (``reidentify_task``) or an export
with ``reidentify`` — is for owners only (``redaction.reidentify``) and is
audited every time.

Speed, and the trap it avoids: allocating pseudonyms one value at a time would
cost a transaction per new value. A batch is redacted once with provisional
numbers while the new values are collected, their numbers are allocated in one
short transaction (``storage/redaction_store.allocate``), and only the items
that used a provisional number are redacted again. The process keeps the
numbers it has seen (they never change for a project).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from ..access import Action
from ..domain.errors import InvalidAnswer, InvalidInput
from ..domain.tasks import TaskInput
from ..redaction import OffsetMap, Pseudonymizer, Redactor, compile_policy, load_policy
from ..redaction.pseudonyms import PSEUDONYM_PATTERN
from ..storage import redaction_store as store
from ..storage import schema
from ..storage.crypto import Sealer
from ..storage.workspace_secret import project_secret
from .context import Context, Unit
from .projects import load_project
from .tasks import find_task_row

FREE_TEXT_KEYS = frozenset({"text", "other_text", "rationale", "comment", "comments", "notes", "explanation",
                            "content", "completion", "response", "answer"})
VAULT_PURPOSE = "redaction-vault"
_PROVISIONAL = 999_999_999
_KNOWN_LIMIT = 200_000
_known: dict[tuple[str, str], dict[str, int]] = {}
_known_lock = threading.Lock()


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
    """A batch after redaction: the items to store, which are held, and each one's record (to seal)."""

    batch: list[tuple[int, TaskInput]]
    held: list[bool]
    records: list[dict | None]

    def sealed_records(self, sealer: Sealer, task_ids: list[str]) -> dict[str, bytes]:
        return {
            task_id: sealer.seal_json("task_redactions", task_id, "record", record)
            for task_id, record in zip(task_ids, self.records, strict=True) if record is not None
        }


class _BatchVault:
    """A Vault for one pass over a batch: known numbers, and provisional ones for new values."""

    def __init__(self, known: dict[str, int]) -> None:
        self.known = known
        self.pending: dict[str, store.NewValue] = {}
        self.used_provisional = False

    def find_number(self, key: str) -> int | None:
        return self.known.get(key)

    def allocate(self, key: str, label: str, original: str) -> int:
        self.pending.setdefault(key, store.NewValue(key, label, original))
        self.used_provisional = True
        return _PROVISIONAL

    def find_original(self, label: str, number: int) -> str | None:
        return None


def _known_numbers(workspace_id: str, project_id: str) -> dict[str, int]:
    with _known_lock:
        if sum(len(v) for v in _known.values()) > _KNOWN_LIMIT:
            _known.clear()
        return _known.setdefault((workspace_id, project_id), {})


def redact_batch(ctx: Context, project, task_type, config, batch: list[tuple[int, TaskInput]]) -> RedactedBatch | None:
    """Redact a validated batch under the project's policy (None when it has none)."""
    redactor = policy_of(config)
    if redactor is None:
        return None
    ws, pid = project.workspace_id, project.id
    secret = project_secret(ctx.rt.keyring, ws, pid, VAULT_PURPOSE)
    known = _known_numbers(ws, pid)
    span_field = task_type.span_field(config)
    out: list[Any] = [None] * len(batch)
    redo: list[int] = []
    pending: dict[str, store.NewValue] = {}
    for i, (_line, item) in enumerate(batch):
        vault = _BatchVault(known)
        out[i] = _redact_item(redactor, vault, secret, task_type, config, span_field, item)
        if vault.used_provisional:
            redo.append(i)
            pending.update(vault.pending)
    if pending:
        with ctx.write() as w:
            w.access.require(Action.TASK_IMPORT, ws, what="project")
            numbers = store.allocate(w.tx, w.sealer(ws, project.key_id), ws, pid, pending.values())
        with _known_lock:
            known.update(numbers)
        for i in redo:
            vault = _BatchVault(known)
            out[i] = _redact_item(redactor, vault, secret, task_type, config, span_field, batch[i][1])
            if vault.used_provisional:  # cannot happen: every value of the item is numbered now
                raise RuntimeError("redaction: a value was left without a pseudonym")
    return RedactedBatch(
        batch=[(line, item) for (line, _), (item, _, _) in zip(batch, out, strict=True)],
        held=[held for _, held, _ in out],
        records=[record for _, _, record in out],
    )


def _redact_item(redactor: Redactor, vault, secret: bytes, task_type, config, span_field: str | None,
                 item: TaskInput) -> tuple[TaskInput, bool, dict | None]:
    result = redactor.redact_item(item.data, vault, secret)
    pseudonyms = Pseudonymizer(vault, secret)
    findings = [_finding_json(f) for f in result.findings]
    reasons = list(result.held_reasons)
    offsets = result.offsets

    def follow(answer: Any, where: str, validate) -> Any:
        mapped = _map_spans(answer, span_field, offsets, to_redacted=True)
        mapped = _redact_free_text(redactor, pseudonyms, mapped, where, findings)
        try:
            return validate(mapped)
        except InvalidAnswer as exc:
            reasons.append(f"{where}: no longer valid after redaction ({exc.message})")
            return None

    predictions = item.predictions
    if predictions:
        kept = []
        for i, prediction in enumerate(predictions):
            mapped = follow(prediction, f"predictions[{i}]",
                            lambda p: task_type.validate_prediction(config, result.data, p))
            if mapped is not None:
                kept.append(mapped)
        predictions = kept or None
    gold = item.gold
    if gold is not None:
        gold = follow(gold, "gold", lambda g: task_type.validate_result(config, result.data, g))
        if gold is None:
            gold = item.gold  # keep the answer, sealed, for the owner; the item is held
            gold = _map_spans(gold, span_field, offsets, to_redacted=True)
    held = bool(reasons)
    redacted = replace(item, data=result.data, predictions=predictions, gold=gold)
    if not findings and not held:
        return redacted, False, None
    record = {
        "offsets": {path: m.to_json() for path, m in offsets.items()},
        "findings": findings,
        "held_reasons": reasons,
    }
    return redacted, held, record


def _finding_json(f) -> dict:
    return {"field": f.field, "entity_type": f.entity_type, "pseudonym": f.pseudonym, "original": f.original,
            "start": f.start, "end": f.end, "redacted_start": f.redacted_start, "redacted_end": f.redacted_end,
            "confidence": round(f.confidence, 4), "detector": f.detector}


def _map_spans(answer: Any, span_field: str | None, offsets: Mapping[str, OffsetMap], *, to_redacted: bool) -> Any:
    """Spans of a result moved between the original and the redacted text (``text`` dropped: re-derived)."""
    if not span_field or not isinstance(answer, dict) or not isinstance(answer.get("spans"), list):
        return answer
    mapping = offsets.get(span_field)
    spans = []
    for span in answer["spans"]:
        if isinstance(span, dict) and isinstance(span.get("start"), int) and isinstance(span.get("end"), int):
            span = {k: v for k, v in span.items() if k != "text"}
            if mapping is not None:
                move = mapping.to_redacted if to_redacted else mapping.to_original
                try:
                    span["start"], span["end"] = move(span["start"], span["end"])
                except InvalidInput:
                    pass  # out of range: validation names it
        spans.append(span)
    return {**answer, "spans": spans}


def _redact_free_text(redactor: Redactor, pseudonyms: Pseudonymizer, answer: Any, where: str, findings: list) -> Any:
    def visit(value: Any, path: str, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: visit(v, f"{path}.{k}", str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, f"{path}[{i}]", key) for i, v in enumerate(value)]
        if isinstance(value, str) and key in FREE_TEXT_KEYS:
            text, _offsets, found = redactor.redact_text(value, pseudonyms, path)
            findings.extend(_finding_json(f) for f in found)
            return text
        return value

    return visit(answer, where, None)


def store_records(w: Unit, project, records: Mapping[str, bytes]) -> None:
    """In the import batch's transaction: the records of the tasks that were inserted."""
    store.insert_records(w.tx, project.workspace_id, project.id, records)


# -- held items ----------------------------------------------------------------------


def list_held(ctx: Context, project_id: str, *, after: str = "", limit: int = 100) -> dict[str, Any]:
    """Items redaction held for review (owners): ids and reasons, never their text."""
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
        items = []
        for row in rows[:limit]:
            blob = store.record_of(r.tx, ws, row.id)
            record = sealer.open_json("task_redactions", row.id, "record", blob) if blob else {}
            items.append({"task_id": row.id, "created_at": row.created_at,
                          "reasons": record.get("held_reasons", []),
                          "findings": len(record.get("findings", []))})
        return {"items": items, "next_cursor": rows[limit - 1].id if len(rows) > limit else None}


def release_held(ctx: Context, task_id: str) -> dict[str, Any]:
    """An owner lets a held item into the queue (audited)."""
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        w.access.require(Action.REDACTION_REVIEW, ws, what="task")
        if not store.release_task(w.tx, ws, task_id, found.overlap):
            raise InvalidInput(f"task_id: {task_id} is not held")
        w.audit(ws, "task.released", task_id)
        return {"task_id": task_id, "held": False}


# -- re-identification ----------------------------------------------------------------


def reidentify_task(ctx: Context, task_id: str) -> dict[str, Any]:
    """One task as it was imported, with what redaction found and its annotations on the original text (owners; audited)."""
    with ctx.write() as w:
        found = find_task_row(w, task_id)
        ws = found.workspace_id
        w.access.require(Action.REDACTION_REIDENTIFY, ws, what="task")
        w.see_content(ws)
        sealer = w.sealer(ws, found.key_id)
        body = sealer.open_json("tasks", task_id, "payload", found.payload)
        blob = store.record_of(w.tx, ws, task_id)
        record = sealer.open_json("task_redactions", task_id, "record", blob) if blob else {}
        task_type = w.rt.task_types.get(found.task_type)
        from .projects import config_of

        span_field = task_type.span_field(config_of(w, found))
        restorer = _Restorer(w, sealer, ws, found.project_id)
        predictions = (sealer.open_json("tasks", task_id, "predictions", found.predictions)
                       if found.predictions is not None else [])
        data = restore_data(body["data"], record)
        held = store.task_flags(w.tx, ws, task_id)[0]
        N = schema.annotations
        annotations = [
            {"id": row.id, "user_id": row.user_id, "created_at": row.created_at,
             "result": restorer.answer(sealer.open_json("annotations", row.id, "result", row.result), record,
                                       span_field, data)}
            for row in w.execute(select(N.c.id, N.c.user_id, N.c.result, N.c.created_at).where(
                N.c.workspace_id == ws, N.c.task_id == task_id).order_by(N.c.id)).all()
        ]
        out = {
            "id": task_id, "project_id": found.project_id, "data": data, "redacted_data": body["data"],
            "predictions": [restorer.answer(p, record, span_field, data) for p in predictions],
            "annotations": annotations,
            "findings": record.get("findings", []), "held": held, "held_reasons": record.get("held_reasons", []),
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

    def visit(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: visit(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str) and path in by_field:
            pieces, cursor = [], 0
            for f in sorted(by_field[path], key=lambda f: f["redacted_start"]):
                pieces.append(value[cursor:f["redacted_start"]])
                pieces.append(f["original"])
                cursor = f["redacted_end"]
            pieces.append(value[cursor:])
            return "".join(pieces)
        return value

    return visit(data, "")


class _Restorer:
    """Re-identifies results: spans map back by offsets, pseudonyms in free text by the vault."""

    def __init__(self, u: Unit, sealer: Sealer, workspace_id: str, project_id: str) -> None:
        self.u, self.sealer, self.ws, self.project_id = u, sealer, workspace_id, project_id
        self.cache: dict[tuple[str, int], str | None] = {}

    def answer(self, answer: Any, record: Mapping[str, Any], span_field: str | None, original_data: Any) -> Any:
        offsets = {p: OffsetMap.from_json(m) for p, m in record.get("offsets", {}).items()}
        mapped = _map_spans(answer, span_field, offsets, to_redacted=False)
        if mapped is not answer and span_field and isinstance(original_data, dict):
            text = original_data.get(span_field)
            if isinstance(text, str):
                mapped["spans"] = [
                    {**s, "text": text[s["start"]:s["end"]]} if isinstance(s, dict) and isinstance(s.get("start"), int)
                    and isinstance(s.get("end"), int) else s for s in mapped["spans"]]
        return self._tokens(mapped)

    def _tokens(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if k == "spans" else self._tokens(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._tokens(v) for v in value]
        if isinstance(value, str) and "[" in value:
            tokens = {(m.group("label"), int(m.group("number"))) for m in PSEUDONYM_PATTERN.finditer(value)}
            missing = [t for t in tokens if t not in self.cache]
            if missing:
                found = store.find_originals(self.u.tx, self.sealer, self.ws, self.project_id, missing)
                for token in missing:
                    self.cache[token] = found.get(token)

            def swap(m) -> str:
                original = self.cache.get((m.group("label"), int(m.group("number"))))
                return m.group(0) if original is None else original

            return PSEUDONYM_PATTERN.sub(swap, value)
        return value


def reidentify_records(u: Unit, project, task_type, config, page: list[dict]) -> None:
    """An export page re-identified in place (the export already checked and audited the right)."""
    ws = project.workspace_id
    require_reidentify(u, ws)  # re-checked for every page: a role taken away mid-export stops it
    if not page:
        return
    sealer = u.sealer(ws, project.key_id)
    records = {task_id: sealer.open_json("task_redactions", task_id, "record", blob)
               for task_id, blob in store.records_between(u.tx, ws, project.id, page[0]["id"], page[-1]["id"])}
    span_field = task_type.span_field(config)
    restorer = _Restorer(u, sealer, ws, project.id)
    for row in page:
        record = records.get(row["id"], {})
        row["data"] = restore_data(row["data"], record)
        row["predictions"] = [restorer.answer(p, record, span_field, row["data"]) for p in row.get("predictions") or []]
        if row.get("gold") is not None:
            row["gold"] = restorer.answer(row["gold"], record, span_field, row["data"])
        for annotation in row.get("annotations") or []:
            annotation["result"] = restorer.answer(annotation["result"], record, span_field, row["data"])
            review = annotation.get("review") or {}
            if review.get("correction") is not None:
                review["correction"] = restorer.answer(review["correction"], record, span_field, row["data"])


def require_reidentify(u: Unit, workspace_id: str) -> None:
    u.access.require(Action.REDACTION_REIDENTIFY, workspace_id, what="project")


def redaction_summary(ctx: Context, project_id: str) -> dict[str, Any]:
    """How many pseudonyms of each kind a project has (owners): counts only."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.REDACTION_REVIEW)
        return {"pseudonyms": store.count_pseudonyms(r.tx, project.workspace_id, project.id)}


__all__ = [
    "RedactedBatch",
    "list_held",
    "policy_of",
    "redact_batch",
    "redaction_summary",
    "reidentify_records",
    "reidentify_task",
    "release_held",
    "require_reidentify",
    "restore_data",
    "store_records",
]
