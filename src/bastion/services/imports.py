"""Importing tasks: validated, sealed, deduplicated, in bounded atomic batches.

Each batch is one transaction: either all of its new tasks are visible, or none.
Tasks are deduplicated by a keyed hash of their ``external_id`` (or of their
content when they have none), so re-running an interrupted import adds only what
is missing. Lines that cannot be imported are reported with their line number
and never stop the rest — unless ``strict``, where a first pass validates
everything and nothing is written if any line is bad.

The trap in a project that redacts: content is the task *as imported* (two tasks
that differ only in redacted values stay two tasks), and a task without an
``external_id`` is a duplicate only of one the same person imported. Otherwise
"duplicates: 1" would tell whoever imports a guess of a redacted text (a manager,
who may import but not re-identify) that the guess is right.

Speed: no per-row ORM objects; ids, nonces and ciphertexts are made in bulk per
batch; SQLite inserts a batch in one statement (``dialects._sqlite_bulk``: the GIL is released once, not
once a row, so the next batch is prepared while this one is written), PostgreSQL with ``COPY``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from . import attributed, redaction, search, telemetry
from .context import Context
from .projects import bump_counts, load_project
from .. import ids
from ..access import Action
from ..domain import search as search_index
from ..domain.errors import InvalidAnswer, InvalidInput
from ..domain.tasks import TaskInput, content_digest, parse_item
from ..sources import BadLine, Item
from ..storage import queue_store as qs
from ..storage import tasks_store
from ..storage.crypto import Sealer

MAX_REJECTED_REPORTED = 1000
MAX_TASK_BYTES = 10 * 1024 * 1024

DEFAULT_BATCH = 10_000
# A batch is one block of the search index, whose ordinals are 16 bits.
MAX_BATCH = search_index.MAX_BLOCK
PREDICTION_KEYS = frozenset({"result", "model_version", "score"})


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0
    import_id: str = ""
    prelabel_job: str | None = None  # the pre-label job this import started (the project's ``on_import``)

    def reject(self, line: int, error: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTED_REPORTED:
            self.rejected.append({"line": line, "error": error})

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected_count": self.rejected_count,
            "rejected": self.rejected,
            "import_id": self.import_id,
            **({"prelabel_job": self.prelabel_job} if self.prelabel_job else {}),
        }


class _Validator:
    def __init__(self, project, task_type, config) -> None:
        self.project = project
        self.task_type = task_type
        self.config = config
        self.redacts = redaction.policy_of(config) is not None

    def check(self, line: int, obj: Any) -> TaskInput | str:
        if isinstance(obj, BadLine):
            return obj.error
        try:
            task = parse_item(obj)
        except ValueError as exc:
            return str(exc)
        if len(orjson.dumps(task.data)) > MAX_TASK_BYTES:
            return f"data: larger than {MAX_TASK_BYTES} bytes"
        problem = self.task_type.check_data(self.config, task.data)
        if problem:
            return problem
        if task.predictions:
            try:
                normalised = [self._prediction(task.data, p) for p in task.predictions]
            except InvalidAnswer as exc:
                return exc.message
            task = replace(task, predictions=normalised)
        if task.gold is not None:
            try:
                gold = self.task_type.validate_result(self.config, task.data, task.gold)
            except InvalidAnswer as exc:
                return f"gold: {exc.message}"
            task = replace(task, gold=gold)
        if task.annotations is not None:
            if self.redacts:
                return "annotations: cannot be imported into a project that redacts (results refer to the original)"
            parsed = attributed.parse_annotations(self.task_type, self.config, task.data, task.annotations)
            if isinstance(parsed, str):
                return parsed
            task = replace(task, annotations=parsed)
        return task

    def _prediction(self, data: dict, p: Any) -> Any:
        """A prediction: a result, or a result with its model ``{"result", "model_version", "score"}`` (kept so)."""
        if not (isinstance(p, dict) and isinstance(p.get("result"), dict) and p.keys() <= PREDICTION_KEYS):
            return self.task_type.validate_prediction(self.config, data, p)
        result = self.task_type.validate_prediction(self.config, data, p["result"])
        version, score = p.get("model_version"), p.get("score")
        if version is None:
            return result
        if not isinstance(version, str) or len(version) > 200:
            raise InvalidAnswer("predictions: model_version: text of at most 200 characters")
        if score is not None and (not isinstance(score, (int, float)) or isinstance(score, bool)):
            raise InvalidAnswer("predictions: score: a number")
        return {"result": result, "model_version": version, **({"score": score} if score is not None else {})}


class Importer:
    """Feeds tasks into a project in batches; ``finish`` writes the rest and reports."""

    def __init__(
        self,
        ctx: Context,
        project_id: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
        bulk_process: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
            raise InvalidInput(f"batch size: a whole number from 1 to {MAX_BATCH:,}")
        with ctx.read() as r:
            self.project = load_project(r, project_id, Action.TASK_IMPORT)
            hashes = search.hashes_for(r, self.project.workspace_id, self.project.key_id)
        self.blocks = search.BlockMaker(hashes, helper=bulk_process)
        task_type = ctx.rt.task_types.get(self.project.task_type)
        self.validator = _Validator(self.project, task_type, task_type.parse_config(self.project.config))
        self.ctx = ctx
        self.batch_size = batch_size
        self.progress = progress
        self.report = ImportReport(import_id=ids.new_id("imp"))
        self._batch: list[tuple[int, TaskInput]] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bastion-import")
        self._pending: Future | None = None
        self._pending_size = 0
        self.authors = attributed.Authors(ctx, self.project.workspace_id)
        self.attributed = attributed.Tally()
        self._counted = (0, 0, 0)  # (imported, duplicates, rejected) already added to /metrics' counters

    def check(self, items: Iterable[Item]) -> bool:
        """Validate only (strict mode's first pass); True when every line is good."""
        for line, obj in items:
            checked = self.validator.check(line, obj)
            if isinstance(checked, str):
                self.report.reject(line, checked)
        if self.report.rejected_count:
            self._count()
        return self.report.rejected_count == 0

    def add(self, items: Iterable[Item]) -> None:
        for line, obj in items:
            self.report.lines += 1
            checked = self.validator.check(line, obj)
            if isinstance(checked, str):
                self.report.reject(line, checked)
                continue
            self._batch.append((line, checked))
            if len(self._batch) >= self.batch_size:
                self._flush()

    def finish(self, *, file_sha256: str | Callable[[], str] | None = None) -> ImportReport:
        """Write what is left; ``file_sha256`` (the file's digest, or what waits for it) goes into the audit
        of attributed annotations."""
        if self._batch:
            self._flush()
        self._drain()
        self._count()
        if self.attributed.tasks:
            digest = file_sha256() if callable(file_sha256) else file_sha256
            attributed.audit_import(self.ctx, self.project, self.report.import_id, self.attributed, digest)
        if self.report.imported:
            from .prelabel import after_import

            self.report.prelabel_job = after_import(self.ctx, self.project)
        return self.report

    def _count(self) -> None:
        """Add what was written and refused since the last call to /metrics' counters."""
        report, (imported, duplicates, rejected) = self.report, self._counted
        telemetry.count_import(
            report.imported - imported, report.duplicates - duplicates, report.rejected_count - rejected
        )
        self._counted = (report.imported, report.duplicates, report.rejected_count)

    def _flush(self) -> None:
        """Prepare this batch here while the previous one is written by the writer thread.

        Sealing and hashing (Python, holding the GIL) overlap with SQLite's inserts
        (which release it); at most one batch waits, so memory stays bounded.
        """
        batch, self._batch = self._batch, []
        if any(item.annotations for _, item in batch):
            with self.ctx.read() as r:
                attributed.require_import(r, self.project.workspace_id)
            batch = self.authors.resolve(batch, self.report.reject)
        prepared = _prepare_rows(
            self.ctx, self.project, batch, self.validator, self.authors, self.blocks, self.report.import_id
        )
        self._drain()
        self._pending = self._writer.submit(
            _insert_rows, self.ctx, self.project, prepared, self.report, self.attributed
        )
        self._pending_size = len(batch)

    def _drain(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # re-raises a failed batch here, before anything else is written
            self._count()
            if self.progress:
                self.progress(self._pending_size)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self.blocks.close()


def import_tasks(
    ctx: Context,
    project_id: str,
    items: Iterable[Item] | Callable[[], Iterable[Item]],
    *,
    strict: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    file_sha256: str | Callable[[], str] | None = None,
    bulk_process: bool = False,
) -> ImportReport:
    """Import tasks into a project; returns counts and per-line errors.

    ``items`` yields ``(line, object)`` pairs (see ``bastion.sources``). With
    ``strict``, pass a callable returning a fresh iterable: it is read twice, and
    nothing is written unless every line is good. ``file_sha256``: the digest of the
    file the items came from (or a callable that waits for it: ``bastion import`` reads it beside the
    import), audited with attributed annotations (services/attributed.py).
    ``bulk_process``: the import is its process's only job (``bastion import``): it makes its search
    index in a helper process (``services/search.BlockMaker``) and the cyclic garbage collector runs
    rarely while it goes (``_rare_collections``).
    """
    importer = Importer(ctx, project_id, batch_size=batch_size, progress=progress, bulk_process=bulk_process)
    quiet = _rare_collections() if bulk_process else nullcontext()
    with quiet:
        try:
            if strict:
                if not callable(items):
                    raise TypeError("strict import needs a callable returning the tasks")
                if not importer.check(items_or_error(iter(items()))):
                    return importer.report
            source = items() if callable(items) else items
            importer.add(items_or_error(iter(source)))
            return importer.finish(file_sha256=file_sha256)
        finally:
            importer.close()


@dataclass
class _Prepared:
    """A batch ready to write: its task rows (``tasks_store.NEW_TASK_COLUMNS``), gold tasks apart, its
    sealed redaction records and its block of the search index."""

    regular: list[tuple]
    gold: list[tuple]
    records: dict[str, bytes]
    block: search.PreparedBlock
    annotations: attributed.Batch | None = None  # annotations made elsewhere, with their authors
    answers: list[tuple[str, search.Answers]] | None = None  # what those make of their tasks

    @property
    def size(self) -> int:
        return len(self.regular) + len(self.gold)


def _prepare_rows(
    ctx: Context,
    project,
    batch: list[tuple[int, TaskInput]],
    validator: _Validator,
    authors: attributed.Authors,
    blocks: search.BlockMaker,
    import_id: str,
) -> _Prepared:
    """Ids, keyed dedupe hashes and sealed payloads for a batch; its redaction records, sealed; its
    search block (of the task as stored: redacted where the project redacts). CPU only."""
    # Redaction comes first: nothing human-facing is ever made from the original text.
    redacted = redaction.redact_batch(project, validator.task_type, validator.config, batch)
    originals = batch
    if redacted is not None:
        batch = redacted.batch
    held = redacted.held if redacted is not None else [False] * len(batch)
    pid = project.id
    sealer = Sealer(ctx.rt.keyring, project.workspace_id, project.key_id)
    task_ids = ids.new_ids("tsk", len(batch))
    payloads: list[tuple[str, bytes]] = []
    preds: list[tuple[str, bytes]] = []
    golds: list[tuple[str, bytes]] = []
    dedupes: list[bytes] = []
    dumps = orjson.dumps
    dedupe = sealer.index_hash
    for task_id, (_line, task), (_, original) in zip(task_ids, batch, originals):
        body: dict[str, Any] = {"data": task.data}
        if task.external_id is not None:
            body["external_id"] = task.external_id
            dedupes.append(dedupe(b"external_id", pid, task.external_id))
        elif redacted is not None:
            dedupes.append(dedupe(b"content-by", pid, ctx.actor.user_id, content_digest(original)))
        else:
            dedupes.append(dedupe(b"content", pid, content_digest(task)))
        if task.meta is not None:
            body["meta"] = task.meta
        payloads.append((task_id, dumps(body)))
        if task.predictions:
            preds.append((task_id, dumps(task.predictions)))
        if task.gold is not None:
            golds.append((task_id, dumps(task.gold)))
    sealed = sealer.seal_many("tasks", "payload", payloads)
    sealed_preds = dict(zip((p[0] for p in preds), sealer.seal_many("tasks", "predictions", preds)))
    sealed_golds = dict(zip((g[0] for g in golds), sealer.seal_many("tasks", "gold", golds)))
    # Gold tasks are stored "done": they never enter the open-task queue index; the
    # gold mixer serves them through ix_tasks_gold instead (services/queue.py).
    # Held tasks are stored "done" too, until an owner releases them (services/redaction.py).
    regular: list[tuple] = []
    gold: list[tuple] = []
    for task_id, key, blob, (_, task), is_held in zip(task_ids, dedupes, sealed, batch, held):
        is_gold = task_id in sealed_golds
        (gold if is_gold else regular).append(
            (
                task_id,
                pid,
                key,
                blob,
                sealed_preds.get(task_id),
                sealed_golds.get(task_id),
                is_gold,
                task.priority,
                0,
                0,
                is_gold or is_held,
                is_held,
                import_id,
            )
        )
    records = redacted.sealed_records(sealer, task_ids) if redacted is not None else {}
    block = blocks.make(task_ids, [(task.data, task.meta) for _, task in batch])
    if any(item.annotations for _, item in batch):
        annotations = attributed.prepare(
            sealer, project, validator.task_type, validator.config, task_ids, batch, authors
        )
        attributed.fill_slots(regular, gold, annotations, project.overlap)
        answers = attributed.answers(validator.task_type, validator.config, task_ids, batch, annotations, project)
        return _Prepared(regular, gold, records, block, annotations, answers)
    return _Prepared(regular, gold, records, block)


def _insert_rows(ctx: Context, project, prepared: _Prepared, report: ImportReport, tally: attributed.Tally) -> int:
    """One atomic batch: the rows, the counters and the audit record commit together."""
    ws = project.workspace_id
    with ctx.write() as w:
        # Re-checked in every batch's own transaction: a role revoked mid-import stops it.
        w.access.require(Action.TASK_IMPORT, ws, what="project")
        inserted = tasks_store.insert_tasks(w.tx, prepared.regular, workspace_id=ws, now=w.now)
        # Gold tasks calibrate people: they are not counted among the project's tasks.
        inserted_gold = tasks_store.insert_tasks(w.tx, prepared.gold, workspace_id=ws, now=w.now)
        bump_counts(w, ws, project.id, tasks=inserted)
        inserted += inserted_gold
        if inserted:  # new tasks may sort before where someone's queue scan stands
            qs.BUMP_EPOCH.run(w.tx, ws=ws, project=project.id)
        if prepared.records:
            redaction.store_records(w, project, prepared.records)
        search.store_block(w, ws, project.id, prepared.block, import_id=report.import_id, key_id=project.key_id)
        if prepared.annotations is not None:
            attributed.require_import(w, ws)
            kept = attributed.write_batch(w, project, prepared, inserted, tally)
            search.store_answers(w, project, prepared.answers or [], kept)
        w.audit(
            ws,
            "tasks.imported",
            project.id,
            import_id=report.import_id,
            imported=inserted,
            duplicates=prepared.size - inserted,
        )
        if inserted:
            w.event(ws, "tasks.imported", project.id, project=project.id, count=inserted, batch=report.import_id)
    report.imported += inserted
    report.duplicates += prepared.size - inserted
    return inserted


# Allocations between two young-generation collections during a bulk import (Python's default: 700).
BULK_GC_THRESHOLD = 200_000


@contextmanager
def _rare_collections() -> Iterator[None]:
    """The cyclic garbage collector, rarely, for a bulk import that is its process's only job.

    An import allocates millions of short-lived containers (parsed lines, tasks, rows) and makes no
    reference cycles of its own. With Python's defaults the collector ran every 700 allocations and
    its older generations re-walked everything loaded at start (the web framework, SQLAlchemy, the
    plugins): 15% of a profiled 300k-task import's samples. Here what exists at start is frozen out of
    the walks (``gc.freeze``) and young collections run every ``BULK_GC_THRESHOLD`` allocations;
    both are put back after. Memory held by cycles is still collected, later."""
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], BULK_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def items_or_error(items: Iterator[Item]) -> Iterator[Item]:
    """Wrap a reader so that undecodable text becomes a clear InvalidInput."""
    try:
        yield from items
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
