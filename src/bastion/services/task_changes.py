"""Tasks after import: change a task's priority, predictions and meta, or delete it — one, or many by a filter.

Owners and managers only (``Action.TASK_MANAGE``). A change is checked and sealed as
at import (``domain.tasks.parse_item``'s rules; predictions validated by the task
type against each task's data; payload and predictions sealed with the project's
key) and audited with the names of the fields changed, never their values
(``task.updated``; ``tasks.updated`` for a bulk change, with the count).

A bulk change picks the project's tasks with a filter (``TaskFilter``: ids, external
ids, a priority range, has annotations, gold) and applies the same patch to all of
them in one transaction, or to none: above ``MAX_BULK`` matching tasks it refuses
before writing anything.

Deleting a task deletes its annotations, their reviews and its assignments with it
(cascades in the schema), keeps the project's counters right (tasks, done,
annotations) and deletes the files it names when no other task of the project
names them; it is audited with those counts (``task.deleted``; ``tasks.deleted``).

The traps: canaries are not the project's tasks and are never picked (an id of one
answers 404, like any id outside the caller's reach); gold tasks and held tasks are
not counted among the project's tasks, so deleting them leaves that counter alone;
a file's blob is deleted only after the transaction that deleted its row commits
(a blob store call never holds the database's write lock), so a failed delete
leaves every blob; and a project that redacts at import refuses new predictions,
which would reach annotators without passing the redactor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from . import search
from .context import Context, Unit
from .files import blobs
from .projects import bump_counts, load_project
from .redaction import policy_of
from .tasks import find_task_row
from ..access import Action
from ..domain.errors import BastionError, Conflict, InvalidAnswer, InvalidInput, NotFound
from ..domain.tasks import parse_item
from ..storage import files_store, tasks_store
from ..storage.tasks_store import PickedTask, TaskFilter

log = logging.getLogger(__name__)

MAX_BULK = 10_000
PATCH_FIELDS = ("priority", "predictions", "meta")
FILTER_KEYS = frozenset({"ids", "external_ids", "priority_min", "priority_max", "has_annotations", "gold"})


@dataclass(frozen=True, slots=True)
class TaskPatch:
    """The fields to change (only those given) and their checked values."""

    fields: tuple[str, ...]
    priority: int = 0
    predictions: list | None = None
    meta: dict | None = None


def parse_patch(patch: Any) -> TaskPatch:
    """Check a patch by the import's rules: ``priority`` (-1000..1000), ``predictions`` (a list of
    results, or one), ``meta`` (an object, or null to remove it)."""
    if not isinstance(patch, dict) or not patch:
        raise InvalidInput(f"patch: an object with one or more of {', '.join(PATCH_FIELDS)}")
    unknown = sorted(set(patch) - set(PATCH_FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: cannot be changed (allowed: {', '.join(PATCH_FIELDS)})")
    if "priority" in patch and patch["priority"] is None:
        raise InvalidInput("priority: an integer from -1000 to 1000")
    try:
        checked = parse_item({"data": {}, **patch})
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    fields = tuple(f for f in PATCH_FIELDS if f in patch)
    return TaskPatch(fields, checked.priority, checked.predictions or [], checked.meta)


def parse_filter(where: Any) -> dict[str, Any]:
    """Check a bulk filter: a non-empty object of ``FILTER_KEYS`` (every given condition must hold)."""
    if not isinstance(where, dict) or not where:
        raise InvalidInput(f"filter: an object with one or more of {', '.join(sorted(FILTER_KEYS))}")
    unknown = sorted(set(where) - FILTER_KEYS)
    if unknown:
        raise InvalidInput(f"filter.{unknown[0]}: unknown (allowed: {', '.join(sorted(FILTER_KEYS))})")
    for key in ("ids", "external_ids"):
        value = where.get(key)
        if value is not None and (
            not isinstance(value, list)
            or not 1 <= len(value) <= MAX_BULK
            or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value)
        ):
            raise InvalidInput(f"filter.{key}: a list of 1 to {MAX_BULK} strings")
    for key in ("priority_min", "priority_max"):
        value = where.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidInput(f"filter.{key}: an integer")
    for key in ("has_annotations", "gold"):
        value = where.get(key)
        if value is not None and not isinstance(value, bool):
            raise InvalidInput(f"filter.{key}: true or false")
    return where


def _task_filter(w: Unit, project, where: dict[str, Any]) -> TaskFilter:
    """The store's filter: external ids become their keyed hashes (they are not stored in clear)."""
    external = where.get("external_ids")
    keys = None
    if external is not None:
        sealer = w.sealer(project.workspace_id, project.key_id)
        keys = tuple(sealer.index_hash(b"external_id", project.id, e) for e in external)
    ids = where.get("ids")
    return TaskFilter(
        ids=None if ids is None else tuple(ids),
        dedupe_keys=keys,
        priority_min=where.get("priority_min"),
        priority_max=where.get("priority_max"),
        has_annotations=where.get("has_annotations"),
        is_gold=where.get("gold"),
    )


def _pick(w: Unit, project, where: TaskFilter) -> list[PickedTask]:
    picked = tasks_store.pick_tasks(
        w.tx, project.id, workspace_id=project.workspace_id, where=where, limit=MAX_BULK + 1
    )
    if len(picked) > MAX_BULK:
        raise InvalidInput(
            f"the filter matches more than {MAX_BULK} tasks: narrow it (by ids or a priority range) and repeat"
        )
    return picked


def find_managed_task(w: Unit, task_id: str):
    """The project and the task ``task_id``, if the caller may manage it; NotFound otherwise."""
    project = load_project(w, find_task_row(w, task_id).project_id, Action.TASK_MANAGE)
    picked = tasks_store.pick_tasks(
        w.tx, project.id, workspace_id=project.workspace_id, where=TaskFilter(ids=(task_id,)), limit=1
    )
    if not picked:
        raise NotFound("task not found")  # a canary: not one of the project's tasks
    return project, picked


# -- changing ----------------------------------------------------------------------------


def _apply(w: Unit, project, picked: list[PickedTask], patch: TaskPatch) -> None:
    ws = project.workspace_id
    ids = [task.id for task in picked]
    if "priority" in patch.fields:
        tasks_store.set_priority(w.tx, ids, workspace_id=ws, priority=patch.priority)
    if "predictions" not in patch.fields and "meta" not in patch.fields:
        return
    task_type = w.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    if "predictions" in patch.fields and patch.predictions and policy_of(config) is not None:
        raise Conflict("this project redacts its tasks at import: predictions come in with an import only")
    sealer = w.sealer(ws, project.key_id)
    changes: list[tuple[str, dict[str, bytes | None]]] = []
    reindexed: list[tuple[str, dict]] = []
    for task in picked:
        body = sealer.open_json("tasks", task.id, "payload", task.payload)
        values: dict[str, bytes | None] = {}
        if "predictions" in patch.fields:
            try:
                checked = [task_type.validate_prediction(config, body["data"], p) for p in patch.predictions or []]
            except InvalidAnswer as exc:
                raise InvalidInput(f"task {task.id}: {exc.message}") from None
            values["predictions"] = (
                sealer.seal("tasks", task.id, "predictions", orjson.dumps(checked)) if checked else None
            )
        if "meta" in patch.fields:
            if patch.meta is None:
                body.pop("meta", None)
            else:
                body["meta"] = patch.meta
            values["payload"] = sealer.seal("tasks", task.id, "payload", orjson.dumps(body))
            reindexed.append((task.id, body))
        changes.append((task.id, values))
    tasks_store.set_sealed(w.tx, changes, workspace_id=ws)
    search.reindex_tasks(w, project, reindexed)  # meta words and meta:key=value tokens changed


def update_task(ctx: Context, task_id: str, patch: Any) -> dict[str, Any]:
    """Change one task's priority, predictions or meta; answers the fields changed."""
    checked = parse_patch(patch)
    with ctx.write() as w:
        project, picked = find_managed_task(w, task_id)
        _apply(w, project, picked, checked)
        w.audit(project.workspace_id, "task.updated", task_id, fields=list(checked.fields))
    return {"id": task_id, "fields": list(checked.fields)}


def update_tasks(ctx: Context, project_id: str, where: Any, patch: Any) -> dict[str, Any]:
    """Apply the same patch to the project's tasks that match ``where``, all or none; answers the count."""
    checked = parse_patch(patch)
    conditions = parse_filter(where)
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_MANAGE)
        picked = _pick(w, project, _task_filter(w, project, conditions))
        _apply(w, project, picked, checked)
        if picked:
            w.audit(
                project.workspace_id,
                "tasks.updated",
                project.id,
                count=len(picked),
                fields=list(checked.fields),
                filter=sorted(conditions),
            )
    return {"updated": len(picked), "fields": list(checked.fields)}


# -- deleting ----------------------------------------------------------------------------


def _delete(w: Unit, project, picked: list[PickedTask]) -> tuple[dict[str, int], list[str]]:
    """Delete the picked tasks and what goes with them; returns the counts and the files whose blobs to delete."""
    ws = project.workspace_id
    ids = [task.id for task in picked]
    gone = tasks_store.count_dependents(w.tx, ids, workspace_id=ws)
    files = _orphaned_files(w, project, picked)
    search.forget_tasks(w, project, ids)  # their label rows go by cascade
    deleted = tasks_store.delete_tasks(w.tx, ids, workspace_id=ws)
    files_deleted = files_store.delete_files(w.tx, ws, project.id, files)
    # The counters count what import and submit counted: gold tasks are not among the
    # project's tasks; held ones are, but are never done.
    counted = [task for task in picked if not task.is_gold]
    done = sum(1 for task in counted if task.done and not task.held)
    bump_counts(w, ws, project.id, tasks=-len(counted), done=-done, annotations=-gone.annotations)
    counts = {
        "tasks": deleted,
        "annotations": gone.annotations,
        "reviews": gone.reviews,
        "assignments": gone.assignments,
        "files": files_deleted,
    }
    return counts, files


def _orphaned_files(w: Unit, project, picked: list[PickedTask]) -> list[str]:
    """The files the picked tasks name that no other task of the project names.

    Files are named only inside sealed payloads, so the other tasks are opened to
    look (only in projects whose task type has file fields, and only when the
    picked tasks name some).
    """
    task_type = w.rt.task_types.get(project.task_type)
    fields = task_type.file_fields(task_type.parse_config(project.config))
    if not fields:
        return []
    sealer = w.sealer(project.workspace_id, project.key_id)

    def named(task_id: str, payload: bytes) -> set[str]:
        data = sealer.open_json("tasks", task_id, "payload", payload)["data"]
        return {data[f] for f in fields if isinstance(data.get(f), str)}

    candidates: set[str] = set()
    for task in picked:
        candidates |= named(task.id, task.payload)
    if not candidates:
        return []
    leaving = {task.id for task in picked}
    for task_id, payload in tasks_store.iter_payloads(w.tx, project.id, workspace_id=project.workspace_id):
        if task_id not in leaving:
            candidates -= named(task_id, payload)
            if not candidates:
                break
    return sorted(candidates)


def _delete_blobs(ctx: Context, workspace_id: str, file_ids: list[str]) -> None:
    """After commit: the deleted rows' blobs. A blob left by a store error is unreachable (no row names it)."""
    store = blobs(ctx)
    for file_id in file_ids:
        try:
            store.delete(workspace_id, file_id)
        except (OSError, BastionError):
            log.warning("the blob of deleted file %s stayed in the store", file_id, exc_info=True)


def delete_task(ctx: Context, task_id: str) -> dict[str, int]:
    """Delete one task with its annotations, reviews, assignments and unshared files; answers the counts."""
    with ctx.write() as w:
        project, picked = find_managed_task(w, task_id)
        counts, files = _delete(w, project, picked)
        w.audit(project.workspace_id, "task.deleted", task_id, **counts)
    _delete_blobs(ctx, project.workspace_id, files)
    return counts


def delete_tasks(ctx: Context, project_id: str, where: Any) -> dict[str, int]:
    """Delete the project's tasks that match ``where`` (all or none, at most ``MAX_BULK``); answers the counts."""
    conditions = parse_filter(where)
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_MANAGE)
        picked = _pick(w, project, _task_filter(w, project, conditions))
        counts, files = _delete(w, project, picked) if picked else (dict.fromkeys(_COUNTS, 0), [])
        if picked:
            w.audit(project.workspace_id, "tasks.deleted", project.id, filter=sorted(conditions), **counts)
    _delete_blobs(ctx, project.workspace_id, files)
    return counts


_COUNTS = ("tasks", "annotations", "reviews", "assignments", "files")
