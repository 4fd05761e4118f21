"""Annotations with their authors: past work imported beside its tasks.

Concept. An import line may carry ``annotations`` made elsewhere (Label Studio, a
vendor, Bastion's own lossless export). Each names its author — a member of the
workspace by e-mail (or by user id, as Bastion's export writes it), or an external
annotator by handle (``ext:vendor-a/17``: an identity of this workspace that never
signs in, made on first sight) — with its original time, lead time and result, and
optionally its reviews. A cancelled one (``was_cancelled``) is a skip, not an
annotation. Once stored, they are annotations like any other: they fill the task's
overlap slots (the task is done when they reach it), the queue never hands the task
to their authors again, and quality, review and aggregation read them as they read
native ones.

Who may: ``annotation.import`` (owners and managers): putting words in other
people's mouths is a bigger right than importing tasks. The import of attributed
annotations is audited once, at its end, with its provenance (``annotations.imported``:
the file's sha256, the counts of tasks, annotations and authors; the importer is the
entry's actor).

Speed: nothing here runs per task against the database. Authors are resolved with
three queries per batch, results sealed in bulk, and the rows written with one
``executemany`` per table per batch; a line without annotations costs nothing.

The trap: a task skipped as a duplicate (imported before) keeps the annotations it
had; those of the line are dropped with it, or re-running an interrupted import
would annotate twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from .annotations import MAX_LEAD_TIME_MS, review_status
from .context import Context, Unit
from .projects import bump_counts
from .search import answers_of
from .. import ids
from ..access import Action
from ..domain.errors import InvalidAnswer, InvalidInput, PermissionDenied
from ..domain.tasks import TaskInput
from ..domain.users import EXTERNAL_HANDLE, external_email, normalise_email
from ..storage import authors_store
from ..storage.crypto import Sealer

AUTHOR_KEYS = ("author", "completed_by", "user_id")  # ours, Label Studio's, Bastion's lossless export's
ANNOTATION_KEYS = frozenset(
    {*AUTHOR_KEYS, "result", "created_at", "lead_time", "lead_time_ms", "was_cancelled", "review", "reviews"}
)
# Written by Bastion's lossless export, renewed or derived on the way in.
RENEWED_ANNOTATION_KEYS = frozenset({"id", "task_id", "project_id", "gold_score", "original_result"})
REVIEW_KEYS = frozenset({"reviewer", "reviewer_id", "decision", "status", "comment", "correction", "created_at"})
DECISIONS = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}
DECIDED = ("accepted", "rejected", "corrected")
MAX_COMMENT = 10_000


@dataclass(slots=True)
class ImportedReview:
    reviewer: str
    decision: str
    comment: str | None
    correction: dict | None
    created_at: int | None


@dataclass(slots=True)
class Attributed:
    """One parsed annotation of an import line (``result`` None: cancelled, a skip)."""

    author: str
    result: dict | None
    created_at: int | None
    lead_time_ms: int | None
    review_status: str | None  # as exported ("none" | "pending"), or None: the project decides
    reviews: list[ImportedReview] = field(default_factory=list)


def _time_ms(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return int(parsed.timestamp() * 1000)
    raise ValueError(f"{where}: a time in epoch milliseconds or ISO 8601 with its offset")


def _author(value: Any, where: str) -> str:
    if isinstance(value, str) and value.startswith("ext:"):
        if not EXTERNAL_HANDLE.match(value):
            raise ValueError(f"{where}: {value!r} is not an external handle (ext: then letters, digits, ._/@+-)")
        return value
    if isinstance(value, str) and value.startswith("usr_"):
        return value
    if isinstance(value, str):
        try:
            return normalise_email(value)
        except InvalidInput:
            pass
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{where}: a Label Studio user id ({value}); export with annotators' e-mails")
    raise ValueError(f"{where}: a member's e-mail, a user id or an external handle like ext:vendor/17")


def _review(raw: Any, where: str, task_type, config, data) -> ImportedReview:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = raw.keys() - REVIEW_KEYS - {"reviewed_at"}
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown key")
    decision = raw.get("decision", raw.get("status"))
    if isinstance(decision, str):  # anything else (a list, an object) is refused below, never looked up
        decision = DECISIONS.get(decision, decision)
    if decision not in DECIDED:
        raise ValueError(f"{where}.decision: one of accepted, rejected, corrected")
    reviewer = _author(raw.get("reviewer", raw.get("reviewer_id")), f"{where}.reviewer")
    comment = raw.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise ValueError(f"{where}.comment: text of at most {MAX_COMMENT} characters")
    correction = raw.get("correction")
    if decision == "corrected":
        if correction is None:
            raise ValueError(f"{where}.correction: required when corrected")
        try:
            correction = task_type.validate_result(config, data, correction)
        except InvalidAnswer as exc:
            raise ValueError(f"{where}.correction: {exc.message}") from exc
    elif correction is not None:
        raise ValueError(f"{where}.correction: only with decision corrected")
    when = raw.get("created_at", raw.get("reviewed_at"))
    created = None if when is None else _time_ms(when, f"{where}.created_at")
    return ImportedReview(reviewer, decision, comment, correction, created)


def parse_annotations(task_type, config, data: dict, raw: list) -> list[Attributed] | str:
    """An import line's ``annotations``, validated like submissions; or the first problem, naming its field."""
    out: list[Attributed] = []
    seen: set[str] = set()
    for i, a in enumerate(raw):
        where = f"annotations[{i}]"
        try:
            out.append(_annotation(task_type, config, data, a, where))
        except ValueError as exc:
            return str(exc)
        except InvalidAnswer as exc:
            return f"{where}.result: {exc.message}"
        if out[-1].author in seen:
            return f"{where}: a second annotation by {out[-1].author} on this task"
        seen.add(out[-1].author)
    return out


def _annotation(task_type, config, data: dict, a: Any, where: str) -> Attributed:
    if not isinstance(a, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = a.keys() - ANNOTATION_KEYS - RENEWED_ANNOTATION_KEYS
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown key (allowed: {', '.join(sorted(ANNOTATION_KEYS))})")
    named = [k for k in AUTHOR_KEYS if a.get(k) is not None]
    if len(named) != 1:
        raise ValueError(f"{where}.author: required (one of {', '.join(AUTHOR_KEYS)})")
    author = _author(a[named[0]], f"{where}.{named[0]}")
    cancelled = a.get("was_cancelled", False)
    if not isinstance(cancelled, bool):
        raise ValueError(f"{where}.was_cancelled: true or false")
    created = None if a.get("created_at") is None else _time_ms(a["created_at"], f"{where}.created_at")
    lead = a.get("lead_time_ms")
    if lead is None and isinstance(a.get("lead_time"), (int, float)) and not isinstance(a["lead_time"], bool):
        lead = round(a["lead_time"] * 1000)  # Label Studio's seconds
    if lead is not None and (not isinstance(lead, int) or isinstance(lead, bool) or not 0 <= lead <= MAX_LEAD_TIME_MS):
        raise ValueError(f"{where}.lead_time_ms: an integer from 0 to {MAX_LEAD_TIME_MS}")
    if cancelled:
        return Attributed(author, None, created, lead, None)
    result = task_type.validate_result(config, data, a.get("result"))
    status = None
    reviews: list[ImportedReview] = []
    review = a.get("review")
    if review is not None:  # the lossless export's latest decision
        if not isinstance(review, dict) or review.get("status") not in ("none", "pending", *DECIDED):
            raise ValueError(f"{where}.review.status: one of none, pending, accepted, rejected, corrected")
        if review["status"] in DECIDED:
            reviews.append(_review(review, f"{where}.review", task_type, config, data))
        else:
            status = review["status"]
    if a.get("reviews") is not None:
        if not isinstance(a["reviews"], list):
            raise ValueError(f"{where}.reviews: a list of reviews")
        reviews += [_review(r, f"{where}.reviews[{j}]", task_type, config, data) for j, r in enumerate(a["reviews"])]
    for j, r in enumerate(reviews):
        if r.reviewer == author:
            raise ValueError(f"{where}.reviews[{j}].reviewer: nobody reviews their own annotation")
    return Attributed(author, result, created, lead, status, reviews)


# -- authors --------------------------------------------------------------------------


class Authors:
    """Resolves a batch's authors to user ids, making external annotators on first sight.

    External annotators made for one batch are remembered for the next ones: a batch is
    prepared while the previous one is still being written, so it could not see them
    in the database yet.
    """

    def __init__(self, ctx: Context, workspace_id: str) -> None:
        self.ctx = ctx
        self.workspace_id = workspace_id
        self.ids: dict[str, str] = {}  # author as written -> user id
        self.new: list[tuple[str, str, str]] = []  # external annotators to insert with the next batch
        self.used: set[str] = set()

    def resolve(self, batch: list[tuple[int, TaskInput]], reject) -> list[tuple[int, TaskInput]]:
        """The batch without the lines naming someone who is not an author here (each rejected)."""
        wanted: set[str] = set()
        for _, item in batch:
            for a in item.annotations or ():
                wanted.add(a.author)
                wanted.update(r.reviewer for r in a.reviews)
        missing = wanted - self.ids.keys()
        if missing:
            ws = self.workspace_id
            with self.ctx.read() as r:
                emails = authors_store.member_ids_by_email(r.tx, ws, (m for m in missing if "@" in m and ":" not in m))
                known = authors_store.known_author_ids(r.tx, ws, (m for m in missing if m.startswith("usr_")))
                external = authors_store.external_ids(r.tx, ws, (m for m in missing if m.startswith("ext:")))
            self.ids.update(emails)
            self.ids.update({k: k for k in known})
            self.ids.update(external)
            for handle in sorted(m for m in missing if m.startswith("ext:") and m not in external):
                user_id = ids.new_id("usr")
                self.ids[handle] = user_id
                self.new.append((user_id, handle, external_email(handle, ws)))
        kept = []
        for line, item in batch:
            unknown = next((w for w in _names(item) if w not in self.ids), None)
            if unknown is None:
                kept.append((line, item))
            else:
                reject(line, f"annotations: {unknown} is not a member of this workspace (nor one of its annotators)")
        return kept

    def take_new(self) -> list[tuple[str, str, str]]:
        new, self.new = self.new, []
        return new


def _names(item: TaskInput) -> list[str]:
    return [n for a in item.annotations or () for n in (a.author, *(r.reviewer for r in a.reviews))]


# -- one batch ------------------------------------------------------------------------


@dataclass
class Batch:
    """A batch's attributed annotations, sealed, by task: ready to write once the tasks are in."""

    annotations: list[dict] = field(default_factory=list)
    assignments: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # task id -> annotations that fill its slots
    skips: dict[str, int] = field(default_factory=dict)  # task id -> cancelled ones
    externals: list[tuple[str, str, str]] = field(default_factory=list)
    authors: set[str] = field(default_factory=set)


def prepare(sealer: Sealer, project, task_type, config, task_ids: Sequence[str], batch, authors: Authors) -> Batch:
    """Seal a batch's annotations and make their rows (CPU only; ``task_ids`` in the batch's order)."""
    out = Batch(externals=authors.take_new())
    ws, pid = project.workspace_id, project.id
    results: list[tuple[str, bytes]] = []
    for task_id, (_, item) in zip(task_ids, batch):
        if not item.annotations:
            continue
        filled = 0
        for a in item.annotations:
            user = authors.ids[a.author]
            out.authors.add(user)
            created = a.created_at  # None: the time it is written
            out.assignments.append(
                {
                    "ws": ws,
                    "id": ids.new_id("asg"),
                    "project": pid,
                    "task": task_id,
                    "user": user,
                    "state": "skipped" if a.result is None else "submitted",
                    "created_at": created,
                }
            )
            if a.result is None:
                out.skips[task_id] = out.skips.get(task_id, 0) + 1
                continue
            annotation_id = ids.new_id("ann")
            status = a.review_status
            if a.reviews:
                status = a.reviews[-1].decision
            elif status is None:
                status = review_status(project.settings.quality, annotation_id, is_gold=item.gold is not None)
            gold_score = None
            if item.gold is not None:
                gold_score = float(task_type.gold_score(config, item.data, a.result, item.gold))
            results.append((annotation_id, orjson.dumps(a.result)))
            out.annotations.append(
                {
                    "ws": ws,
                    "id": annotation_id,
                    "project": pid,
                    "task": task_id,
                    "user": user,
                    "lead": a.lead_time_ms,
                    "review": status,
                    "gold_score": gold_score,
                    "created_at": created,
                }
            )
            for r in a.reviews:
                review_id = ids.new_id("rev")
                out.reviews.append(
                    {
                        "ws": ws,
                        "id": review_id,
                        "project": pid,
                        "task": task_id,
                        "annotation": annotation_id,
                        "reviewer": authors.ids[r.reviewer],
                        "decision": r.decision,
                        "comment": sealer.seal_json("reviews", review_id, "comment", r.comment) if r.comment else None,
                        "correction": sealer.seal_json("reviews", review_id, "correction", r.correction)
                        if r.correction is not None
                        else None,
                        "created_at": r.created_at,
                    }
                )
            if status != "rejected":  # a rejected annotation gives its slot back, as a review does
                filled += 1
        out.counts[task_id] = filled
    for row, sealed in zip(out.annotations, sealer.seal_many("annotations", "result", results)):
        row["result"] = sealed
    return out


def write(w: Unit, workspace_id: str, batch: Batch, kept: set[str] | None) -> None:
    """Write a batch's external annotators, then its annotations, assignments and reviews after its tasks.

    ``kept``: the tasks of the batch that went in now (None: all of them); a duplicate's annotations are dropped.
    """
    authors_store.insert_externals(w.tx, workspace_id, batch.externals, now=w.now)
    for rows in (batch.annotations, batch.assignments, batch.reviews):
        for row in rows:
            if row["created_at"] is None:
                row["created_at"] = w.now
    for statement, rows in (
        (authors_store.INSERT_ANNOTATIONS, batch.annotations),
        (authors_store.INSERT_ASSIGNMENTS, batch.assignments),
        (authors_store.INSERT_REVIEWS, batch.reviews),
    ):
        authors_store.insert_many(w.tx, statement, rows if kept is None else [r for r in rows if r["task"] in kept])


# Positions in a new task's row (storage/tasks_store.NEW_TASK_COLUMNS).
_ID, _ANNOTATION_COUNT, _DONE, _HELD = 0, 8, 10, 11


def fill_slots(regular: list[tuple], gold: list[tuple], batch: Batch, overlap: int) -> None:
    """Count the batch's annotations into its new task rows: a task they bring to the overlap is done."""
    for rows in (regular, gold):
        for i, row in enumerate(rows):
            filled = batch.counts.get(row[_ID])
            if filled:
                done = row[_DONE] or filled >= overlap
                rows[i] = (*row[:_ANNOTATION_COUNT], filled, row[9], done, *row[_DONE + 1 :])


@dataclass
class Tally:
    """What an import brought with authors, for its audit entry."""

    tasks: int = 0
    annotations: int = 0
    skips: int = 0
    reviews: int = 0
    authors: set[str] = field(default_factory=set)


def write_batch(w: Unit, project, prepared, inserted: int, tally: Tally) -> set[str] | None:
    """After a batch's tasks went in: its annotations, and the project's counters for them.

    Returns the batch's annotated tasks that went in now (None: all of them).
    """
    batch: Batch = prepared.annotations
    ws = project.workspace_id
    kept = None
    if inserted < prepared.size:  # duplicates: which of the batch's annotated tasks are new?
        kept = authors_store.existing_task_ids(w.tx, ws, list(batch.counts.keys() | batch.skips.keys()))
    write(w, ws, batch, kept)
    annotations = done = skips = 0
    for row in prepared.regular:
        task_id = row[_ID]
        if (kept is None or task_id in kept) and not row[_HELD]:
            annotations += batch.counts.get(task_id, 0)
            skips += batch.skips.get(task_id, 0)
            done += bool(row[_DONE] and batch.counts.get(task_id))
    bump_counts(w, ws, project.id, annotations=annotations, done=done, skips=skips)
    tasks = batch.counts.keys() | batch.skips.keys()
    tally.tasks += len(tasks if kept is None else tasks & kept)
    tally.annotations += sum(1 for r in batch.annotations if kept is None or r["task"] in kept)
    tally.skips += sum(1 for r in batch.assignments if r["state"] == "skipped" and (kept is None or r["task"] in kept))
    tally.reviews += sum(1 for r in batch.reviews if kept is None or r["task"] in kept)
    tally.authors |= batch.authors
    return kept


def answers(task_type, config, task_ids: Sequence[str], items, batch: Batch, project) -> list:
    """What each annotated task's imported answers make of it for the search index: the labels of its
    usable answers (not rejected; gold tasks' answers are calibration) and corrections, and its
    agreement when they bring it to its overlap (``services/search.py``)."""
    out = []
    for task_id, (_line, item) in zip(task_ids, items):
        if not item.annotations:
            continue
        results: list[dict] = []
        corrections: list[dict] = []
        for a in item.annotations:
            if a.result is None:
                continue
            status = a.reviews[-1].decision if a.reviews else a.review_status
            if status != "rejected" and item.gold is None:
                results.append(a.result)
            corrections.extend(r.correction for r in a.reviews if r.correction is not None)
        complete = item.gold is None and batch.counts.get(task_id, 0) >= project.overlap
        out.append((task_id, answers_of(task_type, config, results, corrections, complete=complete)))
    return out


def audit_import(ctx: Context, project, import_id: str, tally: Tally, file_sha256: str | None) -> None:
    """One audit entry for the attributed annotations of an import, with its provenance."""
    with ctx.write() as w:
        w.audit(
            project.workspace_id,
            "annotations.imported",
            project.id,
            import_id=import_id,
            file_sha256=file_sha256,
            tasks=tally.tasks,
            annotations=tally.annotations,
            skips=tally.skips,
            reviews=tally.reviews,
            authors=len(tally.authors),
        )


def require_import(w: Unit, workspace_id: str) -> None:
    """Attributed annotations need ``annotation.import`` (checked again in every batch's transaction)."""
    if not w.access.allows(Action.ANNOTATION_IMPORT, workspace_id):
        raise PermissionDenied(
            "importing annotations with their authors needs the annotation.import permission (owners, managers)"
        )
