"""Task types are plugins: each owns its config schema, result validation, widget and exports.

A task type is an object with:

* ``name`` (the config's ``type``), ``title``, ``description``, and
  ``template`` (a complete example config: ``project create --template``);
* ``config_model`` — a pydantic model with ``extra="forbid"`` (unknown keys are
  errors, named by their path: ``labels[2].hotkey: …``);
* ``check_data(config, data)`` — is an imported item usable (its fields present)?
* ``validate_result(config, data, result)`` — the normalised result, or
  ``InvalidAnswer`` naming the field;
* ``result_from_form(config, form)`` — the result the widget's form posted;
* ``widget_context(config, data, task_id=…, user_id=…)`` — derived views for the
  widget; it knows who is looking, so per-person randomisation (the order in
  which responses are shown) is decided there, deterministically;
* ``result_widget_context(config, data, result, …)`` — the widget's context to show a
  result read-only or as a correction form (default: the result as a prediction), and
  ``result_facts(config, data, result)`` — a result as comparable facts, so that
  disagreements between annotators can be marked (services/labelling.py renders both);
* ``sample_data(config)`` / ``preview_context(config, data)`` — a made-up item
  and the widget's context for it: the config editor's live preview (defaults
  fit a type whose widget reads one text field);
* ``summarise(config, result)`` — a result in one short line (an annotator's
  list of their annotations);
* ``model_endpoints(config)`` — the model endpoints a config names, by config path (checked
  against the project's workspace where configs are saved);
* ``file_fields(config)`` — the ``data`` keys that hold references to sealed
  files (images), so imports can store the files they name;
* text and offsets — ``offset_fields``, ``data_texts``, ``result_texts``,
  ``map_result_offsets`` and ``protected_ranges``: which texts a task and a
  result hold and how a result's offsets move between the text a person was
  shown and the stored one (redaction, variants and leak tracing ask; they
  never look inside a result);
* quality — ``agreement_measures`` and ``agreement(config, ratings)`` (which
  figures compare annotators' answers, and computing them with the pure cores
  of ``bastion.quality``), ``categorical_value(config, result)`` (an answer as
  one category), ``aggregation_methods`` and ``aggregate(…)`` (one answer per
  task); ``services/quality.py`` only loads the ratings and asks;
* ``row_kinds`` / ``export_rows(kind)`` — the rows it makes for export formats
  (``sft``, ``dpo``, ``spacy``, ``conll``, ``coco``…): a format names the kind of
  rows it encodes (``exporting/``), the type makes them;
* ``template_dir`` holding ``widget.html`` (a Jinja partial rendered inside the
  labelling form) and ``static/widget.js`` (a small vanilla
  module, progressively enhanced, keyboard first).

The trap: results are stored as ``validate_result`` returns them, so it must
normalise (sort, dedupe, fill derived fields) — exports and agreement read
them as they are, and the widget is only one of the clients that posts them.

Built-ins register through the ``bastion_task_types`` hook like any other
package, so adding a type never touches the core.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ValidationError, model_serializer

from . import _labelstudio
from ._labels import Label
from ..domain.errors import InvalidAnswer, InvalidConfig, InvalidInput
from ..domain.fieldpaths import selected, walk_strings
from ..domain.validation import describe_validation_error, validation_problems

# Keys whose strings are free text in results (``result_texts``): what redaction reads in
# predictions and gold answers.
FREE_TEXT_KEYS = frozenset(
    {
        "text",
        "other_text",
        "rationale",
        "comment",
        "comments",
        "notes",
        "explanation",
        "content",
        "completion",
        "response",
        "answer",
    }
)

SUMMARY_CHARS = 160


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis (for ``TaskType.summarise``)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ``move(field, start, end) -> (start, end)`` or None (``map_result_offsets``).
OffsetMove = Callable[[str, int, int], "tuple[int, int] | None"]


CONFIG_SECTIONS = ("redaction", "leak_tracing")

# The default sample item's text (``TaskType.sample_data``): what a preview shows a type that gives none.
SAMPLE_TEXT = (
    "The parcel arrived two days late and the box was dented, but the support team replaced it "
    "within the hour and apologised."
)


def check_config_sections(raw: dict) -> None:
    """Validate the sections shared by every task type (errors name their field path)."""
    from ..leaks.settings import load_leak_tracing
    from ..redaction.policy import load_policy

    if raw.get("redaction") is not None:
        if not isinstance(raw["redaction"], dict):
            raise InvalidConfig("redaction: must be an object")
        load_policy(raw["redaction"])
    if raw.get("leak_tracing") is not None:
        load_leak_tracing(raw["leak_tracing"])


class _Sections(BaseModel):
    redaction: dict[str, Any] | None = None
    leak_tracing: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key in CONFIG_SECTIONS:
                if data.get(key) is None:
                    data.pop(key, None)
        return data


@functools.cache
def _with_sections(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` plus the shared sections (a subclass, so validators and isinstance still hold)."""
    return type(model.__name__, (model, _Sections), {"__module__": model.__module__})


class TaskType:
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    # A complete example config (``bastion project create --template NAME``); None: no template.
    template: ClassVar[dict[str, Any] | None] = None
    config_model: ClassVar[type[BaseModel]]
    # Directory of the package defining the type (widget.html / widget.js live there).
    package_dir: ClassVar[Path]

    @property
    def template_dir(self) -> Path:
        return self.package_dir

    @property
    def static_dir(self) -> Path:
        """Served at /static/tasktypes/<name>/ (only this folder, never the code)."""
        return self.package_dir / "static"

    def parse_config(self, raw: Any) -> BaseModel:
        """The validated config; the sections every type shares (``redaction``, ``leak_tracing``) ride along.

        They are validated here, once for every type, by their own loaders, and
        kept in the model (``config.redaction``, ``config.leak_tracing``: the raw
        dicts, or None) so that the stored config keeps them.
        """
        if not isinstance(raw, dict):
            raise InvalidConfig("config: must be a JSON object")
        check_config_sections(raw)
        try:
            return _with_sections(self.config_model).model_validate(raw)
        except ValidationError as exc:
            raise InvalidConfig(describe_validation_error(exc, ""), details=validation_problems(exc)) from exc

    def check_data(self, config: Any, data: dict) -> str | None:
        """Return why an imported item cannot be labelled with this config, or None."""
        return None

    def validate_result(self, config: Any, data: dict, result: Any) -> dict:
        raise NotImplementedError

    def validate_prediction(self, config: Any, data: dict, prediction: Any) -> dict:
        try:
            return self.validate_result(config, data, prediction)
        except InvalidAnswer as exc:
            raise InvalidAnswer(f"predictions: {exc.message}") from exc

    def gold_score(self, config: Any, data: dict, result: dict, gold: dict) -> float:
        """How right ``result`` is against a gold answer, from 0 to 1 (default: exact match)."""
        return 1.0 if result == gold else 0.0

    # -- pre-labels (docs/prelabel.md)
    #
    # A project may have a model pre-label its tasks (services/prelabel.py): the type builds the
    # messages sent for one task and reads the reply back as a result, which ``validate_result``
    # then checks like any other. A reply that cannot be read raises InvalidAnswer naming why:
    # that task's pre-label is counted as failed, the job goes on. Default: not offered.

    # The ``{{name}}`` values a prompt template may use (``_prelabel.render``).
    prelabel_values: ClassVar[tuple[str, ...]] = ()

    def prelabel_refusal(self, config: Any) -> str | None:
        """Why a project with this config cannot be pre-labelled, or None when it can."""
        return f"task type {self.name} does not offer pre-labels"

    def prelabel_prompt(self, config: Any, data: dict, template: str | None = None) -> list[dict[str, str]]:
        """The chat messages asking a model to label ``data`` (``template``: the project's system prompt)."""
        raise InvalidInput(self.prelabel_refusal(config) or f"task type {self.name} does not offer pre-labels")

    def parse_prelabel(self, config: Any, data: dict, reply: str) -> dict:
        """The model's ``reply`` as a result (checked by the caller with ``validate_prediction``); InvalidAnswer when it cannot be read."""
        raise InvalidAnswer(f"task type {self.name} does not offer pre-labels")

    # -- text and offsets
    #
    # What redaction, variants and leak tracing need to know of a type's texts, so that no
    # service looks inside a result. A result may point into the task's text by character
    # offsets (spans): those offsets move when the text a person is shown differs from the
    # stored one (a variant, a redacted text). Defaults fit a type without offsets.

    def offset_fields(self, config: Any) -> tuple[str, ...]:
        """The ``data`` keys whose text results point into by character offsets; () when they carry none."""
        return ()

    def data_texts(
        self, config: Any, data: Any, fields: tuple[str, ...] | None = None, exclude_fields: tuple[str, ...] = ()
    ) -> Iterator[tuple[str, str]]:
        """``(concrete path, text)`` for every string of ``data`` under the field paths (``fields=None``: all),
        in document order; the fields holding file references are never texts."""
        skip = frozenset(self.file_fields(config))
        for concrete, segments, text in walk_strings(data):
            if skip and segments and segments[0].rstrip("[]") in skip:
                continue
            if selected(fields, exclude_fields, segments):
                yield concrete, text

    def result_texts(self, config: Any, result: Any) -> Iterator[tuple[str, str]]:
        """``(concrete path, text)`` for the free text a result holds (what a person wrote, not a label).

        Redaction redacts these in predictions and gold answers. Default: every string
        whose key is one of ``FREE_TEXT_KEYS`` (a list's items take their list's key).
        """
        for concrete, segments, text in walk_strings(result):
            if segments and segments[-1].rstrip("[]") in FREE_TEXT_KEYS:
                yield concrete, text

    def map_result_offsets(
        self,
        config: Any,
        result: Any,
        move: OffsetMove,
        *,
        before: Mapping[str, str] | None = None,
        after: Mapping[str, str] | None = None,
    ) -> Any:
        """``result`` with its text offsets moved by ``move(field, start, end)`` (None: left where it is).

        ``before`` (texts by field, as the offsets point now): text a result quotes that
        differs from it is refused (``InvalidAnswer``). ``after`` (texts the moved offsets
        point into): derived text is re-read from it; without it, dropped (validation fills
        it again). Default: the result unchanged (it holds no offsets).
        """
        return result

    def protected_ranges(self, config: Any, result: Any) -> dict[str, list[tuple[int, int]]]:
        """The ranges of each offset field that ``result`` marks: text a label depends on, never rewritten
        by a variant. Default: none."""
        return {}

    # -- quality ----------------------------------------------------------------------
    #
    # How this type's answers are compared and combined (docs/quality.md). The quality
    # service loads a project's ratings — the usable annotations: no gold answers, no
    # rejected ones — and asks; the figures come from the pure cores in bastion.quality
    # (NumPy: built-ins import them when first asked, never at start-up). Defaults: not
    # compared, not aggregated.

    # The figures ``agreement`` reports (docs words, e.g. "krippendorff_alpha"); () when
    # answers are not compared (free text).
    agreement_measures: ClassVar[tuple[str, ...]] = ()
    # The methods ``aggregate`` accepts, the default first; () when answers are not combined.
    aggregation_methods: ClassVar[tuple[str, ...]] = ()

    def categorical_value(self, config: Any, result: dict) -> str | int | None:
        """The answer as one category (agreement, aggregation, accuracy per gold label); None when it has none."""
        return None

    def value_name(self, config: Any, value: Any) -> str:
        """How a categorical value (``categorical_value``; a label of the agreement or aggregation
        figures) is named to people — its label by default; preference's 0/1 are its responses."""
        return str(value)

    def agreement(self, config: Any, ratings: Sequence[Rating]) -> dict[str, Any]:
        """The agreement figures over ``ratings``: ``{"kind", …figures, "summary"}`` (numbers or null with a
        reason, never NaN); called only when ``agreement_measures`` is not empty."""
        return {"kind": "none", "note": f"{self.name} answers are not compared: agreement is not computed"}

    def task_agreement(self, config: Any, results: Sequence[dict]) -> float | None:
        """How far one task's answers agree, from 0 (nothing in common) to 1 (all the same): the mean,
        over pairs of answers, of the Jaccard similarity of their parts (``answer_parts``). The data
        browser filters and sorts by it. None with fewer than two answers, or when the type compares
        none (``agreement_measures`` empty)."""
        if not self.agreement_measures or len(results) < 2:
            return None
        parts = [self.answer_parts(config, result) for result in results]
        total, pairs = 0.0, 0
        for i, first in enumerate(parts):
            for second in parts[i + 1 :]:
                union = first | second
                total += len(first & second) / len(union) if union else 1.0
                pairs += 1
        return total / pairs

    def answer_parts(self, config: Any, result: dict) -> frozenset:
        """What ``task_agreement`` compares of an answer: its categorical value when it has one; else each
        of its values by path (a list's items as a set; free text left out), in canonical JSON."""
        value = self.categorical_value(config, result)
        if value is not None:
            return frozenset([("", _canonical(value))])
        return frozenset(_answer_parts(result))

    def result_labels(self, config: Any, result: dict) -> list[Any]:
        """The labels an answer gives (the data browser's label filter): its categorical value, and every
        string under a ``label`` or ``labels`` key at any depth (a span's, a box's, a set's)."""
        found: list[Any] = []
        value = self.categorical_value(config, result)
        if value is not None:
            found.append(value)
        for _path, segments, text in walk_strings(result):
            if segments and segments[-1].rstrip("[]") in ("label", "labels"):
                found.append(text)
        return list(dict.fromkeys(found))

    def label_values(self, config: Any) -> list[str]:
        """The labels this project's answers can give (the choices of the data browser's label filter):
        by default every label (``{"value", …}``) the config declares."""
        found: list[str] = []
        for name in type(config).model_fields:
            value = getattr(config, name, None)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Label):
                    found.append(item.value)
        return list(dict.fromkeys(found))

    def aggregate(self, config: Any, ratings: Sequence[Rating], method: str, *, seed: str) -> dict[str, dict[str, Any]]:
        """One answer per task by ``method`` (one of ``aggregation_methods``): task id -> ``{"label", "n",
        "method", …}`` (categorical answers add ``confidence`` and ``tie``). ``seed`` keys any random choice
        (a tie), so the same project aggregates the same way every time."""
        raise InvalidInput(f"aggregate: {self.name} answers are not aggregated")

    def result_from_form(self, config: Any, form: Any) -> Any:
        """The result posted by the widget's form (default: JSON in a ``result`` field)."""
        import orjson

        raw = form.get("result")
        if not raw:
            raise InvalidAnswer("result: nothing was submitted")
        try:
            return orjson.loads(str(raw))
        except orjson.JSONDecodeError as exc:
            raise InvalidAnswer("result: not valid JSON") from exc

    def widget_context(
        self, config: Any, data: dict, *, task_id: str = "", user_id: str = "", predictions: list | None = None
    ) -> dict:
        """Extra template variables for the widget (derived views of the data).

        ``task_id`` and ``user_id`` say which task is shown to whom, for
        per-person choices that must be repeatable (see ``_order.shown_order``);
        ``predictions`` are the task's pre-annotations, to start the widget from.
        """
        return {}

    def result_widget_context(
        self, config: Any, data: dict, result: Any, *, task_id: str = "", user_id: str = ""
    ) -> dict:
        """The widget's context to show ``result`` (an annotation, a correction): read-only, or as a
        correction form whose post ``result_from_form`` reads back.

        Default: the result as the widget's prediction (widgets start from
        ``task.predictions[0]``). Override where a result is more than a pre-annotation: the
        order its author was shown (``shown_order``), a draft kept apart from the text.
        """
        return self.widget_context(
            config, data, task_id=task_id, user_id=user_id, predictions=[result] if result is not None else []
        )

    def result_facts(self, config: Any, data: dict, result: Any) -> dict[str, str]:
        """A result as facts to compare with other people's results: ``key -> words``.

        Two results agree on a fact when both hold its key; review and the task page
        mark the facts not every compared result holds (a differing label, a span
        not shared). Keys are the type's own (its widget may mark what they name);
        words say the fact to a person. Default: the JSON flattened, ``path = value``
        (a list of plain values as a set: ``path ∋ value``).
        """
        return flat_facts(result)

    # -- the config editor's preview
    # The project set-up page shows the widget, inert, on a sample item while a config is
    # typed: no project, no task, no lease. A type gives a small item its widget reads
    # (``sample_data``); the default puts a sentence in the config's ``field`` (or ``text``).

    def sample_data(self, config: Any) -> dict:
        """A small made-up item this config's widget can show (the editor's live preview)."""
        return {str(getattr(config, "field", None) or "text"): SAMPLE_TEXT}

    def preview_context(self, config: Any, data: dict) -> dict:
        """The widget's context for the preview of ``data`` (default: ``widget_context`` for nobody in
        particular). A type whose widget shows stored files points at a sample here instead."""
        return self.widget_context(config, data, task_id="preview", user_id="preview", predictions=[])

    def summarise(self, config: Any, result: Any) -> str:
        """A result in one short line for people (an annotator's list of their annotations).

        ``result`` is as the reader was shown it (their variant's offsets and text; screen
        letters follow their own order). Default: the result's JSON, cut to ``SUMMARY_CHARS``.
        """
        import orjson

        return shorten(orjson.dumps(result).decode())

    def model_endpoints(self, config: Any) -> list[tuple[str, str]]:
        """``(config path, endpoint id)`` for each model endpoint the config names (``chat``): the project
        service checks each belongs to the project's own workspace when a config is saved. Default: none."""
        return []

    def file_fields(self, config: Any) -> tuple[str, ...]:
        """Keys of ``data`` holding sealed file references (``fil_…``)."""
        return ()

    # -- exports
    # Export formats encode rows (exporting/); a format names the kind of rows it
    # encodes, and the kinds other than the export's own lossless rows are made
    # here. ``row_kinds`` maps a kind (``sft``, ``dpo``, ``spacy``, ``conll``,
    # ``coco``, or a plugin format's own) to ``fn(config, task, annotation,
    # options) -> iterable of rows``: the rows of one annotation of ``task`` (a
    # record of services/exports.py, with all its annotations) — or, for a format
    # that asks once per task (``coco``), of the whole task (``annotation`` None),
    # and the rows that head the file (``task`` None too: COCO's categories).
    # ``options`` is ``_export.ExportOptions``. A kind this type does not make
    # is a format it does not offer: the export is refused before its first byte.
    row_kinds: ClassVar[Mapping[str, Callable[..., Iterable[dict]]]] = {}

    def export_rows(self, kind: str) -> Callable[..., Iterable[dict]] | None:
        """How this type makes rows of ``kind`` for an export (see above), or None when it makes none.

        Asked once per export. Override it where a table will not do (kinds
        made by a function shared by several plugin types, say). Every type
        with a Label Studio mapping makes ``labelstudio`` rows.
        """
        if kind == "labelstudio" and self.label_studio_tags:
            return self.label_studio_rows
        return self.row_kinds.get(kind)

    def export_refusal(self, config: Any, kind: str) -> str | None:
        """Why a project with this config cannot make rows of ``kind`` at all, or None when it can.

        Asked before an export's first byte (the refusal is a 422 naming the problem); a
        row maker must not raise for a reason this could have told in advance — the
        body would be cut mid-stream. Default: nothing is refused.
        """
        return None

    # -- Label Studio
    # Results in Label Studio's shape (a list of result items: ``{"from_name", "to_name",
    # "type", "value"}``, relations ``{"from_id", "to_id", "type": "relation"}``) to and from
    # this type's results (bastion.interop.labelstudio converts configs and reads exports;
    # docs/label-studio.md). Items are read by their ``type`` (and a rating by its
    # ``from_name``), whatever the names of the config that made them; the names written are
    # those of the config docs/label-studio.md gives for the type. ``data`` is the task's data
    # as Label Studio holds it (from) or as Bastion does (to): offsets, pixel sizes and item
    # ids are read from it. Defaults: no mapping.

    # The Label Studio control tags this type converts (empty: no mapping).
    label_studio_tags: ClassVar[tuple[str, ...]] = ()

    def _no_label_studio(self) -> InvalidInput:
        return InvalidInput(f"task type {self.name} has no Label Studio mapping")

    def data_from_label_studio(self, config: Any, data: dict) -> dict:
        """A Label Studio task's ``data`` as this type's tasks hold it (default: as it is)."""
        return data

    def data_to_label_studio(self, config: Any, data: dict) -> dict:
        """A task's ``data`` as the type's Label Studio config reads it (default: as it is)."""
        return data

    def from_label_studio(self, config: Any, data: dict, ls_results: list[dict]) -> dict:
        """A Label Studio annotation's result items as this type's result (validated by the caller)."""
        raise self._no_label_studio()

    def to_label_studio(self, config: Any, data: dict, result: dict) -> list[dict]:
        """This type's result as Label Studio result items."""
        raise self._no_label_studio()

    def prediction_from_label_studio(self, config: Any, data: dict, ls_results: list[dict]) -> dict:
        """A Label Studio prediction's result items as this type's prediction (default: as a result)."""
        return self.from_label_studio(config, data, ls_results)

    def prediction_to_label_studio(self, config: Any, data: dict, prediction: dict) -> list[dict]:
        """A prediction as Label Studio result items (default: as a result)."""
        return self.to_label_studio(config, data, prediction)

    def label_studio_rows(
        self, config: Any, task: dict | None, annotation: dict | None, options: Any
    ) -> Iterable[dict]:
        """The export rows of the ``labelstudio`` kind: one Label Studio task per task (see _labelstudio)."""
        return _labelstudio.task_rows(self, config, task)


def flat_facts(value: Any, path: str = "") -> dict[str, str]:
    """``value`` (JSON) as facts ``key -> words``: each plain value at its path, lists of plain values as sets."""
    import orjson

    def show(v: Any) -> str:
        text = v if isinstance(v, str) else orjson.dumps(v).decode()
        return text if len(text) <= 120 else text[:119] + "…"

    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key in value:
            out.update(flat_facts(value[key], f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        for v in value:
            out[f"{path}∋{orjson.dumps(v).decode()}"] = f"{path or 'result'}: {show(v)}"
        if not value:
            out[f"{path}=[]"] = f"{path or 'result'}: none"
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(flat_facts(v, f"{path}[{i}]"))
    else:
        out[f"{path}={orjson.dumps(value).decode()}"] = f"{path or 'result'}: {show(value)}"
    return out


def _canonical(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _answer_parts(result: Any) -> Iterator[tuple[str, str]]:
    """(path, canonical value) for each value of an answer; a list's items under its path; free text left out."""
    stack: list[tuple[str, Any]] = [("", result)]
    while stack:
        path, value = stack.pop()
        if path.rsplit(".", 1)[-1] in FREE_TEXT_KEYS:
            continue
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), sub) for key, sub in value.items())
        elif isinstance(value, list):
            for item in value:
                yield path, _canonical(item)
        else:
            yield path, _canonical(value)


class Rating(NamedTuple):
    """One annotator's answer to one task, as agreement and aggregation read it."""

    task: str
    user: str
    result: dict


class TaskTypes:
    """The registry of installed task types, keyed by name."""

    def __init__(self, types: list[TaskType]) -> None:
        self._types: dict[str, TaskType] = {}
        for tt in types:
            if tt.name in self._types:
                raise RuntimeError(f"two plugins define task type {tt.name!r}")
            self._types[tt.name] = tt

    def get(self, name: str) -> TaskType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types))
            raise InvalidConfig(f"type: unknown task type {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def __iter__(self):
        return iter(self._types.values())

    def parse_config(self, raw: Any) -> tuple[TaskType, BaseModel]:
        if not isinstance(raw, dict):
            raise InvalidConfig("config: must be a JSON object")
        name = raw.get("type")
        if not isinstance(name, str):
            raise InvalidConfig("type: required (one of: " + ", ".join(self.names()) + ")")
        tt = self.get(name)
        return tt, tt.parse_config(raw)


@functools.cache
def installed() -> TaskTypes:
    from ..plugins import plugin_manager

    types: list[TaskType] = []
    for provided in plugin_manager().hook.bastion_task_types():
        types.extend(provided or [])
    return TaskTypes(types)
