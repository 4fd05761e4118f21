"""Label Studio, both ways: its labelling configs as Bastion configs, its JSON exports as import lines.

Concept. A Label Studio config is XML: *object* tags show data (``<Text
name="text" value="$text"/>``, ``<Image>``, ``<List>``) and *control* tags label
it (``<Choices toName="text">``, ``<Labels>``, ``<Pairwise>``…). One family of
controls becomes one Bastion task type (``CONTROLS`` below, in the order they are
tried); a control of another family, an unknown tag or an attribute Bastion has
no place for is *named* in the list ``convert_config`` returns, never dropped
silently. Layout tags (``View``, ``Header``…) carry nothing to convert; headers'
texts become the instructions.

An export (``exportType=JSON``: a list of tasks) becomes import lines —
``{"data", "external_id", "predictions": [{"model_version", "score", "result"}],
"annotations": [{"completed_by", "created_at", "lead_time", "was_cancelled",
"result"}]}`` — results converted by the project's task type
(``TaskType.from_label_studio``) and validated as any result is. A task that
cannot cross comes out as errors naming the Label Studio task id and the field.

Design choice. The XML is parsed with the standard library's expat, with any
DTD refused outright: a labelling config has no use for one, and without a DTD
no entity can be declared, so neither entity expansion (billion laughs) nor an
external entity can happen. (defusedxml is not a dependency.)

The trap: Label Studio's own Export button writes predictions as bare ids and
annotators as user ids; only an export snapshot with ``predictions.only_id``
and ``annotations__completed_by.only_id`` false carries whole predictions and
e-mails. Ids cannot be converted: they are reported in ``skipped``, never
guessed at.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, NoReturn

import orjson

from ..domain.errors import InvalidAnswer, InvalidConfig, InvalidInput
from ..tasktypes import TaskType, installed

OBJECTS = ("Text", "HyperText", "Image", "List", "Paragraphs")
LAYOUT = ("View", "Header", "Style", "Collapse", "Panel", "Filter", "Choice", "Label", "Relation")
MAX_CONFIG_BYTES = 1_000_000
ENVELOPE = ("label_config", "tasks")  # an export sent with its labelling config


# -- parsing the XML ----------------------------------------------------------------


@dataclass
class Tag:
    name: str
    attrs: dict[str, str]
    children: list[Tag] = field(default_factory=list)


def _refuse_dtd(*_: Any) -> NoReturn:
    raise InvalidConfig("label config: a DOCTYPE or entity declaration is not allowed")


def parse_xml(xml_text: str) -> Tag:
    """The config's element tree; InvalidConfig for malformed XML or any DTD."""
    if len(xml_text.encode()) > MAX_CONFIG_BYTES:
        raise InvalidConfig(f"label config: larger than {MAX_CONFIG_BYTES} bytes")
    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    root = Tag("", {})
    stack = [root]

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = Tag(name, attrs)
        stack[-1].children.append(tag)
        stack.append(tag)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: stack.pop()
    try:
        parser.Parse(xml_text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise InvalidConfig(f"label config: not well-formed XML ({exc})") from exc
    if len(root.children) != 1:
        raise InvalidConfig("label config: one root element (<View>) expected")
    return root.children[0]


def _walk(tag: Tag) -> Iterator[Tag]:
    yield tag
    for child in tag.children:
        yield from _walk(child)


def _var(value: str | None) -> str | None:
    """``$text`` -> ``text`` (None for a literal value)."""
    return value[1:] if value and value.startswith("$") and len(value) > 1 else None


# -- configs ------------------------------------------------------------------------


class Conversion(NamedTuple):
    """What ``label_config`` says, as Bastion reads it."""

    config: dict
    unconverted: list[str]
    # Bastion data field -> the Label Studio data fields gathered into it (Pairwise's two texts)
    gather: dict[str, list[str]]


def _labels(control: Tag, child: str) -> list[dict | str]:
    out: list[dict | str] = []
    for c in control.children:
        if c.name == child and c.attrs.get("value"):
            label: dict[str, str] = {"value": c.attrs["value"]}
            if c.attrs.get("hint"):
                label["description"] = c.attrs["hint"]
            out.append(label if len(label) > 1 else label["value"])
    return out


def convert(xml_text: str) -> Conversion:
    """The Bastion config for a Label Studio config, what did not convert, and how data is gathered."""
    root = parse_xml(xml_text)
    tags = list(_walk(root))
    objects = {t.attrs["name"]: t for t in tags if t.name in OBJECTS and t.attrs.get("name")}
    unconverted: list[str] = []
    headers = [t.attrs["value"] for t in tags if t.name == "Header" and t.attrs.get("value")]
    controls = [t for t in tags if t.name not in OBJECTS and t.name not in LAYOUT]
    by_tag: dict[str, list[Tag]] = {}
    for t in controls:
        by_tag.setdefault(t.name, []).append(t)
    for t in tags:
        if t.name in OBJECTS and t.attrs.get("name") and _var(t.attrs.get("value")) is None:
            unconverted.append(f"<{t.name} name={t.attrs['name']!r}>: its value is not a $field of the task")

    def source(control: Tag) -> tuple[str | None, Tag | None]:
        obj = objects.get(control.attrs.get("toName", "").split(",")[0])
        return (_var(obj.attrs.get("value")) if obj else None), obj

    def other_text_fields(used: set[str]) -> list[str]:
        return [
            v
            for name, o in objects.items()
            if o.name == "Text" and name not in used and (v := _var(o.attrs.get("value")))
        ]

    config: dict[str, Any] | None = None
    used: list[Tag] = []
    gather: dict[str, list[str]] = {}
    if "RectangleLabels" in by_tag:
        box = by_tag["RectangleLabels"][0]
        field_name, _ = source(box)
        config = {"type": "image", "field": field_name or "image", "box_labels": _labels(box, "Label")}
        used.append(box)
        for ch in by_tag.get("Choices", []):
            if ch.attrs.get("toName") == box.attrs.get("toName") and "image_labels" not in config:
                config["image_labels"] = _labels(ch, "Choice")
                config["multiple"] = ch.attrs.get("choice") == "multiple"
                used.append(ch)
    elif "Labels" in by_tag:
        labels = by_tag["Labels"][0]
        field_name, _ = source(labels)
        config = {"type": "spans", "field": field_name or "text", "labels": _labels(labels, "Label")}
        used.append(labels)
        for rel in by_tag.get("Relations", [])[:1]:
            config["relations"] = _labels(rel, "Relation")
            used.append(rel)
    elif "Pairwise" in by_tag:
        pair = by_tag["Pairwise"][0]
        names = [n.strip() for n in pair.attrs.get("toName", "").split(",")]
        fields = [_var(objects[n].attrs.get("value")) if n in objects else None for n in names]
        if len(fields) != 2 or None in fields:
            raise InvalidConfig(
                f"<Pairwise name={pair.attrs.get('name')!r}>: toName must name two <Text> objects with $field values"
            )
        config = {
            "type": "preference",
            "responses_field": "responses",
            "allow_tie": False,
            "strength": False,
            "rationale": "off",
            "randomize": False,
        }
        gather["responses"] = [f for f in fields if f]
        prompts = other_text_fields(set(names))
        if prompts:
            config["prompt_field"] = prompts[0]
        used.append(pair)
    elif "Ranker" in by_tag:
        ranker = by_tag["Ranker"][0]
        field_name, obj = source(ranker)
        if obj is None or obj.name != "List" or field_name is None:
            raise InvalidConfig(
                f"<Ranker name={ranker.attrs.get('name')!r}>: toName must name a <List> with a $field value"
            )
        config = {"type": "ranking", "responses_field": field_name, "allow_ties": False, "randomize": False}
        prompts = other_text_fields(set())
        if prompts:
            config["prompt_field"] = prompts[0]
        used.append(ranker)
        unconverted += [
            f"<Bucket name={b.attrs.get('name')!r}>: ranking into buckets does not convert"
            for b in _walk(ranker)
            if b.name == "Bucket"
        ]
    elif "Rating" in by_tag:
        ratings = by_tag["Rating"]
        field_name, _ = source(ratings[0])
        config = {"type": "rubric", "response_field": field_name or "text", "criteria": []}
        # a rubric shows a prompt: another <Text>, else the rated text itself
        config["prompt_field"] = (
            other_text_fields({ratings[0].attrs.get("toName", "")}) or [config["response_field"]]
        )[0]
        for r in ratings:
            if source(r)[0] != field_name:
                unconverted.append(f"<Rating name={r.attrs.get('name')!r}>: rates another object than the first")
                continue
            top = int(r.attrs.get("maxRating", "5")) if r.attrs.get("maxRating", "5").isdigit() else 5
            config["criteria"].append(
                {"name": r.attrs.get("name", "rating"), "scale": {"min": 1, "max": top}, "comment": "off"}
            )
            used.append(r)
    elif "TextArea" in by_tag:
        area = by_tag["TextArea"][0]
        field_name, _ = source(area)
        config = {"type": "writing"}
        if field_name:
            config["prompt_field"] = field_name
        used.append(area)
    elif "Choices" in by_tag:
        choices = by_tag["Choices"][0]
        field_name, _ = source(choices)
        config = {
            "type": "classification",
            "field": field_name or "text",
            "labels": _labels(choices, "Choice"),
            "multiple": choices.attrs.get("choice") == "multiple",
        }
        used.append(choices)
    if config is None:
        found = ", ".join(sorted({f"<{t.name}>" for t in controls})) or "none"
        raise InvalidConfig(
            f"label config: no control Bastion converts (found: {found}; converted: Choices, "
            "Labels, Relations, Pairwise, Ranker, TextArea, Rating, RectangleLabels)"
        )
    for t in controls:
        if t not in used and t.name != "Bucket":
            unconverted.append(
                f"<{t.name} name={t.attrs.get('name')!r}>: a {config['type']} project has no place for it"
            )
    if headers:
        config["instructions"] = "\n\n".join(headers)
    installed().get(config["type"]).parse_config(config)  # a conversion is always a valid config
    return Conversion(config, unconverted, gather)


def convert_config(xml_text: str) -> tuple[dict, list[str]]:
    """A Label Studio labelling config as a Bastion config, and what could not be converted (named)."""
    conversion = convert(xml_text)
    return conversion.config, conversion.unconverted


# -- exports ------------------------------------------------------------------------


class LabelStudioTask(NamedTuple):
    """One task of a Label Studio export: its import line, or why it cannot cross.

    ``line`` is None exactly when ``errors`` is not empty; ``skipped`` names what the
    export held that cannot be converted and was left out (predictions given as ids).
    """

    task_id: Any
    line: dict | None
    errors: list[str]
    skipped: list[str]


def _results(tt: TaskType, config: Any, data: dict, ls_results: Any, *, prediction: bool) -> dict:
    if prediction:
        result = tt.prediction_from_label_studio(config, data, ls_results)
        return tt.validate_prediction(config, tt.data_from_label_studio(config, data), result)
    result = tt.from_label_studio(config, data, ls_results)
    return tt.validate_result(config, tt.data_from_label_studio(config, data), result)


def _annotator(value: Any) -> str | int | None:
    if isinstance(value, dict):
        return value.get("email") or value.get("id")
    return value if isinstance(value, (int, str)) else None


def read_task(tt: TaskType, config: Any, task: Any, gather: dict[str, list[str]] | None = None) -> LabelStudioTask:
    """One exported Label Studio task as an import line (see ``LabelStudioTask``)."""
    if not isinstance(task, dict):
        return LabelStudioTask(None, None, ["task: must be an object {id, data, annotations, predictions}"], [])
    task_id = task.get("id")
    errors: list[str] = []
    skipped: list[str] = []
    data = task.get("data")
    if not isinstance(data, dict):
        return LabelStudioTask(task_id, None, [f"task {task_id}: data: must be an object"], [])
    for key, fields in (gather or {}).items():
        missing = [f for f in fields if f not in data]
        if missing:
            errors.append(f"task {task_id}: data.{missing[0]}: missing (the config compares it)")
        else:
            data = {**data, key: [data[f] for f in fields]}
    bastion_data = tt.data_from_label_studio(config, data)
    problem = tt.check_data(config, bastion_data)
    if problem:
        errors.append(f"task {task_id}: {problem}")
    predictions = []
    for i, p in enumerate(task.get("predictions") or []):
        where = f"task {task_id}: predictions[{i}]"
        if not isinstance(p, dict):
            skipped.append(f"{where}: only the id {p!r} (export with whole predictions to bring them)")
            continue
        try:
            result = _results(tt, config, data, p.get("result"), prediction=True)
        except (InvalidAnswer, InvalidInput) as exc:
            errors.append(f"{where}.result: {exc.message}")
            continue
        pred: dict[str, Any] = {"result": result}
        for key in ("model_version", "score"):
            if p.get(key) is not None:
                pred[key] = p[key]
        predictions.append(pred)
    annotations = []
    for i, a in enumerate(task.get("annotations") or []):
        where = f"task {task_id}: annotations[{i}]"
        if not isinstance(a, dict):
            errors.append(f"{where}: must be an object")
            continue
        ann: dict[str, Any] = {
            "completed_by": _annotator(a.get("completed_by")),
            "was_cancelled": bool(a.get("was_cancelled")),
        }
        if ann["completed_by"] is None:
            errors.append(f"{where}.completed_by: missing (an annotation needs its author)")
        for key in ("created_at", "lead_time"):
            if a.get(key) is not None:
                ann[key] = a[key]
        if ann["was_cancelled"]:
            ann["result"] = None  # a skip: Label Studio keeps no answer
        else:
            try:
                ann["result"] = _results(tt, config, data, a.get("result"), prediction=False)
            except (InvalidAnswer, InvalidInput) as exc:
                errors.append(f"{where}.result: {exc.message}")
                continue
        annotations.append(ann)
    if errors:
        return LabelStudioTask(task_id, None, errors, skipped)
    line: dict[str, Any] = {
        "data": bastion_data,
        "external_id": str(task_id) if task_id is not None else None,
        "predictions": predictions,
        "annotations": annotations,
    }
    if task.get("meta"):
        line["meta"] = task["meta"]
    return LabelStudioTask(task_id, line, [], skipped)


def read_label_studio_export(
    fileobj: IO[bytes], config: dict | Any, *, label_config: str | None = None
) -> Iterator[LabelStudioTask]:
    """The tasks of a Label Studio JSON export (``exportType=JSON``) as Bastion import lines.

    ``config`` is the project's Bastion config (a dict, or the model its task type
    parsed). ``label_config``, the Label Studio XML the export was made with, is
    needed only where data fields are gathered (Pairwise's two texts into one
    list of responses). It may also come with the export, in one document:
    ``{"label_config": XML, "tasks": [the export's tasks]}`` — how the API's
    import, whose body is the file, takes it.
    """
    if isinstance(config, dict):
        tt, parsed = installed().parse_config(config)
    else:
        tt, parsed = installed().get(config.type), config
    if not tt.label_studio_tags:
        raise InvalidInput(f"task type {tt.name} has no Label Studio mapping")
    try:
        tasks = orjson.loads(fileobj.read())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"file: not JSON ({exc})") from exc
    if isinstance(tasks, dict) and set(tasks) == set(ENVELOPE):  # the export with its config, in one body
        if not isinstance(tasks["label_config"], str):
            raise InvalidInput("file: label_config: must be the labelling config's XML, a string")
        if label_config is not None and label_config != tasks["label_config"]:
            raise InvalidInput("file: label_config: given twice, differently")
        label_config, tasks = tasks["label_config"], tasks["tasks"]
    if not isinstance(tasks, list):
        raise InvalidInput(
            'file: a Label Studio JSON export is a list of tasks (or {"label_config": XML, "tasks": [...]})'
        )
    gather = convert(label_config).gather if label_config else {}
    for task in tasks:
        yield read_task(tt, parsed, task, gather)
