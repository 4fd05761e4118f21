"""An export's records and rows, made of one page of opened (decrypted) rows: plain functions of plain data.

``services/exports.py`` reads a page of tasks, their annotations and reviews in one
short read transaction and opens the sealed columns there (the data key never leaves
the exporting process). What it hands on is a :class:`OpenedPage` — ids, numbers
and the plaintext JSON bytes — and everything after that is here: the records
(:func:`build_records`: the JSON decoded, the dictionaries built), the rows of the
file (:func:`make_rows`) and what they count (:class:`Tally`). These functions run
in the exporting process, or in a worker process of the export
(``services/export_pool.py``): the same code either way, so both make the same rows.

The trap: nothing here may read the database, the keyring or the clock — a worker has
none of them — and everything a :class:`RowPlan` or an :class:`OpenedPage` holds
must pickle (the plan is checked before any worker starts).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

LOSSLESS = "lossless"  # exporting.LOSSLESS (not imported: a worker imports as little as it can)


@dataclass(frozen=True)
class Split:
    """Named parts with fractions (the rest is ``train``), decided per task by a seeded hash."""

    parts: tuple[tuple[str, float], ...]
    seed: int = 0

    def part_of(self, task_id: str) -> str:
        digest = hashlib.sha256(f"bastion/split/1|{self.seed}|{task_id}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        edge = 0.0
        for name, fraction in self.parts:
            edge += fraction
            if u < edge:
                return name
        return "train"

    def names(self) -> list[str]:
        return ["train", *(name for name, _ in self.parts)]


@dataclass
class Tally:
    """What the file holds, counted as it is made (the manifest's ``counts``), and the
    answers its agreement figures are computed from (``None``: not kept)."""

    rows: int = 0
    tasks: int = 0
    annotations: int = 0
    per_annotator: Counter = field(default_factory=Counter)
    answers: list[dict] | None = None
    # Past this many annotations the answers are no longer kept (services/exports.py QUALITY_MAX_ANNOTATIONS).
    keep_at_most: int = 0

    def add(self, record: dict, annotations: list[dict]) -> None:
        self.annotations += len(annotations)
        for annotation in annotations:
            self.per_annotator[annotation["user_id"]] += 1
        if self.answers is not None:
            if self.annotations > self.keep_at_most:
                self.answers = None  # bounded memory: the manifest says the figures were not computed
                return
            self.answers.extend(
                {
                    "task": a["task_id"],
                    "user": a["user_id"],
                    "result": a["result"],
                    "is_gold": "gold" in record,
                    "review": a["review"]["status"],
                }
                for a in annotations
            )

    def merge(self, page: Tally) -> None:
        """Add what a later page counted (pages merged in the file's order: the same figures as one tally)."""
        self.rows += page.rows
        self.tasks += page.tasks
        self.annotations += page.annotations
        self.per_annotator.update(page.per_annotator)
        if self.answers is not None:
            if page.answers is None or self.annotations > self.keep_at_most:
                self.answers = None
            else:
                self.answers.extend(page.answers)


@dataclass(frozen=True)
class RowPlan:
    """How one export makes records and rows of its pages (the same for every page).

    Pickled for a worker process without its parsed config and row maker (a config's model
    class is made at run time): the worker parses the raw config with the task type again."""

    project_id: str
    kind: str  # "lossless", or the kind of rows the task type makes
    per: str  # "task" | "annotation" (lossless rows)
    split: Split | None  # the split column's (None: no split column in this format)
    accepted_only: bool
    per_task: bool  # the task type's rows asked once per task (coco)
    options: Any  # tasktypes/_export.py ExportOptions
    keep_answers: int | None  # the tally keeps the answers (agreement figures) up to this many (None: not)
    task_type: Any  # the project's task type (tasktypes/base.py TaskType)
    raw_config: dict  # the project's config as stored
    config: Any  # the project's config, parsed by its task type
    make: Callable[..., Iterable[dict]] | None  # the task type's row maker (None: lossless)

    def __reduce__(self):
        return (
            _replanned,
            (
                self.project_id,
                self.kind,
                self.per,
                self.split,
                self.accepted_only,
                self.per_task,
                self.options,
                self.keep_answers,
                self.task_type,
                self.raw_config,
            ),
        )


def planned(
    project_id: str,
    kind: str,
    per: str,
    split: Split | None,
    accepted_only: bool,
    per_task: bool,
    options: Any,
    keep_answers: int | None,
    task_type: Any,
    raw_config: dict,
    config: Any = None,
) -> RowPlan:
    """A plan; ``config``: the raw config already parsed (None: parsed here)."""
    if config is None:
        config = task_type.parse_config(raw_config)
    make = None if kind == LOSSLESS else task_type.export_rows(kind)
    return RowPlan(
        project_id,
        kind,
        per,
        split,
        accepted_only,
        per_task,
        options,
        keep_answers,
        task_type,
        raw_config,
        config,
        make,
    )


def _replanned(*args: Any) -> RowPlan:
    return planned(*args)


@dataclass(frozen=True, slots=True)
class OpenedPage:
    """One page of an export as read and opened in the exporting process.

    ``tasks``: ``(id, payload, predictions, priority, annotation_count, done, created_at,
    is_gold, gold)`` with the sealed columns opened (JSON bytes; ``predictions`` and
    ``gold`` may be None) — only the tasks of the part asked for; ``annotations``: ``(id,
    task_id, user_id, result, lead_time_ms, created_at, review_status, gold_score)``,
    ``result`` opened; ``reviews``: the latest decision per annotation id; ``aggregated``:
    each task's aggregated answer (None: not asked)."""

    tasks: list[tuple]
    annotations: list[tuple]
    reviews: dict[str, dict]
    aggregated: dict[str, Any] | None
    read: int  # tasks read (before the part was picked)


def kept(annotations: list[dict], accepted_only: bool) -> list[dict]:
    """Only accepted (or corrected) annotations when asked; a correction replaces the result."""
    if not accepted_only:
        return annotations
    out = []
    for a in annotations:
        status = a["review"]["status"]
        if status == "accepted":
            out.append(a)
        elif status == "corrected":
            out.append({**a, "result": a["review"]["correction"], "original_result": a["result"]})
    return out


def build_records(page: OpenedPage, plan: RowPlan) -> list[dict[str, Any]]:
    """The page's records: ``{"id", "project_id", "data", …, "annotations": [...]}``, in task id order."""
    pid = plan.project_id
    loads = orjson.loads
    reviews = page.reviews
    by_task: dict[str, list] = defaultdict(list)
    for ann_id, task_id, user_id, result, lead, created, status, gold_score in page.annotations:
        decided = reviews.get(ann_id)
        item = {
            "id": ann_id,
            "task_id": task_id,
            "project_id": pid,
            "user_id": user_id,
            "result": loads(result),
            "lead_time_ms": lead,
            "created_at": created,
            "review": {"status": status}
            if decided is None
            else {
                "status": status,
                "reviewer_id": decided["reviewer_id"],
                "comment": decided["comment"],
                "correction": decided["correction"],
                "reviewed_at": decided["created_at"],
            },
        }
        if gold_score is not None:
            item["gold_score"] = gold_score
        by_task[task_id].append(item)
    aggregated = page.aggregated
    accepted_only = plan.accepted_only
    records = []
    for task_id, payload, predictions, priority, count, done, created, is_gold, gold in page.tasks:
        body = loads(payload)
        record = {
            "id": task_id,
            "project_id": pid,
            "data": body["data"],
            "predictions": loads(predictions) if predictions is not None else [],
            "external_id": body.get("external_id"),
            "meta": body.get("meta"),
            "priority": priority,
            "annotation_count": count,
            "done": bool(done),
            "created_at": created,
            "annotations": kept(by_task.get(task_id, []), accepted_only),
        }
        if is_gold:
            assert gold is not None  # a gold task is stored with its answer
            record["gold"] = loads(gold)
        if aggregated is not None:
            record["aggregate"] = aggregated.get(task_id)
        records.append(record)
    return records


def tally_for(plan: RowPlan) -> Tally:
    """A page's tally: it keeps the answers if the export does."""
    if plan.keep_answers is None:
        return Tally()
    return Tally(answers=[], keep_at_most=plan.keep_answers)


def make_rows(records: Iterable[dict], plan: RowPlan, tally: Tally) -> Iterator[dict]:
    """The rows of the file, counted: a task or annotation counts when a row came of it."""
    split = plan.split
    if plan.kind == LOSSLESS:
        for record in records:
            extra = {"split": split.part_of(record["id"])} if split else {}
            annotations = record["annotations"]
            if plan.per == "task":
                tally.rows += 1
                tally.tasks += 1
                tally.add(record, annotations)
                yield {**record, **extra}
                continue
            task = {k: v for k, v in record.items() if k != "annotations"}
            tally.tasks += 1 if annotations else 0
            for ann in annotations:
                tally.rows += 1
                tally.add(record, [ann])
                yield {**task, "annotation": ann, **extra}
        return
    config, options, make = plan.config, plan.options, plan.make
    assert make is not None  # the format was chosen for a kind the task type makes
    if plan.per_task:  # one call per task: every annotation of a task with a row counts
        for record in records:
            extra = {"split": split.part_of(record["id"])} if split else {}
            made = 0
            for row in make(config, record, None, options):
                made += 1
                tally.rows += 1
                yield {**row, **extra}
            if made:
                tally.tasks += 1
                tally.add(record, record["annotations"])
        return
    for record in records:
        extra = {"split": split.part_of(record["id"])} if split else {}
        used = False
        for ann in record["annotations"]:
            made = 0
            for row in make(config, record, ann, options):
                made += 1
                tally.rows += 1
                yield {**row, **extra}
            if made:
                tally.add(record, [ann])
                used = True
        tally.tasks += used
