"""Exporting a project: a stream of tasks with their annotations, or training-ready rows.

``start_export`` checks access, validates every option and records the export
in the audit log before the first byte; the returned object then streams pages
read by keyset (task id order), each page in its own short read transaction,
so an export of a million tasks neither holds one long transaction nor builds
the file in memory.

The pipeline is records → (split, filters) → rows → the format's encoder:

* records: ``{"id", "external_id", "data", "meta", "predictions", …,
  "annotations": [{"id", "user_id", "result", …}]}`` — one per task, read by
  ``storage/export_store.py``;
* rows: the lossless rows (one per task, or one per annotation with ``--per
  annotation``), or the rows the project's task type makes of each annotation
  (``TaskType.export_rows``: ``sft``, ``dpo``, ``spacy``, ``conll``…; of each
  task for formats that ask per task, ``coco``);
* encoders: the export format's (``exporting/``: a plugin hook, the built-ins
  included), chosen by name from the registry and checked against the
  project's task type and the options before the first byte.

Splits are decided per *task* (a keyed hash of the seed and the task id), never
per row: every DPO pair, every annotation of one prompt lands in the same split,
so validation never sees a training prompt. That is the trap a row-level random
split falls into. The hash makes a split stable across runs and across
``--part`` passes, and independent of the order or size of the export.

Every export has an id (``exp_…``) and a signed manifest (``audit/manifests.py``).
``start_export`` records the export, audits it and signs an audit checkpoint
that covers that record, in one transaction. ``Export.stream()`` hashes and
counts the bytes as they leave; after the last one it signs the manifest with
the deployment's audit key, stores it sealed with the project's key and audits
``export.manifest_created``. A stream that stops early (the client went away,
an error) gets no manifest: the export is recorded ``incomplete`` with the bytes
it handed out and ``export.incomplete`` is audited — a signature must never
vouch for part of a file. (``chunks()`` is the bare stream, without any of it.)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import pickle
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from . import approvals, quality, telemetry
from .audit import checkpoint_now, signer
from .context import Context
from .export_pool import PagePool, default_workers
from .export_rows import OpenedPage, RowPlan, Split, build_records, make_rows, planned, tally_for
from .export_rows import Tally as _Tally
from .files import MEDIA_EXTENSIONS, file_facts
from .projects import Project, load_project
from .redaction import reidentify_records, require_reidentify
from .reviews import review_dicts
from .. import ids
from ..access import Action
from ..audit import checkpoint_to_json, format_timestamp
from ..audit.manifests import MANIFEST_TYPE, MANIFEST_VERSION, canonical_json, sign_manifest
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..exporting import LOSSLESS, ROW_OPTIONS, Encoding, ExportFormat, ExportFormats
from ..redaction import load_policy
from ..storage import export_store as store
from ..storage.workspace_secret import workspace_secret
from ..tasktypes._export import STRENGTHS, ExportOptions
from ..tasktypes.base import CONFIG_SECTIONS, TaskType

PAGE = 2000
# The manifest's agreement figures are computed from the exported answers, kept as they
# stream by; past this many the export stops keeping them (bounded memory) and says so.
QUALITY_MAX_ANNOTATIONS = 200_000
PROGRESS_EVERY_S = 1.0  # how often a streaming export writes its bytes so far on its record
FIRST_PAGE = 100  # pages grow from this to PAGE: the first bytes leave after a small read
PER = ("annotation", "task")
CHAT = ("auto", "conversational", "standard")
SFT_FORMS = ("messages", "prompt-completion")
# The ``rows`` option names the lossless rows after the format they are best known by.
ROWS_LOSSLESS = "jsonl"
# A large export builds and encodes its pages in worker processes (services/export_pool.py)
# once it has read this many tasks in this process: a small one never starts a process, and
# the first bytes of every export leave from here, after the first small page.
PARALLEL_AFTER_TASKS = 10_000
PAGES_IN_FLIGHT_PER_WORKER = 2  # the window of pages handed to the workers and not yet joined
# While the workers start (a second or so: each imports Bastion), the pages are made here; tests
# set this to wait for them instead, so that exports of a few tasks are built by the workers.
WAIT_FOR_WORKERS = False


def parse_split(text: str | None, seed: int = 0) -> Split | None:
    """``"validation=0.1"`` or ``"validation=0.1,test=0.05"``; the rest is ``train``."""
    if text is None or not text.strip():
        return None
    parts: list[tuple[str, float]] = []
    for piece in text.split(","):
        name, sep, value = piece.strip().partition("=")
        name = name.strip()
        if not sep or not name.replace("_", "").replace("-", "").isalnum() or len(name) > 40:
            raise InvalidInput(f"split: {piece.strip()!r} is not NAME=FRACTION (e.g. validation=0.1)")
        if name == "train" or name in dict(parts):
            raise InvalidInput(f"split: {name!r} is named twice (train is what is left)")
        try:
            fraction = float(value)
        except ValueError:
            raise InvalidInput(f"split: {value.strip()!r} is not a fraction (e.g. 0.1)") from None
        if not 0 < fraction < 1:
            raise InvalidInput(f"split: {name}={value.strip()}: a fraction between 0 and 1")
        parts.append((name, fraction))
    if sum(f for _, f in parts) >= 1:
        raise InvalidInput("split: the fractions add up to 1 or more (nothing left for train)")
    return Split(tuple(parts), seed)


@dataclass(frozen=True)
class ExportRequest:
    """Everything the person exporting chose; ``start_export`` validates it."""

    fmt: str = "jsonl"
    annotated_only: bool = False
    per: str | None = None  # None: the format's own (task for lossless rows, annotation otherwise)
    rows: str = "jsonl"  # parquet only: jsonl | sft | dpo
    split: str | None = None
    seed: int = 0
    part: str | None = None
    chat: str = "auto"
    sft_form: str = "messages"
    min_strength: str | None = None
    include_ties: bool = False
    with_ids: bool = False
    accepted_only: bool = False
    aggregate: str | None = None  # mv | ds | onecoin | glad | mace | bt: one aggregated answer per task
    reidentify: bool = False  # owners: redacted values restored (services/redaction.py); audited with the export
    approval: str | None = None  # reidentify: the two-person approval to use (services/approvals.py)
    break_glass: str | None = None  # reidentify without one: the reason (every owner is alerted)

    def describe(self) -> dict[str, Any]:
        """The chosen options (for the log and the manifest); the approval is recorded by its own events."""
        return {
            k: v for k, v in self.__dict__.items() if v not in (None, False) and k not in ("approval", "break_glass")
        }


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{name}: {value!r} is not one of {', '.join(allowed)}")


# -- the export -----------------------------------------------------------------

log = logging.getLogger("bastion.exports")


@dataclass
class Export:
    ctx: Context
    project: Project
    format: ExportFormat
    request: ExportRequest
    split: Split | None
    options: ExportOptions
    row_kind: str = LOSSLESS  # the kind of rows the format encodes in this export
    id: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # the manifest's parts known at the start
    tally: _Tally = field(default_factory=_Tally)
    manifest: dict[str, Any] | None = None  # signed when the stream ends
    worker_pids: list[int] | None = None  # the worker processes this export used (None: none)
    _gave_up_pool: bool = False

    @property
    def filename(self) -> str:
        part = f"-{self.request.part}" if self.request.part else ""
        return f"{self.project.id}{part}.{self.format.extension}"

    @functools.cached_property
    def task_type(self) -> TaskType:
        return self.ctx.rt.task_types.get(self.project.task_type)

    @functools.cached_property
    def config(self) -> Any:
        return self.task_type.parse_config(self.project.config)

    def pages(self) -> Generator[OpenedPage, None, None]:
        """The project's tasks page by page (keyset, each page in its own read transaction, access
        re-checked), the sealed columns opened; only the tasks of the part asked for."""
        ws, pid = self.project.workspace_id, self.project.id
        annotated_only = self.request.annotated_only
        after = ""
        split, part = self.split, self.request.part
        method = self.request.aggregate
        aggregated = self._aggregated(method) if method else None
        limit = FIRST_PAGE
        while True:
            with self.ctx.read() as r:
                r.access.require(Action.EXPORT, ws, what="project")
                tasks = store.list_task_page(r.tx, ws, pid, after=after, limit=limit, annotated_only=annotated_only)
                limit = min(PAGE, limit * 2)
                if not tasks:
                    return
                sealer = r.sealer(ws, self.project.key_id)
                payload_of, predictions_of = sealer.opener("tasks", "payload"), sealer.opener("tasks", "predictions")
                gold_of, result_of = sealer.opener("tasks", "gold"), sealer.opener("annotations", "result")
                first, last = tasks.first_id, tasks.last_id
                reviews: dict[str, dict] = {}
                for review in review_dicts(
                    r, ws, self.project.key_id, store.list_reviews_in_range(r.tx, ws, pid, first, last)
                ):
                    reviews[review["annotation_id"]] = review  # the latest decision wins
                opened = []
                for task_id, payload, predictions, priority, count, done, created, is_gold, gold in tasks:
                    if split and part and split.part_of(task_id) != part:
                        continue
                    opened.append(
                        (
                            task_id,
                            payload_of(task_id, payload),
                            predictions_of(task_id, predictions) if predictions is not None else None,
                            priority,
                            count,
                            done,
                            created,
                            is_gold,
                            gold_of(task_id, gold) if is_gold and gold is not None else None,
                        )
                    )
                wanted = {t[0] for t in opened} if split and part else None
                annotations = [
                    (ann_id, task_id, user_id, result_of(ann_id, result), lead, at, status, score)
                    for ann_id, task_id, user_id, result, lead, at, status, score in store.iter_annotations_in_range(
                        r.tx, ws, pid, first, last
                    )
                    if wanted is None or task_id in wanted
                ]
                page = OpenedPage(
                    opened,
                    annotations,
                    reviews,
                    {t[0]: aggregated.get(t[0]) for t in opened} if aggregated is not None else None,
                    len(tasks),
                )
            yield page
            after = tasks.last_id

    def records(self) -> Iterator[dict[str, Any]]:
        """The records of the export, a page at a time (re-identified when asked: owners)."""
        plan = self._plan()
        for page in self.pages():
            records = build_records(page, plan)
            if self.request.reidentify:
                with self.ctx.read() as r:
                    r.access.require(Action.EXPORT, self.project.workspace_id, what="project")
                    reidentify_records(r, self.project, self.task_type, self.config, records)
            yield from records

    def _plan(self) -> RowPlan:
        """How this export makes its records and rows (what a worker process is given)."""
        return planned(
            project_id=self.project.id,
            kind=self.row_kind,
            per=self.options.per,
            split=self.split if self.format.split_column else None,
            accepted_only=self.request.accepted_only,
            per_task=self.format.per_task,
            options=self.options,
            keep_answers=self.tally.keep_at_most if self.tally.answers is not None else None,
            task_type=self.task_type,
            raw_config=self.project.config,
            config=self.config,
        )

    def _aggregated(self, method: str) -> dict[str, dict]:
        """One answer per task for the whole project by ``method`` (aggregation needs every label at once)."""
        with self.ctx.read() as r:
            r.access.require(Action.EXPORT, self.project.workspace_id, what="project")
            annotations = quality.usable(quality.load_annotations(r, self.project))
        return quality.aggregate(self.project.task_type, self.project.config, annotations, method)

    def rows(self, records: Iterable[dict]) -> Iterator[dict]:
        """The rows of the file, counted: a task or annotation counts when a row came of it."""
        return make_rows(records, self._plan(), self.tally)

    def _row_maker(self, kind: str) -> Callable[..., Iterable[dict]]:
        """How the task type makes rows of ``kind`` (the format was chosen for a kind it makes)."""
        make = self.task_type.export_rows(kind)
        assert make is not None  # _choose_format offered only the kinds the task type makes
        return make

    def encoding(self) -> Encoding:
        """What the format's encoder is told: the kind of rows, and the rows that head the file."""
        kind, options, config = self.row_kind, self.options, self.config
        if kind == LOSSLESS:
            return Encoding(kind, self.project.task_type, config, options)
        make = self._row_maker(kind)
        return Encoding(
            kind, self.project.task_type, config, options, head=lambda: list(make(config, None, None, options))
        )

    def chunks(self) -> Iterator[bytes]:
        if self._workers() > 1:
            return self._paged_chunks()
        records = self.records()
        if self.format.file_facts:
            records = self._with_file_facts(records)
        return self.format.encode(self.rows(records), self.encoding())

    def _workers(self) -> int:
        """How many worker processes may build this export's pages (0 or 1: none, all of it here).

        Only where the format encodes a page by itself, and nothing a page needs is read from the
        database after it was opened (re-identification, the files' sizes)."""
        if self.format.pages is None or self.format.file_facts or self.request.reidentify:
            return 0
        setting = self.ctx.rt.settings.export_workers
        return default_workers() if setting is None else setting

    def _paged_chunks(self) -> Iterator[bytes]:
        """The file's bytes, its pages built and encoded in worker processes once the export is large
        (``PARALLEL_AFTER_TASKS`` read): the same bytes as ``format.encode`` makes here."""
        paging = self.format.pages
        assert paging is not None  # _workers said so
        # What workers are told: no head (it is for whole files), the config parsed there (services/export_pool.py).
        encoding = replace(self.encoding(), head=list, config=None)
        return paging.join(self._parts(paging, encoding), encoding)

    def _parts(self, paging, encoding: Encoding) -> Iterator[Any]:
        """Each page's part, in the file's order (None: a page without rows)."""
        plan = self._plan()
        fixed: Any = None
        have_rows = False
        read = 0
        pool: PagePool | None = None
        pending: deque[tuple[OpenedPage, Future]] = deque()
        window = PAGES_IN_FLIGHT_PER_WORKER * self._workers()
        pages = self.pages()
        finished = False

        here_encoding = replace(encoding, config=plan.config)

        def here(page: OpenedPage) -> Any:
            nonlocal fixed, have_rows
            tally = tally_for(plan)
            rows = list(make_rows(build_records(page, plan), plan, tally))
            if rows and not have_rows:
                fixed, have_rows = paging.fix(rows, here_encoding), True
            part = paging.encode(rows, here_encoding, fixed) if rows else None
            self.tally.merge(tally)
            return part

        def drop_pool(exc: BaseException) -> None:
            nonlocal pool
            log.warning("export %s: its worker processes failed (%s); the rest is made here", self.id, exc)
            self._gave_up_pool = True
            if pool is not None:
                self.worker_pids = pool.pids() or self.worker_pids
                pool.close()
                pool = None

        def taken(page: OpenedPage, future: Future) -> Any:
            try:
                part, tally = future.result()
            except (BrokenProcessPool, OSError, CancelledError) as exc:
                # A worker died (or the pool was ended for that while this page waited): made here.
                if pool is not None:
                    drop_pool(exc)
                return here(page)
            self.tally.merge(tally)
            return part

        try:
            for page in pages:
                read += page.read
                if pool is None:
                    while pending:  # the pool failed: what it was given is made here, in order
                        yield here(pending.popleft()[0])
                    yield here(page)
                    if have_rows and read >= PARALLEL_AFTER_TASKS and window and not self._gave_up_pool:
                        pool = self._start_pool(plan, paging, encoding, fixed)
                    continue
                if not pending and not pool.ready() and not WAIT_FOR_WORKERS:
                    yield here(page)  # the workers are still starting: meanwhile pages are made here
                    continue
                try:
                    pending.append((page, pool.submit(page)))
                except (BrokenProcessPool, RuntimeError, OSError) as exc:
                    drop_pool(exc)
                    while pending:
                        yield taken(*pending.popleft())
                    yield here(page)
                    continue
                if not self.worker_pids:
                    self.worker_pids = pool.pids()
                while len(pending) >= window:
                    yield taken(*pending.popleft())
            while pending:
                yield taken(*pending.popleft())
            finished = True
        finally:
            pages.close()
            if pool is not None:
                self.worker_pids = pool.pids() or self.worker_pids
                pool.close(finished=finished)

    def _start_pool(self, plan: RowPlan, paging, encoding: Encoding, fixed: Any) -> PagePool | None:
        """The export's worker processes, or None (the rest is made here) where they cannot be had."""
        try:
            pickle.dumps((plan, paging.encode, encoding, fixed))
        except Exception as exc:  # noqa: BLE001 — a plugin's row maker or config that does not pickle
            log.info("export %s: built in this process (%s does not pickle)", self.id, exc)
            self._gave_up_pool = True
            return None
        try:
            pool = PagePool(self._workers(), plan, paging.encode, encoding, fixed)
        except (OSError, RuntimeError) as exc:
            log.warning("export %s: no worker processes (%s); built in this process", self.id, exc)
            self._gave_up_pool = True
            return None
        self.worker_pids = []
        return pool

    def _with_file_facts(self, records: Iterator[dict]) -> Iterator[dict]:
        """Records with the extension and pixel size of the file their first file field names."""
        keys = self.task_type.file_fields(self.config)
        batch: list[dict] = []

        def release():
            refs = [r["data"].get(k) for r in batch for k in keys if isinstance(r["data"].get(k), str)]
            facts = file_facts(self.ctx, self.project.id, refs)
            for record in batch:
                fact = facts.get(record["data"].get(keys[0])) if keys else None
                if fact is not None:
                    record["file_extension"] = MEDIA_EXTENSIONS.get(fact.media_type, "")
                    record["file_width"], record["file_height"] = fact.width, fact.height
            out = list(batch)
            batch.clear()
            return out

        for record in records:
            batch.append(record)
            if len(batch) >= 500:
                yield from release()
        if batch:
            yield from release()

    def stream(self) -> Generator[bytes, None, None]:
        """The file's bytes; after the last one the manifest is signed and stored (``self.manifest``).

        About once a second the bytes handed out so far are written on the export's record:
        its progress, which the export page shows while the browser downloads."""
        digest, size, finished = hashlib.sha256(), 0, False
        noted_at = time.monotonic()
        try:
            for chunk in self.chunks():
                digest.update(chunk)
                size += len(chunk)
                yield chunk
                if time.monotonic() - noted_at >= PROGRESS_EVERY_S:
                    self._record_progress(size)
                    noted_at = time.monotonic()
            self.manifest = self._sign_manifest(digest.hexdigest(), size)
            finished = True
        finally:
            telemetry.count_export(self.format.name, self.tally.rows)  # the rows sent, finished or not
            if not finished:
                self._record_incomplete(size)

    def _sign_manifest(self, sha256: str, size: int) -> dict[str, Any]:
        ws = self.project.workspace_id
        tally = self.tally
        if tally.answers is not None or self.project.task_type not in quality.AGREEMENT_TYPES:
            figures = quality.agreement_of(self.project.task_type, self.project.config, tally.answers or [])
        else:
            figures = {
                "kind": "not_computed",
                "note": (
                    f"the export holds {tally.annotations} annotations: agreement over more than"
                    f" {QUALITY_MAX_ANNOTATIONS} is not computed while exporting; the quality report"
                    " (GET /api/v1/projects/{project_id}/quality) computes it for the project"
                ),
            }
        tally.answers = None
        counts = {
            "rows": tally.rows,
            "tasks": tally.tasks,
            "annotations": tally.annotations,
            "per_annotator": dict(sorted(tally.per_annotator.items())),
        }
        with self.ctx.write() as w:
            w.access.require(Action.EXPORT, ws, what="project")
            body = {
                **self.facts,
                "counts": counts,
                "annotators": sorted(tally.per_annotator),
                "quality": figures,
                "file": {"bytes": size, "sha256": sha256},
                "completed_at": _stamp(w.now),
            }
            name, key = signer(self.ctx.rt)
            manifest = sign_manifest(body, name, key)
            sealed = w.sealer(ws, self.project.key_id).seal_json("exports", self.id, "manifest", manifest)
            store.update_export_complete(w.tx, ws, self.id, bytes_sent=size, manifest=sealed)
            w.audit(
                ws,
                "export.manifest_created",
                self.id,
                project=self.project.id,
                bytes=size,
                sha256=sha256,
                rows=tally.rows,
                annotations=tally.annotations,
            )
            w.event(
                ws, "export.ready", self.id, export=self.id, project=self.project.id, rows=tally.rows,
                annotations=tally.annotations, bytes=size, sha256=sha256,
            )  # fmt: skip
        return manifest

    def _record_progress(self, size: int) -> None:
        with self.ctx.write() as w:
            store.update_export_progress(w.tx, self.project.workspace_id, self.id, bytes_sent=size)

    def abandon(self) -> None:
        """An export that will not be streamed after all: recorded incomplete, no manifest."""
        self._record_incomplete(0)

    def _record_incomplete(self, size: int) -> None:
        """The stream stopped before its end: no manifest; say so on the record and in the log."""
        ws = self.project.workspace_id
        try:
            with self.ctx.write() as w:
                store.update_export_incomplete(w.tx, ws, self.id, bytes_sent=size)
                w.audit(ws, "export.incomplete", self.id, project=self.project.id, bytes_sent=size)
        except Exception:  # noqa: BLE001 — called while the stream unwinds: never raise over its cause
            logging.getLogger("bastion.exports").exception("recording incomplete export %s failed", self.id)


def _stamp(ms: int) -> str:
    return format_timestamp(datetime.fromtimestamp(ms / 1000, UTC))


def _policy_facts(ctx: Context, project: Project, reidentify: bool) -> dict[str, Any] | None:
    """The redaction policy in force: its settings with the client's terms counted, never listed.

    The digest is keyed (HMAC-SHA256 with a secret of the project): equal digests mean
    the same policy, yet someone who reads manifests but not the policy (a manager)
    cannot confirm a guessed codename by hashing candidate policies.
    """
    raw = project.config.get("redaction")
    if raw is None:
        return None
    policy = load_policy(raw).model_dump(mode="json")
    if not policy.get("enabled", True):
        return None
    base = workspace_secret(ctx.rt.keyring, project.workspace_id)
    secret = hmac.new(base, f"bastion/export-manifest-policy/v1|{project.id}".encode(), hashlib.sha256).digest()
    settings = dict(policy)
    settings["dictionaries"] = {kind: len(terms) for kind, terms in sorted(policy["dictionaries"].items())}
    settings["allow_words"] = len(policy["allow_words"])
    settings["allow_values"] = len(policy["allow_values"])
    return {
        "policy_digest": "hmac-sha256:" + hmac.new(secret, canonical_json(policy), hashlib.sha256).hexdigest(),
        "settings": settings,
        "reidentified": reidentify,
    }


def _facts(
    ctx: Context,
    w,
    project: Project,
    writer: ExportFormat,
    req: ExportRequest,
    export_id: str,
    per: str,
    row_kind: str,
    checkpoint: str,
    filename: str,
) -> dict[str, Any]:
    version = store.get_config_version(w.tx, project.workspace_id, project.id)
    shared = {k: v for k, v in project.config.items() if k not in CONFIG_SECTIONS}
    return {
        "type": MANIFEST_TYPE,
        "version": MANIFEST_VERSION,
        "export_id": export_id,
        "workspace_id": project.workspace_id,
        "project": {
            "id": project.id,
            "name": project.name,
            "task_type": project.task_type,
            "config_version": version,
            # RFC 8785 of the config as every reader of the project sees it (owner-only sections left out)
            "config_sha256": hashlib.sha256(canonical_json(shared)).hexdigest(),
            "guidelines": None,  # no guideline documents yet: the instructions are part of the config
        },
        "format": {
            "name": writer.name,
            "media_type": writer.media_type,
            "filename": filename,
            "rows": row_kind,
            "per": per,
            "options": req.describe(),
        },
        "redaction": _policy_facts(ctx, project, req.reidentify),
        "audit_checkpoint": checkpoint_to_json(checkpoint),
        "created_at": _stamp(w.now),
        "created_by": ctx.actor.user_id,
    }


def get_manifest(ctx: Context, export_id: str) -> dict[str, Any]:
    """An export's signed manifest (those who may export the project); 409 until it exists."""
    with ctx.read() as r:
        row = store.find_export(r.tx, export_id)
        if row is None:
            raise NotFound("export not found")
        r.access.require(Action.EXPORT, row.workspace_id, what="export")
        r.see_content(row.workspace_id)  # counts, annotators and quality figures are the client's
        if row.status == "streaming":
            raise Conflict(f"export {export_id} is still streaming: its manifest is signed after the last byte")
        if row.status != "complete":
            raise Conflict(
                f"export {export_id} did not finish (the stream stopped after {row.bytes_sent} bytes):"
                " no manifest was signed for it; export again"
            )
        assert row.manifest is not None  # signed when the export completed
        return r.sealer(row.workspace_id, row.key_id).open_json("exports", export_id, "manifest", row.manifest)


def _check_options(req: ExportRequest) -> Split | None:
    """The options that need no project (InvalidInput naming the one at fault); the split they describe."""
    if req.per is not None:
        _check_choice("per", req.per, PER)
    _check_choice("chat", req.chat, CHAT)
    _check_choice("sft_form", req.sft_form, SFT_FORMS)
    if req.min_strength is not None:
        _check_choice("dpo_min_strength", req.min_strength, STRENGTHS)
    split = parse_split(req.split, req.seed)
    if req.part is not None:
        if split is None:
            raise InvalidInput("part: needs a split (e.g. split=validation=0.1)")
        _check_choice("part", req.part, tuple(split.names()))
    return split


def _checked(u, ctx: Context, project_id: str, req: ExportRequest, split: Split | None):
    """Everything an export checks in the project before its first byte: access, the wall, the format
    for the task type, its options, the config. Returns (project, format, kind of rows)."""
    project = load_project(u, project_id, Action.EXPORT)
    if req.reidentify:
        require_reidentify(u, project.workspace_id)
    u.see_content(project.workspace_id)  # walls decide before any data leaves
    task_type = ctx.rt.task_types.get(project.task_type)
    if req.aggregate is not None:  # per task type, before the first byte (a refusal mid-stream cuts the body)
        quality.check_aggregation_method(task_type, req.aggregate)
    writer, row_kind = _choose_format(ctx.rt.export_formats, task_type, req, split)
    refusal = task_type.export_refusal(task_type.parse_config(project.config), row_kind)
    if refusal is not None:  # what the config cannot export, said before the first byte
        raise InvalidInput(f"format: {writer.name}: {refusal}")
    return project, writer, row_kind


def check_export(ctx: Context, project_id: str, request: ExportRequest) -> tuple[Project, ExportFormat]:
    """What ``start_export`` would refuse before its first byte, refused now — nothing recorded or
    audited, no approval used (the export page checks a form with it before handing out a download)."""
    split = _check_options(request)
    with ctx.read() as r:
        project, writer, _kind = _checked(r, ctx, project_id, request, split)
    return project, writer


def start_export(
    ctx: Context,
    project_id: str,
    *,
    fmt: str = "jsonl",
    annotated_only: bool = False,
    request: ExportRequest | None = None,
    export_id: str | None = None,
) -> Export:
    """Authorise, validate, record and audit an export; iterate ``.stream()`` for the bytes (and,
    after the last one, the signed manifest), or ``.chunks()`` for the bytes alone.

    ``export_id``: the id to record it under, minted earlier (the export page's download
    ticket); Conflict if an export has it already. None: a new one."""
    req = request or ExportRequest(fmt=fmt, annotated_only=annotated_only)
    split = _check_options(req)
    with ctx.write() as w:
        project, writer, row_kind = _checked(w, ctx, project_id, req, split)
        if req.reidentify:
            approvals.consume(
                w,
                "redaction.reidentify",
                project.workspace_id,
                {"project": project.id},
                approval_id=req.approval,
                break_glass=req.break_glass,
            )
        export_id = export_id or ids.new_id("exp")
        store.insert_export(
            w.tx,
            project.workspace_id,
            export_id,
            project_id=project.id,
            format=writer.name,
            created_by=ctx.actor.user_id,
        )
        w.audit(project.workspace_id, "project.exported", project.id, export=export_id, **req.describe())
        # The checkpoint the export is cut at covers its own record in the log.
        w.flush_audit()
        checkpoint = checkpoint_now(w, project.workspace_id)
        assert checkpoint is not None  # the log holds at least the entry just flushed
        per = req.per or ("task" if row_kind == LOSSLESS else "annotation")
        export = Export(
            ctx,
            project,
            writer,
            req,
            split,
            ExportOptions(
                per=per,
                chat=req.chat,
                sft_form=req.sft_form,
                min_strength=req.min_strength,
                include_ties=req.include_ties,
                with_ids=req.with_ids,
            ),
            row_kind=row_kind,
            id=export_id,
        )
        if project.task_type in quality.AGREEMENT_TYPES:
            export.tally.answers, export.tally.keep_at_most = [], QUALITY_MAX_ANNOTATIONS
        export.facts = _facts(ctx, w, project, writer, req, export_id, per, row_kind, checkpoint, export.filename)
    return export


# The row options a format declares it takes (the API's names), as fields of ExportRequest.
_ROW_OPTION_FIELDS = {option: {"dpo_min_strength": "min_strength"}.get(option, option) for option in ROW_OPTIONS}
_DEFAULTS = {f.name: f.default for f in fields(ExportRequest)}


def _choose_format(
    formats: ExportFormats, task_type: TaskType, req: ExportRequest, split: Split | None
) -> tuple[ExportFormat, str]:
    """The format asked for and the kind of rows it encodes for ``task_type``; InvalidInput naming the
    option at fault (``format``, ``rows``, ``per``, ``split`` or a row option) and what would do."""
    fmt = formats.get(req.fmt, task_type)
    kinds = fmt.kinds_for(task_type)
    if not kinds:
        raise InvalidInput(
            f"format: {task_type.name} projects have no {fmt.name} export "
            f"(they export as: {', '.join(formats.names_for(task_type))})"
        )
    if len(fmt.rows) == 1:
        if req.rows != ROWS_LOSSLESS:
            several = " or ".join(f.name for f in formats if len(f.rows) > 1) or "(none is installed)"
            raise InvalidInput(f"rows: only with format {several} (the other formats are their rows)")
        kind = fmt.rows[0]
    else:
        _check_choice("rows", req.rows, tuple(ROWS_LOSSLESS if k == LOSSLESS else k for k in fmt.rows))
        kind = LOSSLESS if req.rows == ROWS_LOSSLESS else req.rows
        if kind not in kinds:
            offered = ", ".join(ROWS_LOSSLESS if k == LOSSLESS else k for k in kinds)
            raise InvalidInput(f"rows: {task_type.name} projects have no {kind} rows (rows for them: {offered})")
    for option, name in _ROW_OPTION_FIELDS.items():
        if option not in fmt.options and getattr(req, name) != _DEFAULTS[name]:
            takes = (
                f"it takes: {', '.join(fmt.options)}"
                if fmt.options
                else f"it takes none of: {', '.join(_ROW_OPTION_FIELDS)}"
            )
            raise InvalidInput(f"{option}: format {fmt.name} does not use this option ({takes})")
    if req.per == "task" and kind != LOSSLESS:
        if fmt.per_task:
            raise InvalidInput(f"per: {fmt.name} makes one entry per task of its own; leave per out")
        raise InvalidInput(
            f"per: {kind} rows are made from annotations; for one row per task, export "
            "jsonl with aggregate=mv|ds|… (each task carries its aggregated answer)"
        )
    if split is not None and req.part is None and not fmt.split_column:
        raise InvalidInput(
            f"split: a {fmt.name} file has no place for a split column; "
            "export one part at a time (part=train, part=validation…)"
        )
    return fmt, kind


def with_part(request: ExportRequest, part: str) -> ExportRequest:
    return replace(request, part=part)
