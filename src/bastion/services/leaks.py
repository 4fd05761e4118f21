"""Leak tracing, wired in: variants shown per person, canaries in the queue, tracing a leak.

Three layers (``bastion.leaks`` holds the pure cores):

1. **Variant slots.** Every text a person is shown — by the queue, by reading
   a task, in a listing, on the labelling page — is the variant keyed by
   (workspace secret, person, task, field): nothing is stored, the choice is
   recomputed. Labels are stored on the **canonical** text: a submitted result
   whose offsets point into the shown text (``TaskType.span_field``) is mapped
   back before validation (:class:`View`), and results, predictions and gold
   feedback shown back to a person are mapped into their variant.
2. **Canaries.** Owner-approved synthetic items (``canaries``; their template
   is a task row flagged ``is_canary``, stored done so no queue query ever
   picks it). ``lease_next`` calls :func:`maybe_issue_canary`: at the
   project's ``canary_rate`` a person gets a canary they have not had, rendered
   with a fictitious fact of their own. A submission on a canary is checked
   like any result (the person sees nothing different) but is **not an
   annotation**: it is kept, sealed, on the canary's issue row, and never
   reaches annotations, review, agreement or exports (only the project's
   annotation counter moves, as it would for a real one).
3. **The overlay**: :func:`overlay_for` gives the labelling page the faint
   tiled person id and time.

:func:`trace` takes leaked excerpts, finds the task(s) they came from, reads
the slots, and ranks the people who were shown them (assignments and the audit
log: ``task.shown``, ``task.read``, ``tasks.listed``) by their codeword, with
the probability that an innocent matches as well; canaries are matched on
their facts. It answers "inconclusive" rather than accuse on weak evidence.

The trap: display and trace must enumerate the same slots — same canonical
text, same field paths, same protected ranges (derived from the stored
predictions and gold answer: spans a label depends on), same project settings.
Changing ``leak_tracing`` after items were shown changes the slots, and older
leaks stop tracing. Paraphrase defeats the variant slots; only canaries
survive it.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .. import ids
from ..access import Action
from ..domain.errors import Conflict, InvalidAnswer, InvalidInput, NotFound
from ..leaks.canaries import PLACEHOLDERS, canary_fact, match_canary
from ..leaks.settings import (
    DEFAULT_LEAK_TRACING,
    LeakTracingSettings,
    iter_text_fields,
    load_leak_tracing,
    replace_fields,
)
from ..leaks.slots import Slot, VariantSettings, find_slots
from ..leaks.trace import DEFAULT_ALPHA, SourceIndex, SourceItem, trace_leak
from ..leaks.variants import Variant, apply_bits, codeword
from ..storage import queue_store as qs
from ..storage import redaction_store as store
from ..storage import schema
from ..storage.workspace_secret import workspace_secret
from . import approvals
from .context import Context, Unit
from .projects import bump_counts, config_of, load_project

T = schema.tasks
MAX_EXCERPTS = 50
MAX_EXCERPT_CHARS = 200_000
MAX_RANKED = 20
TRACE_PAGE = 2000
MIN_CANARY_FACTS = 2


# -- settings -----------------------------------------------------------------------

_SETTINGS: dict[str, LeakTracingSettings] = {}


def tracing_settings(config: Any) -> LeakTracingSettings:
    """The project's ``leak_tracing`` settings (validated once per distinct section).

    ``config`` is a parsed config, or a project's raw config dict.
    """
    raw = config.get("leak_tracing") if isinstance(config, dict) else getattr(config, "leak_tracing", None)
    if raw is None:
        return DEFAULT_LEAK_TRACING
    key = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
    found = _SETTINGS.get(key)
    if found is None:
        if len(_SETTINGS) > 256:
            _SETTINGS.clear()
        found = _SETTINGS[key] = load_leak_tracing(raw)
    return found


# -- slots, cached ------------------------------------------------------------------

_SLOTS: OrderedDict[tuple, tuple[Slot, ...]] = OrderedDict()
_SLOTS_LIMIT = 4096
_slots_lock = threading.Lock()


def slots_of(text: str, protected: tuple[tuple[int, int], ...], settings: VariantSettings) -> tuple[Slot, ...]:
    """The slots of a canonical text (cached: the same item is shown, submitted and listed)."""
    key = (hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), protected, settings)
    with _slots_lock:
        found = _SLOTS.get(key)
        if found is not None:
            _SLOTS.move_to_end(key)
            return found
    found = tuple(find_slots(text, protected=protected, settings=settings))
    with _slots_lock:
        _SLOTS[key] = found
        if len(_SLOTS) > _SLOTS_LIMIT:
            _SLOTS.popitem(last=False)
    return found


def protected_ranges(span_field: str | None, answers: Iterable[Any]) -> dict[str, tuple[tuple[int, int], ...]]:
    """Ranges no slot may touch: the spans of the stored predictions and gold answer (labels depend on them)."""
    if not span_field:
        return {}
    ranges: set[tuple[int, int]] = set()
    for answer in answers:
        if isinstance(answer, dict) and isinstance(answer.get("spans"), list):
            for span in answer["spans"]:
                if isinstance(span, dict) and isinstance(span.get("start"), int) and isinstance(span.get("end"), int):
                    ranges.add((span["start"], span["end"]))
    return {span_field: tuple(sorted(ranges))} if ranges else {}


def text_fields(task_type, config, settings: LeakTracingSettings, data: Any) -> list[tuple[str, str]]:
    """The (path, canonical text) pairs of an item that carry variant slots."""
    skip = frozenset(task_type.file_fields(config))
    return list(iter_text_fields(data, settings, skip))


# -- what one person is shown ---------------------------------------------------------


@dataclass
class View:
    """How one task looks to one person: the variant of each changed field, or a canary's rendering."""

    task_id: str
    span_field: str | None = None
    variants: dict[str, Variant] = field(default_factory=dict)
    canary: dict[str, str] | None = None  # the facts, when the task is a canary

    @property
    def is_canary(self) -> bool:
        return self.canary is not None

    def data(self, data: Any) -> Any:
        if self.canary is not None:
            return render_canary_data(data, self.canary)
        return replace_fields(data, {path: v.text for path, v in self.variants.items()})

    def _span_variant(self) -> Variant | None:
        return self.variants.get(self.span_field) if self.span_field else None

    def to_canonical(self, result: Any) -> Any:
        """A result submitted on the shown text, with its offsets on the canonical text."""
        variant = self._span_variant()
        if variant is None or not isinstance(result, dict) or not isinstance(result.get("spans"), list):
            return result
        spans = []
        for i, span in enumerate(result["spans"]):
            if isinstance(span, dict) and _int(span.get("start")) and _int(span.get("end")):
                start, end = span["start"], span["end"]
                if not 0 <= start < end <= len(variant.text):
                    spans.append(span)  # validation names the problem
                    continue
                if "text" in span and span["text"] != variant.text[start:end]:
                    raise InvalidAnswer(f"result.spans[{i}].text: does not match the document at {start}..{end} "
                                        f"({variant.text[start:end][:40]!r})")
                canonical = variant.to_canonical(start, end)
                span = {k: v for k, v in span.items() if k != "text"}
                span["start"], span["end"] = canonical
            spans.append(span)
        return {**result, "spans": spans}

    def as_shown(self, answer: Any) -> Any:
        """A stored result (canonical offsets) as this person sees it: offsets and text on their variant."""
        variant = self._span_variant()
        if variant is None or not isinstance(answer, dict) or not isinstance(answer.get("spans"), list):
            return answer
        spans = []
        for span in answer["spans"]:
            if isinstance(span, dict) and _int(span.get("start")) and _int(span.get("end")):
                try:
                    start, end = variant.to_variant(span["start"], span["end"])
                except InvalidInput:
                    spans.append(span)
                    continue
                span = {**span, "start": start, "end": end}
                if "text" in span:
                    span["text"] = variant.text[start:end]
            spans.append(span)
        return {**answer, "spans": spans}

    def annotation_as_shown(self, out: dict) -> dict:
        """An annotation's API shape with its result (and gold feedback) mapped onto the shown text."""
        if self._span_variant() is None:
            return out
        out = {**out, "result": self.as_shown(out.get("result"))}
        feedback = out.get("feedback")
        if isinstance(feedback, dict) and "expected" in feedback:
            out["feedback"] = {**feedback, "expected": self.as_shown(feedback["expected"])}
        return out


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def view_for(u: Unit, task_type, config, *, workspace_id: str, task_id: str, data: Any,
             predictions: list | None, gold: Any, is_canary: bool = False) -> View:
    """What ``u``'s actor is shown of one task (the local operator sees the canonical text)."""
    span_field = task_type.span_field(config)
    view = View(task_id, span_field)
    person = u.actor.user_id
    if u.actor.is_system:
        return view
    if is_canary:
        view.canary = canary_fact(workspace_secret(u.rt.keyring, workspace_id), task_id, person).formatted()
        return view
    settings = tracing_settings(config)
    variant_settings = settings.variant_settings
    if not variant_settings.enabled:
        return view
    fields = text_fields(task_type, config, settings, data)
    if not fields:
        return view
    secret = workspace_secret(u.rt.keyring, workspace_id)
    protected = protected_ranges(span_field, [*(predictions or []), *([gold] if gold is not None else [])])
    for path, text in fields:
        slots = slots_of(text, protected.get(path, ()), variant_settings)
        if not slots:
            continue
        variant = apply_bits(text, slots, codeword(secret, person, task_id, slots, path))
        if variant.text != text:
            view.variants[path] = variant
    return view


def _record_view(u: Unit, row, config=None) -> tuple[Any, Any, bool, bool, bytes | None]:
    """Type, config and flags of a task row (a ``TaskRecord`` or a whole ``tasks`` row)."""
    if config is None:
        config = config_of(u, row)
    task_type = u.rt.task_types.get(row.task_type if hasattr(row, "task_type") else config.type)
    if hasattr(row, "is_canary"):  # a whole tasks row
        held, is_canary, gold_blob = bool(row.held), bool(row.is_canary), row.gold
    else:
        held, is_canary, gold_blob = store.task_flags(u.tx, row.workspace_id, row.id)
    return task_type, config, held, is_canary, gold_blob


def present_task(u: Unit, row, out: dict, *, key_id: str, config=None) -> dict:
    """The task JSON as the asking person is shown it (called where task JSON is built).

    Held items exist only for owners; a canary only for the people it was issued
    to (and is rendered with their facts); every other text is the person's variant.
    """
    if u.actor.is_system:
        return out
    task_type, config, held, is_canary, gold_blob = _record_view(u, row, config)
    ws = row.workspace_id
    if held and not u.access.allows(Action.REDACTION_REVIEW, ws):
        raise NotFound("task not found")
    if is_canary and qs.MINE.one(u.tx, ws=ws, task=row.id, user=u.actor.user_id) is None:
        raise NotFound("task not found")
    gold = None
    if gold_blob is not None:
        gold = u.sealer(ws, key_id).open_json("tasks", row.id, "gold", gold_blob)
    view = view_for(u, task_type, config, workspace_id=ws, task_id=row.id, data=out["data"],
                    predictions=out.get("predictions"), gold=gold, is_canary=is_canary)
    if view.is_canary or view.variants:
        out["data"] = view.data(out["data"])
        out["predictions"] = [view.as_shown(p) for p in out.get("predictions") or []]
    return out


def viewed_by(u: Unit, found, task_type, config, data: Any) -> View:
    """For a submission: the view the submitting person had of the task (a ``TaskRecord``)."""
    held, is_canary, _ = store.task_flags(u.tx, found.workspace_id, found.id)
    if held:
        raise NotFound("task not found")
    if not is_canary and task_type.span_field(config) is None:
        return View(found.id)  # nothing in the result points into the text: no mapping to do
    predictions = None
    gold = None
    if task_type.span_field(config) and not is_canary:
        sealer = u.sealer(found.workspace_id, found.key_id)
        if found.predictions is not None:
            predictions = sealer.open_json("tasks", found.id, "predictions", found.predictions)
        if found.gold is not None:
            gold = sealer.open_json("tasks", found.id, "gold", found.gold)
    return view_for(u, task_type, config, workspace_id=found.workspace_id, task_id=found.id, data=data,
                    predictions=predictions, gold=gold, is_canary=is_canary)


def annotations_as_shown(u: Unit, found, items: list[dict]) -> list[dict]:
    """A task's annotations as the asking person sees them (their variant; a canary: their answer)."""
    if u.actor.is_system:
        return items
    _held, is_canary, _ = store.task_flags(u.tx, found.workspace_id, found.id)
    if is_canary:
        return _canary_answers(u, found)
    task_type = u.rt.task_types.get(found.task_type)
    config = config_of(u, found)
    if not items or task_type.span_field(config) is None:
        return items
    data = u.sealer(found.workspace_id, found.key_id).open_json("tasks", found.id, "payload", found.payload)["data"]
    view = viewed_by(u, found, task_type, config, data)
    return [view.annotation_as_shown(item) for item in items]


# -- canaries -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(name|figure|date|place)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def render_canary_data(data: Any, facts: Mapping[str, str]) -> Any:
    """Every string of a canary's data with its placeholders filled with one recipient's facts."""
    if isinstance(data, dict):
        return {k: render_canary_data(v, facts) for k, v in data.items()}
    if isinstance(data, list):
        return [render_canary_data(v, facts) for v in data]
    if isinstance(data, str):
        return _PLACEHOLDER.sub(lambda m: facts[m.group(1)], data)
    return data


def _strings(data: Any) -> Iterable[str]:
    if isinstance(data, dict):
        for v in data.values():
            yield from _strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from _strings(v)
    elif isinstance(data, str):
        yield data


def _check_canary_data(task_type, config, data: Any) -> None:
    if not isinstance(data, dict):
        raise InvalidInput("data: required, a JSON object shaped like the project's items")
    text = "\n".join(_strings(data))
    used = set(_ANY_PLACEHOLDER.findall(text))
    missing = [p for p in PLACEHOLDERS if p not in used]
    unknown = sorted(used - set(PLACEHOLDERS))
    if missing or unknown:
        raise InvalidInput("data: a canary uses each of {name}, {figure}, {date} and {place} "
                           f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})")
    sample = render_canary_data(data, {"name": "Ada Example", "figure": "1,234", "date": "3 March", "place": "Exampleton"})
    problem = task_type.check_data(config, sample)
    if problem:
        raise InvalidInput(problem)


def _canary_row(u: Unit, canary_id: str, action: Action):
    """The canary, within the actor's workspaces (NotFound elsewhere), if they may take ``action``."""
    C = schema.canaries
    query = C.select().where(C.c.id == canary_id)
    if not u.actor.is_system:
        query = query.where(C.c.workspace_id.in_(u.access.workspace_ids() or [""]))
    row = u.execute(query).first()
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
        w.execute(T.insert().values(
            workspace_id=ws, id=canary_id, project_id=project.id,
            dedupe_key=sealer.index_hash(b"canary", project.id, canary_id),
            payload=sealer.seal_json("tasks", canary_id, "payload", {"data": data}),
            priority=0, done=True, is_canary=True, created_at=w.now,
        ))
        w.execute(schema.canaries.insert().values(
            workspace_id=ws, id=canary_id, project_id=project.id, state="draft",
            created_by=None if ctx.actor.is_system else ctx.actor.user_id, created_at=w.now))
        w.audit(ws, "canary.created", canary_id, project=project.id)
        return _canary_out(w, ws, canary_id)


def set_canary_state(ctx: Context, canary_id: str, state: str) -> dict[str, Any]:
    """Approve a draft (it starts being issued) or retire a canary (no longer issued; still traced)."""
    if state not in ("approved", "retired"):
        raise InvalidInput("state: approved or retired")
    with ctx.write() as w:
        row = _canary_row(w, canary_id, Action.CANARY_MANAGE)
        w.see_content(row.workspace_id)  # the answer carries the canary's text
        C = schema.canaries
        scope = (C.c.workspace_id == row.workspace_id, C.c.id == canary_id)
        if state == "approved":
            if row.state != "draft":
                raise Conflict(f"this canary is {row.state}; only a draft can be approved")
            if ctx.actor.is_system:
                raise InvalidInput("approval: a canary is approved by a project owner, not the local operator")
            w.execute(C.update().where(*scope).values(state="approved", approved_by=ctx.actor.user_id,
                                                      approved_at=w.now))
        else:
            if row.state == "retired":
                raise Conflict("this canary is already retired")
            w.execute(C.update().where(*scope).values(state="retired"))
        w.audit(row.workspace_id, f"canary.{state}", canary_id)
        return _canary_out(w, row.workspace_id, canary_id)


def list_canaries(ctx: Context, project_id: str, *, approval: str | None = None,
                  break_glass: str | None = None) -> list[dict[str, Any]]:
    """A project's canaries with their texts (owners, with two-person approval: services/approvals.py; walled,
    audited as ``canaries.listed``)."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.CANARY_MANAGE)
        w.see_content(project.workspace_id)
        approvals.consume(w, "canary.list", project.workspace_id, {"project": project.id}, approval_id=approval,
                          break_glass=break_glass)
        C = schema.canaries
        ids_ = w.execute(C.select().with_only_columns(C.c.id).where(
            C.c.workspace_id == project.workspace_id, C.c.project_id == project.id).order_by(C.c.id)).scalars().all()
        w.audit(project.workspace_id, "canaries.listed", project.id, count=len(ids_))
        return [_canary_out(w, project.workspace_id, canary_id) for canary_id in ids_]


def get_canary(ctx: Context, canary_id: str, *, approval: str | None = None,
               break_glass: str | None = None) -> dict[str, Any]:
    """A canary with its recipients and the fact each was given (owners: to probe a model for them).

    With two-person approval (services/approvals.py).
    """
    with ctx.write() as w:
        row = _canary_row(w, canary_id, Action.CANARY_MANAGE)
        w.see_content(row.workspace_id)
        approvals.consume(w, "canary.list", row.workspace_id, {"canary": canary_id}, approval_id=approval,
                          break_glass=break_glass)
        out = _canary_out(w, row.workspace_id, canary_id)
        secret = workspace_secret(w.rt.keyring, row.workspace_id)
        recipients = store.recipients_of_canaries(w.tx, row.workspace_id, [canary_id])[canary_id]
        out["recipients"] = [{"user_id": person, "facts": canary_fact(secret, canary_id, person).formatted()}
                             for person in recipients]
        w.audit(row.workspace_id, "canary.read", canary_id, recipients=len(recipients))
        return out


def _canary_out(u: Unit, workspace_id: str, canary_id: str) -> dict[str, Any]:
    C, CI = schema.canaries, schema.canary_issues
    row = u.execute(C.select().where(C.c.workspace_id == workspace_id, C.c.id == canary_id)).one()
    task = u.execute(T.select().with_only_columns(T.c.payload).where(
        T.c.workspace_id == row.workspace_id, T.c.id == canary_id)).one()
    project = u.execute(schema.projects.select().with_only_columns(schema.projects.c.key_id).where(
        schema.projects.c.workspace_id == row.workspace_id, schema.projects.c.id == row.project_id)).one()
    data = u.sealer(row.workspace_id, project.key_id).open_json("tasks", canary_id, "payload", task.payload)["data"]
    issued = u.execute(CI.select().with_only_columns(CI.c.id, CI.c.answered_at).where(
        CI.c.workspace_id == row.workspace_id, CI.c.canary_id == canary_id)).all()
    return {
        "id": canary_id, "project_id": row.project_id, "state": row.state, "data": data,
        "created_by": row.created_by, "created_at": row.created_at, "approved_by": row.approved_by,
        "approved_at": row.approved_at, "issued": len(issued), "answered": sum(1 for i in issued if i.answered_at),
    }


def maybe_issue_canary(w: Unit, project, user_id: str) -> str | None:
    """In ``lease_next``: now and then (the project's ``canary_rate``), a canary this person has not had.

    Takes a lease slot like any task (the caller records the assignment) and
    records the issue; returns the canary's task id, or None.
    """
    if w.actor.is_system:
        return None
    rate = tracing_settings(project.config).canary_rate
    if not rate or random.random() >= rate:
        return None
    ws = project.workspace_id
    if w.access.allows(Action.CANARY_MANAGE, ws):
        return None  # owners approve the canaries: showing them one proves nothing
    canary_id = store.NEXT_CANARY.scalar(w.tx, ws=ws, project=project.id, user=user_id)
    if canary_id is None or not qs.TAKE_ANY.run(w.tx, ws=ws, id=canary_id):
        return None
    store.ISSUE_CANARY.run(w.tx, ws=ws, id=ids.new_id("cni"), project=project.id, canary=canary_id, user=user_id,
                           now=w.now)
    return canary_id


def answer_canary(w: Unit, found, view: View, task_type, config, data: Any, result: Any,
                  lead_time_ms: int | None, mine) -> dict[str, Any]:
    """A submission on a canary: checked like any result, kept on the issue, never an annotation."""
    ws, me = found.workspace_id, w.actor.user_id
    if mine is None:
        raise NotFound("task not found")
    normalised = task_type.validate_result(config, view.data(data), result)
    if mine[1] == "leased" and qs.CONSUME.run(w.tx, ws=ws, id=mine[0], now=w.now):
        qs.RELEASE_SLOT.run(w.tx, ws=ws, id=found.id)
    else:
        qs.set_assignment(w.tx, ws, found.project_id, found.id, me, "submitted", w.now)
    issue = store.ISSUE_OF.one(w.tx, ws=ws, canary=found.id, user=me)
    out = {"id": ids.new_id("ann"), "task_id": found.id, "project_id": found.project_id, "user_id": me,
           "result": normalised, "lead_time_ms": lead_time_ms, "created_at": w.now}
    if issue is not None:
        sealed = w.sealer(ws, found.key_id).seal_json("canary_issues", issue[0], "result", out)
        store.ANSWER_CANARY.run(w.tx, ws=ws, canary=found.id, user=me, now=w.now, result=sealed)
    # The project's annotation counter moves as for any submission: annotators read it, and a
    # counter that stood still would give the canary away (the canary API counts the answers).
    bump_counts(w, ws, found.project_id, annotations=1)
    w.audit(ws, "canary.answered", found.id)
    return out


def _canary_answers(u: Unit, found) -> list[dict]:
    issue = store.ISSUE_OF.one(u.tx, ws=found.workspace_id, canary=found.id, user=u.actor.user_id)
    if issue is None or issue[3] is None:
        return []
    return [u.sealer(found.workspace_id, found.key_id).open_json("canary_issues", issue[0], "result", issue[3])]


# -- the overlay ---------------------------------------------------------------------


def overlay_for(ctx: Context, project_id: str) -> dict[str, Any] | None:
    """The labelling page's overlay (faint tiled person id and time), unless the project turned it off."""
    if ctx.actor.is_system:
        return None
    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_WORK)  # the whole config, settings included
    if not tracing_settings(project.config).overlay:
        return None
    import time

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return {"text": f"{ctx.actor.user_id} · {stamp}"}


# -- tracing -------------------------------------------------------------------------


def _check_excerpts(excerpts: Any) -> list[str]:
    if isinstance(excerpts, str):
        excerpts = [excerpts]
    if not isinstance(excerpts, list) or not excerpts:
        raise InvalidInput("excerpts: a non-empty list of leaked texts")
    if len(excerpts) > MAX_EXCERPTS:
        raise InvalidInput(f"excerpts: at most {MAX_EXCERPTS}")
    for i, text in enumerate(excerpts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"excerpts[{i}]: a non-empty text")
        if len(text) > MAX_EXCERPT_CHARS:
            raise InvalidInput(f"excerpts[{i}]: longer than {MAX_EXCERPT_CHARS} characters")
    return excerpts


def trace(ctx: Context, project_id: str, excerpts: Any, *, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Who was shown the text that leaked? (owners; audited). See the module docstring."""
    texts = _check_excerpts(excerpts)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 0.05:
        raise InvalidInput("alpha: a probability above 0 and at most 0.05")
    with ctx.read() as r:
        project = load_project(r, project_id, Action.LEAKS_TRACE)
    ws = project.workspace_id
    task_type = ctx.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    settings = tracing_settings(config)
    variant_settings = settings.variant_settings
    secret = workspace_secret(ctx.rt.keyring, ws)
    items = list(_source_items(ctx, project, task_type, config, settings)) if variant_settings.enabled else []
    index = SourceIndex(items, settings=variant_settings)
    located = trace_leak(texts, index, secret, alpha=alpha) if items else None
    with ctx.write() as w:
        w.access.require(Action.LEAKS_TRACE, ws, what="project")
        task_ids = sorted({s.task_id for s in located.sources}) if located else []
        viewers = store.viewers_of(w.tx, ws, project.id, task_ids)
        report = (trace_leak(texts, index.with_recipients({t: sorted(v) for t, v in viewers.items()}), secret,
                             alpha=alpha) if located and located.sources else located)
        canaries = _trace_canaries(w, ws, project.id, texts, secret)
        emails = _emails(w, {s.person_id for s in (report.scores if report else ())[:MAX_RANKED]}
                         | {m["user_id"] for m in canaries})
        out = _report_out(report, canaries, emails, alpha, viewers)
        w.audit(ws, "leaks.traced", project.id, excerpts=len(texts), verdict=out["verdict"],
                suspects=out["suspects"])
        return out


def _source_items(ctx: Context, project, task_type, config, settings: LeakTracingSettings) -> Iterable[SourceItem]:
    """Every task's shown texts, canonical, with the protected ranges used at display time."""
    ws = project.workspace_id
    span_field = task_type.span_field(config)
    after = ""
    while True:
        with ctx.read() as r:
            r.access.require(Action.LEAKS_TRACE, ws, what="project")
            rows = r.execute(
                T.select().with_only_columns(T.c.id, T.c.payload, T.c.predictions, T.c.gold).where(
                    T.c.workspace_id == ws, T.c.project_id == project.id, T.c.is_canary.is_(False), T.c.id > after)
                .order_by(T.c.id).limit(TRACE_PAGE)).all()
            if not rows:
                return
            sealer = r.sealer(ws, project.key_id)
            page = []
            for row in rows:
                data = sealer.open_json("tasks", row.id, "payload", row.payload)["data"]
                answers = []
                if span_field:
                    if row.predictions is not None:
                        answers.extend(sealer.open_json("tasks", row.id, "predictions", row.predictions))
                    if row.gold is not None:
                        answers.append(sealer.open_json("tasks", row.id, "gold", row.gold))
                protected = protected_ranges(span_field, answers)
                for path, text in text_fields(task_type, config, settings, data):
                    page.append(SourceItem(row.id, text, (), path, protected.get(path, ())))
        yield from page
        after = rows[-1].id


def _trace_canaries(w: Unit, ws: str, project_id: str, texts: list[str], secret: bytes) -> list[dict]:
    C = schema.canaries
    canary_ids = list(w.execute(C.select().with_only_columns(C.c.id).where(
        C.c.workspace_id == ws, C.c.project_id == project_id, C.c.state != "draft")).scalars())
    recipients = store.recipients_of_canaries(w.tx, ws, canary_ids)
    joined = "\n".join(texts)
    found = []
    for canary_id in canary_ids:
        if not recipients[canary_id]:
            continue
        for match in match_canary(joined, canary_id, recipients[canary_id], secret):
            # One fact alone may turn up in any text by chance: naming someone takes two.
            identified = match.is_identified and len(match.facts) >= MIN_CANARY_FACTS
            found.append({"canary_id": canary_id, "user_id": match.person_id, "facts": list(match.facts),
                          "p_value": match.p_value, "identified": identified})
    found.sort(key=lambda m: (m["p_value"], -len(m["facts"])))
    return found[:MAX_RANKED]


def _emails(u: Unit, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    U = schema.users
    return dict(u.execute(U.select().with_only_columns(U.c.id, U.c.email).where(U.c.id.in_(sorted(user_ids)))).all())


def _report_out(report, canaries: list[dict], emails: dict[str, str], alpha: float,
                viewers: dict[str, set[str]]) -> dict[str, Any]:
    suspects = list(report.suspects) if report else []
    canary_suspects = [m["user_id"] for m in canaries if m["identified"]]
    for person in canary_suspects:
        if person not in suspects:
            suspects.append(person)
    source_found = bool(report is not None and report.sources) or bool(canaries)
    verdict = "conclusive" if suspects else "inconclusive"
    ranking = []
    if report is not None:
        for score in report.scores[:MAX_RANKED]:
            ranking.append({
                "user_id": score.person_id, "email": emails.get(score.person_id), "observed": score.observed,
                "matched": score.matched, "p_value": score.p_value,
                # the chance that some innocent recipient matches at least this well
                "p_innocent_as_good": score.corrected,
            })
    if suspects:
        message = ("The evidence names the people in suspects: an innocent recipient would match this well "
                   "with a probability below alpha.")
    elif source_found:
        message = ("The source was found, but the evidence is too weak to name anyone (too few variant slots "
                   "survived, or the text was reworded). More leaked excerpts add evidence; canaries survive rewording.")
    else:
        message = "No task or canary of this project matches the text: nobody is named."
    return {
        "verdict": verdict,
        "source_found": source_found,
        "message": message,
        "alpha": alpha,
        "sources": [{"excerpt": s.excerpt_index, "task_id": s.task_id, "field": s.field_path,
                     "coverage": round(s.coverage, 4), "runner_up": round(s.runner_up, 4),
                     "recipients": len(viewers.get(s.task_id, ()))} for s in (report.sources if report else ())],
        "slots_read": len(report.readings) if report else 0,
        "ranking": ranking,
        "suspects": suspects,
        "canaries": [{**m, "email": emails.get(m["user_id"])} for m in canaries],
    }


__all__ = [
    "View", "annotations_as_shown", "answer_canary", "create_canary", "get_canary", "list_canaries",
    "maybe_issue_canary", "overlay_for", "present_task", "protected_ranges", "render_canary_data",
    "set_canary_state", "slots_of", "text_fields", "trace", "tracing_settings", "view_for", "viewed_by",
]
