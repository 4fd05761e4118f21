"""What one person is shown of a task: their variant of every text, or a canary's rendering.

Every text a person is shown — by the queue, by reading a task, in a listing, on
the labelling page — is the variant keyed by (workspace secret, person, task,
field): nothing is stored, the choice is recomputed (``bastion.leaks`` holds
the pure cores). Labels are stored on the **canonical** text: a submitted
result whose offsets point into the shown text (``TaskType.map_result_offsets``) is mapped back before
validation (:class:`View`), and results, predictions and gold feedback shown
back to a person are mapped into their variant. A canary (services/canaries.py)
is shown with the recipient's own facts.

The trap: display and trace (services/tracing.py) must enumerate the same slots —
same canonical text, same field paths, same protected ranges (derived from the
stored predictions and gold answer: ranges a label depends on), same project
settings. Changing ``leak_tracing`` after tasks were shown changes the slots,
and older leaks stop tracing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .context import Unit
from .projects import config_of
from .runtime import Runtime
from ..access import Action
from ..domain.errors import InvalidInput, NotFound
from ..leaks.canaries import canary_fact, render_canary_data
from ..leaks.settings import LeakTracingSettings, replace_fields
from ..leaks.slots import Slot, VariantSettings
from ..leaks.variants import Variant, apply_bits, codeword
from ..storage import canaries_store, redaction_store
from ..storage import queue_store as qs
from ..storage.workspace_secret import workspace_secret


def tracing_settings(rt: Runtime, config: Any) -> LeakTracingSettings:
    """The project's ``leak_tracing`` settings (validated once per distinct section: ``rt.leak_cache``).

    ``config`` is a parsed config, or a project's raw config dict.
    """
    raw = config.get("leak_tracing") if isinstance(config, dict) else getattr(config, "leak_tracing", None)
    return rt.leak_cache.settings(raw)


def slots_of(
    rt: Runtime, text: str, protected: tuple[tuple[int, int], ...], settings: VariantSettings
) -> tuple[Slot, ...]:
    """The slots of a canonical text (cached: the same task is shown, submitted and listed)."""
    return rt.leak_cache.slots(text, protected, settings)


def protected_ranges(task_type, config, answers: Iterable[Any]) -> dict[str, tuple[tuple[int, int], ...]]:
    """Ranges no slot may touch: those the stored predictions and gold answer mark (labels depend on them)."""
    if not task_type.offset_fields(config):
        return {}
    ranges: dict[str, set[tuple[int, int]]] = {}
    for answer in answers:
        for path, marked in task_type.protected_ranges(config, answer).items():
            ranges.setdefault(path, set()).update(marked)
    return {path: tuple(sorted(marked)) for path, marked in ranges.items() if marked}


def text_fields(task_type, config, settings: LeakTracingSettings, data: Any) -> list[tuple[str, str]]:
    """The (path, canonical text) pairs of a task that carry variant slots."""
    return [
        (path, text)
        for path, text in task_type.data_texts(config, data, settings.fields, settings.exclude_fields)
        if len(text) >= settings.min_chars
    ]


@dataclass
class View:
    """How one task looks to one person: the variant of each changed field, or a canary's rendering."""

    task_id: str
    task_type: Any = None  # asked how a result's offsets move (None: nothing to move)
    config: Any = None
    variants: dict[str, Variant] = field(default_factory=dict)
    canary: dict[str, str] | None = None  # the facts, when the task is a canary

    @property
    def is_canary(self) -> bool:
        return self.canary is not None

    def data(self, data: Any) -> Any:
        if self.canary is not None:
            return render_canary_data(data, self.canary)
        return replace_fields(data, {path: v.text for path, v in self.variants.items()})

    def _offset_variants(self) -> dict[str, Variant]:
        """The variants of the fields results point into by offsets."""
        if not self.variants or self.task_type is None:
            return {}
        return {f: self.variants[f] for f in self.task_type.offset_fields(self.config) if f in self.variants}

    def to_canonical(self, result: Any) -> Any:
        """A result submitted on the shown text, with its offsets on the canonical text."""
        variants = self._offset_variants()
        if not variants:
            return result

        def move(path: str, start: int, end: int) -> tuple[int, int] | None:
            variant = variants.get(path)
            if variant is None or not 0 <= start < end <= len(variant.text):
                return None  # validation names the problem
            return variant.to_canonical(start, end)

        return self.task_type.map_result_offsets(
            self.config, result, move, before={f: v.text for f, v in variants.items()}
        )

    def as_shown(self, answer: Any) -> Any:
        """A stored result (canonical offsets) as this person sees it: offsets and text on their variant."""
        variants = self._offset_variants()
        if not variants:
            return answer

        def move(path: str, start: int, end: int) -> tuple[int, int] | None:
            variant = variants.get(path)
            if variant is None:
                return None
            try:
                return variant.to_variant(start, end)
            except InvalidInput:
                return None

        return self.task_type.map_result_offsets(
            self.config, answer, move, after={f: v.text for f, v in variants.items()}
        )

    def annotation_as_shown(self, out: dict) -> dict:
        """An annotation's API shape with its result (and gold feedback) mapped onto the shown text."""
        if not self._offset_variants():
            return out
        out = {**out, "result": self.as_shown(out.get("result"))}
        feedback = out.get("feedback")
        if isinstance(feedback, dict) and "expected" in feedback:
            out["feedback"] = {**feedback, "expected": self.as_shown(feedback["expected"])}
        return out


def view_for(
    u: Unit,
    task_type,
    config,
    *,
    workspace_id: str,
    task_id: str,
    data: Any,
    predictions: list | None,
    gold: Any,
    is_canary: bool = False,
    person: str | None = None,
) -> View:
    """What ``u``'s actor is shown of one task (the local operator sees the canonical text); ``person``:
    what that person is shown instead (the task page's ``?as=``, for owners: services/task_history.py)."""
    view = View(task_id, task_type, config)
    if person is None:
        if u.actor.is_system:
            return view
        person = u.actor.user_id
    if is_canary:
        view.canary = canary_fact(workspace_secret(u.rt.keyring, workspace_id), task_id, person).formatted()
        return view
    settings = tracing_settings(u.rt, config)
    variant_settings = settings.variant_settings
    if not variant_settings.enabled:
        return view
    fields = text_fields(task_type, config, settings, data)
    if not fields:
        return view
    secret = workspace_secret(u.rt.keyring, workspace_id)
    protected = protected_ranges(task_type, config, [*(predictions or []), *([gold] if gold is not None else [])])
    for path, text in fields:
        slots = slots_of(u.rt, text, protected.get(path, ()), variant_settings)
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
        held, is_canary, gold_blob = redaction_store.task_flags(u.tx, row.workspace_id, row.id)
    return task_type, config, held, is_canary, gold_blob


def present_task(u: Unit, row, out: dict, *, key_id: str, config=None) -> dict:
    """The task JSON as the asking person is shown it (called where task JSON is built).

    Held tasks exist only for owners; a canary only for the people it was issued
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
    view = view_for(
        u,
        task_type,
        config,
        workspace_id=ws,
        task_id=row.id,
        data=out["data"],
        predictions=out.get("predictions"),
        gold=gold,
        is_canary=is_canary,
    )
    if view.is_canary or view.variants:
        out["data"] = view.data(out["data"])
        out["predictions"] = [view.as_shown(p) for p in out.get("predictions") or []]
    return out


def viewed_by(u: Unit, found, task_type, config, data: Any) -> View:
    """For a submission: the view the submitting person had of the task (a ``TaskRecord``)."""
    held, is_canary, _ = redaction_store.task_flags(u.tx, found.workspace_id, found.id)
    if held:
        raise NotFound("task not found")
    if not is_canary and not task_type.offset_fields(config):
        return View(found.id)  # nothing in the result points into the text: no mapping to do
    predictions = None
    gold = None
    if not is_canary:
        sealer = u.sealer(found.workspace_id, found.key_id)
        if found.predictions is not None:
            predictions = sealer.open_json("tasks", found.id, "predictions", found.predictions)
        if found.gold is not None:
            gold = sealer.open_json("tasks", found.id, "gold", found.gold)
    return view_for(
        u,
        task_type,
        config,
        workspace_id=found.workspace_id,
        task_id=found.id,
        data=data,
        predictions=predictions,
        gold=gold,
        is_canary=is_canary,
    )


def annotations_as_shown(u: Unit, found, items: list[dict]) -> list[dict]:
    """A task's annotations as the asking person sees them (their variant; a canary: their answer)."""
    if u.actor.is_system:
        return items
    _held, is_canary, _ = redaction_store.task_flags(u.tx, found.workspace_id, found.id)
    if is_canary:
        return _canary_answers(u, found)
    task_type = u.rt.task_types.get(found.task_type)
    config = config_of(u, found)
    if not items or not task_type.offset_fields(config):
        return items
    data = u.sealer(found.workspace_id, found.key_id).open_json("tasks", found.id, "payload", found.payload)["data"]
    view = viewed_by(u, found, task_type, config, data)
    return [view.annotation_as_shown(item) for item in items]


def _canary_answers(u: Unit, found) -> list[dict]:
    """A canary's "annotations" as its recipient reads them back: their own answer, if they gave one."""
    issue = canaries_store.issue_of(u.tx, found.id, u.actor.user_id, workspace_id=found.workspace_id)
    if issue is None or issue.result is None:
        return []
    return [u.sealer(found.workspace_id, found.key_id).open_json("canary_issues", issue.id, "result", issue.result)]


__all__ = [
    "View",
    "annotations_as_shown",
    "present_task",
    "protected_ranges",
    "slots_of",
    "text_fields",
    "tracing_settings",
    "view_for",
    "viewed_by",
]
