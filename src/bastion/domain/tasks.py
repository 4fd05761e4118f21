"""Tasks: one unit of work to label. Parsing of imported tasks lives here (pure, no I/O)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

ITEM_KEYS = frozenset({"data", "external_id", "meta", "predictions", "priority", "gold", "annotations"})
# Keys of Bastion's own lossless export that an import accepts and ignores: the new project
# renews the ids and the task's time, and derives the counts (docs/import.md, "Round trip").
RENEWED_KEYS = frozenset({"id", "project_id", "annotation_count", "done", "created_at", "split", "aggregate"})
MAX_EXTERNAL_ID = 500


@dataclass(frozen=True, slots=True)
class TaskInput:
    """A validated imported task."""

    data: dict[str, Any]
    external_id: str | None
    meta: dict[str, Any] | None
    predictions: list[Any] | None
    priority: int
    gold: Any = None  # the known answer of a gold task (a result of the project's task type)
    # Annotations made elsewhere, with their authors: raw here, parsed by services/attributed.py.
    annotations: list[Any] | None = None


def parse_item(obj: Any) -> TaskInput:
    """Validate one imported task; raises ValueError with a message naming the field."""
    if not isinstance(obj, dict):
        raise ValueError('a task must be a JSON object like {"data": {...}}')
    if len(obj) <= 2:  # the common shapes, {"data"} and {"data", "external_id"}, checked directly
        data = obj.get("data")
        external_id = obj.get("external_id")
        if isinstance(data, dict) and (
            len(obj) == 1 or (isinstance(external_id, str) and 0 < len(external_id) <= MAX_EXTERNAL_ID)
        ):
            return TaskInput(data, external_id, None, None, 0, None)
    unknown = obj.keys() - ITEM_KEYS - RENEWED_KEYS
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown key (allowed: {', '.join(sorted(ITEM_KEYS))})")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise ValueError("data: required, a JSON object")
    external_id = obj.get("external_id")
    if external_id is not None:
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            external_id = str(external_id)
        if not isinstance(external_id, str) or not external_id or len(external_id) > MAX_EXTERNAL_ID:
            raise ValueError(f"external_id: a non-empty string of at most {MAX_EXTERNAL_ID} characters")
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise ValueError("meta: must be a JSON object")
    predictions = obj.get("predictions")
    if predictions is not None:
        if isinstance(predictions, dict):
            predictions = [predictions]
        if not isinstance(predictions, list):
            raise ValueError("predictions: must be a list of results")
    priority = obj.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -1000 <= priority <= 1000:
        raise ValueError("priority: an integer from -1000 to 1000")
    gold = obj.get("gold")
    if gold is not None and not isinstance(gold, dict):
        raise ValueError("gold: must be a result object (the known answer)")
    annotations = obj.get("annotations")
    if annotations is not None and not isinstance(annotations, list):
        raise ValueError("annotations: must be a list of annotations")
    return TaskInput(data, external_id, meta, predictions, priority, gold, annotations or None)


def content_digest(task: TaskInput) -> bytes:
    """Stable digest of a task's content, the dedupe key when it has no external id."""
    return hashlib.sha256(orjson.dumps(task.data, option=orjson.OPT_SORT_KEYS)).digest()


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    project_id: str
    workspace_id: str
    data: dict[str, Any]
    external_id: str | None
    meta: dict[str, Any] | None
    predictions: list[Any] | None
    priority: int
    annotation_count: int
    done: bool
    created_at: int
