"""Exporting a project: a stream of tasks with their annotations, or training-ready rows.

``start_export`` checks access, validates every option and records the export
in the audit log before the first byte; the returned object then streams pages
read by keyset (task id order), each page in its own short read transaction,
so an export of a million tasks neither holds one long transaction nor builds
the file in memory.

The pipeline is records → (split, filters) → rows → encoder:

* records: ``{"id", "external_id", "data", "meta", "predictions", …,
  "annotations": [{"id", "user_id", "result", …}]}`` — one per task;
* rows: the lossless rows (``jsonl``/``json``: one per task, or one per
  annotation with ``--per annotation``), or a task type's training rows
  (``sft``, ``dpo``, ``spacy``: one or more per annotation);
* encoders: JSON Lines, a JSON array, or Parquet (``--rows`` picks which rows);
* documents: whole-file formats a type owns (``coco``, ``conll``).

Splits are decided per *task* (a keyed hash of the seed and the task id), never
per row: every DPO pair, every annotation of one prompt lands in the same split,
so validation never sees a training prompt. That is the trap a row-level random
split falls into. The hash makes a split stable across runs and across
``--part`` passes, and independent of the order or size of the export.

Every export has an id (``exp_…``) and a signed manifest (``domain/manifests.py``).
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

import hashlib
import hmac
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, update

from .. import ids
from ..access import Action
from ..audit import checkpoint_to_json, format_timestamp
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.manifests import MANIFEST_TYPE, MANIFEST_VERSION, canonical_json, sign_manifest
from ..storage import schema
from ..storage.export_store import ANNOTATED_TASKS_PAGE, ANNOTATIONS_IN_RANGE, TASKS_PAGE
from ..storage.review_store import REVIEWS_IN_RANGE
from ..storage.workspace_secret import workspace_secret
from .reviews import review_dicts
from ..tasktypes._export import STRENGTHS, ExportOptions
from ..tasktypes.base import CONFIG_SECTIONS
from . import approvals
from .context import Context
from .redaction import reidentify_records, require_reidentify
from .projects import Project, load_project

T = schema.tasks
N = schema.annotations
X = schema.exports
PAGE = 2000
# The manifest's agreement figures are computed from the exported answers, kept as they
# stream by; past this many the export stops keeping them (bounded memory) and says so.
QUALITY_MAX_ANNOTATIONS = 200_000
FIRST_PAGE = 100  # pages grow from this to PAGE: the first bytes leave after a small read
ROW_GROUP = 5000


# -- encoders -------------------------------------------------------------------


def _jsonl(rows: Iterator[dict]) -> Iterator[bytes]:
    dumps = orjson.dumps
    buf: list[bytes] = []
    flush_at = 50  # the first chunk early (first byte), then 500 rows a chunk
    for row in rows:
        buf.append(dumps(row))
        if len(buf) >= flush_at:
            yield b"\n".join(buf) + b"\n"
            buf, flush_at = [], 500
    if buf:
        yield b"\n".join(buf) + b"\n"


def _json_array(rows: Iterator[dict]) -> Iterator[bytes]:
    first = True
    yield b"["
    for chunk in _jsonl(rows):
        lines = chunk.rstrip(b"\n").split(b"\n")
        yield (b"" if first else b",\n") + b",\n".join(lines)
        first = False
    yield b"]\n"


class _Sink(io.RawIOBase):
    """A write-only file that hands its bytes to the stream as they are written."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _parquet_type(key: str, value: Any):
    import pyarrow as pa

    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    if key in ("prompt", "chosen", "rejected", "completion", "messages"):
        return messages if isinstance(value, list) else pa.string()
    if key in ("tie", "done"):
        return pa.bool_()
    if key in ("priority", "annotation_count", "created_at", "lead_time_ms"):
        return pa.int64()
    return pa.string()


JSON_COLUMNS = ("data", "meta", "predictions", "result")


def _lossless_parquet_row(row: dict) -> dict:
    """Lossless rows for Parquet: free-form JSON parts become JSON text columns."""
    out = {k: (orjson.dumps(v).decode() if k in JSON_COLUMNS and v is not None else v) for k, v in row.items()}
    if "annotations" in out:
        out["annotations"] = [_lossless_parquet_row(a) for a in out["annotations"]]
    if "annotation" in out:
        out["annotation"] = _lossless_parquet_row(out["annotation"])
    return out


def _lossless_schema(first: dict):
    import pyarrow as pa

    annotation = pa.struct([("id", pa.string()), ("task_id", pa.string()), ("project_id", pa.string()),
                            ("user_id", pa.string()), ("result", pa.string()), ("lead_time_ms", pa.int64()),
                            ("created_at", pa.int64())])
    fields = []
    for key in first:
        if key == "annotations":
            fields.append((key, pa.list_(annotation)))
        elif key == "annotation":
            fields.append((key, annotation))
        else:
            fields.append((key, _parquet_type(key, None)))
    return pa.schema(fields)


def _parquet(rows: Iterator[dict], lossless: bool) -> Iterator[bytes]:
    """Parquet, one row group per ``ROW_GROUP`` rows, bytes yielded as each group is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = _Sink()
    writer = None
    schema_ = None
    batch: list[dict] = []
    count = 0

    def flush() -> bytes:
        nonlocal writer, schema_
        if schema_ is None:
            first = batch[0]
            schema_ = _lossless_schema(first) if lossless else pa.schema(
                [(k, _parquet_type(k, v)) for k, v in first.items()])
            writer = pq.ParquetWriter(sink, schema_, compression="zstd")
        try:
            table = pa.Table.from_pylist(batch, schema=schema_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
            raise InvalidInput(
                f"parquet: row {count - len(batch) + 1}… does not fit the columns of the first rows ({exc}); "
                "a mix of prompt strings and conversations needs --chat conversational") from exc
        writer.write_table(table)
        batch.clear()
        return sink.drain()

    for row in rows:
        batch.append(_lossless_parquet_row(row) if lossless else row)
        count += 1
        if len(batch) >= ROW_GROUP:
            yield flush()
    if batch:
        yield flush()
    if writer is None:  # no rows: an empty file still has the lossless columns
        schema_ = _lossless_schema({"id": "", "external_id": None}) if lossless else pa.schema([])
        writer = pq.ParquetWriter(sink, schema_)
    writer.close()
    yield sink.drain()


# -- formats --------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    rows: str | None  # the row kind it encodes ("lossless", "sft", …); None for documents
    encode: Callable[[Iterator[dict]], Iterator[bytes]] | None = None
    description: str = ""


FORMATS: dict[str, ExportFormat] = {
    "jsonl": ExportFormat("jsonl", "application/x-ndjson", "jsonl", "lossless", _jsonl,
                          "every task with its annotations and metadata, one per line (lossless)"),
    "json": ExportFormat("json", "application/json", "json", "lossless", _json_array, "the same as one JSON array"),
    "sft": ExportFormat("sft", "application/x-ndjson", "sft.jsonl", "sft", _jsonl,
                        "TRL SFT rows: {messages} or {prompt, completion}"),
    "dpo": ExportFormat("dpo", "application/x-ndjson", "dpo.jsonl", "dpo", _jsonl,
                        "TRL preference rows {prompt, chosen, rejected}"),
    "spacy": ExportFormat("spacy", "application/x-ndjson", "spacy.jsonl", "spacy", _jsonl,
                          "spaCy-style {text, entities: [[start, end, label]]}"),
    "parquet": ExportFormat("parquet", "application/vnd.apache.parquet", "parquet", "lossless", None,
                            "the rows chosen by --rows as Apache Parquet"),
    "coco": ExportFormat("coco", "application/json", "coco.json", None, None, "COCO object-detection JSON"),
    "conll": ExportFormat("conll", "text/plain; charset=utf-8", "conll", None, None, "CoNLL-2003 BIO tags"),
}
PARQUET_ROWS = ("jsonl", "sft", "dpo")
PER = ("annotation", "task")
CHAT = ("auto", "conversational", "standard")
SFT_FORMS = ("messages", "prompt-completion")


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
        return {k: v for k, v in self.__dict__.items()
                if v not in (None, False) and k not in ("approval", "break_glass")}


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{name}: {value!r} is not one of {', '.join(allowed)}")


# -- the export -----------------------------------------------------------------


@dataclass
class _Tally:
    """What the file holds, counted as it is made (the manifest's ``counts``), and the
    answers its agreement figures are computed from (``None``: not kept)."""

    rows: int | None = 0
    tasks: int = 0
    annotations: int = 0
    per_annotator: Counter = field(default_factory=Counter)
    answers: list[dict] | None = None

    def add(self, record: dict, annotations: list[dict]) -> None:
        self.annotations += len(annotations)
        for annotation in annotations:
            self.per_annotator[annotation["user_id"]] += 1
        if self.answers is not None:
            if self.annotations > QUALITY_MAX_ANNOTATIONS:
                self.answers = None  # bounded memory: the manifest says the figures were not computed
                return
            self.answers.extend({"task": a["task_id"], "user": a["user_id"], "result": a["result"],
                                 "is_gold": "gold" in record, "review": a["review"]["status"]}
                                for a in annotations)


@dataclass
class Export:
    ctx: Context
    project: Project
    format: ExportFormat
    request: ExportRequest
    split: Split | None
    options: ExportOptions
    id: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # the manifest's parts known at the start
    tally: _Tally = field(default_factory=_Tally)
    manifest: dict[str, Any] | None = None  # signed when the stream ends

    @property
    def filename(self) -> str:
        part = f"-{self.request.part}" if self.request.part else ""
        return f"{self.project.id}{part}.{self.format.extension}"

    @property
    def row_kind(self) -> str | None:
        if self.format.name == "parquet":
            return "lossless" if self.request.rows == "jsonl" else self.request.rows
        return self.format.rows

    def records(self) -> Iterator[dict[str, Any]]:
        ws, pid = self.project.workspace_id, self.project.id
        page_query = ANNOTATED_TASKS_PAGE if self.request.annotated_only else TASKS_PAGE
        after = ""
        loads = orjson.loads
        split, part = self.split, self.request.part
        aggregated = self._aggregated() if self.request.aggregate else None
        limit = FIRST_PAGE
        while True:
            with self.ctx.read() as r:
                r.access.require(Action.EXPORT, ws, what="project")
                rows = page_query.rows(r.tx, ws=ws, project=pid, after=after, limit=limit)
                limit = min(PAGE, limit * 2)
                if not rows:
                    return
                sealer = r.sealer(ws, self.project.key_id)
                open_ = sealer.open
                first, last = rows[0][0], rows[-1][0]
                reviews: dict[str, dict] = {}
                for review in review_dicts(r, ws, self.project.key_id, REVIEWS_IN_RANGE.rows(
                        r.tx, ws=ws, project=pid, first=first, last=last)):
                    reviews[review["annotation_id"]] = review  # the latest decision wins
                by_task: dict[str, list] = defaultdict(list)
                for ann_id, task_id, user_id, result, lead, created, status, gold_score in ANNOTATIONS_IN_RANGE.rows(
                        r.tx, ws=ws, project=pid, first=first, last=last):
                    review = reviews.get(ann_id)
                    item = {
                        "id": ann_id, "task_id": task_id, "project_id": pid, "user_id": user_id,
                        "result": loads(open_("annotations", ann_id, "result", result)),
                        "lead_time_ms": lead, "created_at": created,
                        "review": {"status": status} if review is None else {
                            "status": status, "reviewer_id": review["reviewer_id"], "comment": review["comment"],
                            "correction": review["correction"], "reviewed_at": review["created_at"]},
                    }
                    if gold_score is not None:
                        item["gold_score"] = gold_score
                    by_task[task_id].append(item)
                page = []
                for task_id, payload, predictions, priority, count, done, created, is_gold, gold in rows:
                    if split and part and split.part_of(task_id) != part:
                        continue
                    body = loads(open_("tasks", task_id, "payload", payload))
                    record = {
                        "id": task_id, "project_id": pid, "data": body["data"],
                        "predictions": loads(open_("tasks", task_id, "predictions", predictions))
                        if predictions is not None else [],
                        "external_id": body.get("external_id"), "meta": body.get("meta"), "priority": priority,
                        "annotation_count": count, "done": bool(done), "created_at": created,
                        "annotations": self._kept(by_task.get(task_id, [])),
                    }
                    if is_gold:
                        record["gold"] = loads(open_("tasks", task_id, "gold", gold))
                    if aggregated is not None:
                        record["aggregate"] = aggregated.get(task_id)
                    page.append(record)
                if self.request.reidentify:
                    task_type = self.ctx.rt.task_types.get(self.project.task_type)
                    reidentify_records(r, self.project, task_type, task_type.parse_config(self.project.config), page)
            yield from page
            after = rows[-1][0]

    def _aggregated(self) -> dict[str, dict]:
        """One answer per task for the whole project (aggregation needs every label at once)."""
        from .quality import _annotations, _usable, aggregate

        with self.ctx.read() as r:
            r.access.require(Action.EXPORT, self.project.workspace_id, what="project")
            annotations = _usable(_annotations(r, self.project))
        return aggregate(self.project.task_type, self.project.config, annotations, self.request.aggregate)

    def _kept(self, annotations: list[dict]) -> list[dict]:
        """Only accepted (or corrected) annotations when asked; a correction replaces the result."""
        if not self.request.accepted_only:
            return annotations
        kept = []
        for a in annotations:
            status = a["review"]["status"]
            if status == "accepted":
                kept.append(a)
            elif status == "corrected":
                kept.append({**a, "result": a["review"]["correction"], "original_result": a["result"]})
        return kept

    def rows(self, records: Iterator[dict]) -> Iterator[dict]:
        """The rows of the file, counted: a task or annotation counts when a row came of it."""
        kind = self.row_kind
        split = self.split
        tally = self.tally
        if kind == "lossless":
            for record in records:
                extra = {"split": split.part_of(record["id"])} if split else {}
                annotations = record["annotations"]
                if self.options.per == "task":
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
        task_type = self.ctx.rt.task_types.get(self.project.task_type)
        config = task_type.parse_config(self.project.config)
        make = task_type.row_kinds[kind]
        for record in records:
            extra = {"split": split.part_of(record["id"])} if split else {}
            used = False
            for ann in record["annotations"]:
                made = 0
                for row in make(config, record, ann, self.options):
                    made += 1
                    tally.rows += 1
                    yield {**row, **extra}
                if made:
                    tally.add(record, [ann])
                    used = True
            tally.tasks += used

    def _counted(self, records: Iterator[dict]) -> Iterator[dict]:
        """Documents (coco, conll) have no rows: every task and annotation read counts."""
        self.tally.rows = None
        for record in records:
            self.tally.tasks += 1
            self.tally.add(record, record["annotations"])
            yield record

    def chunks(self) -> Iterator[bytes]:
        fmt = self.format
        if fmt.rows is None:
            task_type = self.ctx.rt.task_types.get(self.project.task_type)
            config = task_type.parse_config(self.project.config)
            records = self._counted(self.records())
            if fmt.name == "coco":
                records = self._with_file_facts(records)
            return task_type.documents[fmt.name](config, records, self.options)
        rows = self.rows(self.records())
        if fmt.name == "parquet":
            return _parquet(rows, lossless=self.row_kind == "lossless")
        return fmt.encode(rows)

    def _with_file_facts(self, records: Iterator[dict]) -> Iterator[dict]:
        from .files import MEDIA_EXTENSIONS, file_facts

        task_type = self.ctx.rt.task_types.get(self.project.task_type)
        fields = task_type.file_fields(task_type.parse_config(self.project.config))
        batch: list[dict] = []

        def release():
            refs = [r["data"].get(f) for r in batch for f in fields if isinstance(r["data"].get(f), str)]
            facts = file_facts(self.ctx, self.project.id, refs)
            for record in batch:
                fact = facts.get(record["data"].get(fields[0])) if fields else None
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

    def stream(self) -> Iterator[bytes]:
        """The file's bytes; after the last one the manifest is signed and stored (``self.manifest``)."""
        digest, size, finished = hashlib.sha256(), 0, False
        try:
            for chunk in self.chunks():
                digest.update(chunk)
                size += len(chunk)
                yield chunk
            self.manifest = self._sign_manifest(digest.hexdigest(), size)
            finished = True
        finally:
            if not finished:
                self._record_incomplete(size)

    def _sign_manifest(self, sha256: str, size: int) -> dict[str, Any]:
        from .audit import signer
        from .quality import AGREEMENT_TYPES, agreement_of

        ws = self.project.workspace_id
        tally = self.tally
        if tally.answers is not None or self.project.task_type not in AGREEMENT_TYPES:
            quality = agreement_of(self.project.task_type, self.project.config, tally.answers or [])
        else:
            quality = {"kind": "not_computed", "note": (
                f"the export holds {tally.annotations} annotations: agreement over more than"
                f" {QUALITY_MAX_ANNOTATIONS} is not computed while exporting; the quality report"
                " (GET /api/v1/projects/{project_id}/quality) computes it for the project")}
        tally.answers = None
        counts = {"rows": tally.rows, "tasks": tally.tasks, "annotations": tally.annotations,
                  "per_annotator": dict(sorted(tally.per_annotator.items()))}
        with self.ctx.write() as w:
            w.access.require(Action.EXPORT, ws, what="project")
            body = {**self.facts, "counts": counts, "annotators": sorted(tally.per_annotator),
                    "quality": quality, "file": {"bytes": size, "sha256": sha256},
                    "completed_at": _stamp(w.now)}
            name, key = signer(self.ctx.rt)
            manifest = sign_manifest(body, name, key)
            sealed = w.sealer(ws, self.project.key_id).seal_json("exports", self.id, "manifest", manifest)
            w.execute(update(X).where(X.c.workspace_id == ws, X.c.id == self.id).values(
                status="complete", bytes_sent=size, finished_at=w.now, manifest=sealed))
            w.audit(ws, "export.manifest_created", self.id, project=self.project.id, bytes=size, sha256=sha256,
                    rows=tally.rows, annotations=tally.annotations)
        return manifest

    def abandon(self) -> None:
        """An export that will not be streamed after all: recorded incomplete, no manifest."""
        self._record_incomplete(0)

    def _record_incomplete(self, size: int) -> None:
        """The stream stopped before its end: no manifest; say so on the record and in the log."""
        ws = self.project.workspace_id
        try:
            with self.ctx.write() as w:
                w.execute(update(X).where(X.c.workspace_id == ws, X.c.id == self.id, X.c.status == "streaming")
                          .values(status="incomplete", bytes_sent=size, finished_at=w.now))
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
    from ..redaction import load_policy

    policy = load_policy(raw).model_dump(mode="json")
    if not policy.get("enabled", True):
        return None
    base = workspace_secret(ctx.rt.keyring, project.workspace_id)
    secret = hmac.new(base, f"bastion/export-manifest-policy/v1|{project.id}".encode(), hashlib.sha256).digest()
    settings = dict(policy)
    settings["dictionaries"] = {kind: len(terms) for kind, terms in sorted(policy["dictionaries"].items())}
    settings["allow_words"] = len(policy["allow_words"])
    settings["allow_values"] = len(policy["allow_values"])
    return {"policy_digest": "hmac-sha256:" + hmac.new(secret, canonical_json(policy), hashlib.sha256).hexdigest(),
            "settings": settings, "reidentified": reidentify}


def _facts(ctx: Context, w, project: Project, writer: ExportFormat, req: ExportRequest, export_id: str,
           per: str, row_kind: str | None, checkpoint: str, filename: str) -> dict[str, Any]:
    version = w.execute(select(schema.projects.c.config_version).where(
        schema.projects.c.workspace_id == project.workspace_id, schema.projects.c.id == project.id)).scalar_one()
    shared = {k: v for k, v in project.config.items() if k not in CONFIG_SECTIONS}
    return {
        "type": MANIFEST_TYPE, "version": MANIFEST_VERSION, "export_id": export_id,
        "workspace_id": project.workspace_id,
        "project": {
            "id": project.id, "name": project.name, "task_type": project.task_type, "config_version": version,
            # RFC 8785 of the config as every reader of the project sees it (owner-only sections left out)
            "config_sha256": hashlib.sha256(canonical_json(shared)).hexdigest(),
            "guidelines": None,  # no guideline documents yet: the instructions are part of the config
        },
        "format": {"name": writer.name, "media_type": writer.media_type, "filename": filename,
                   "rows": row_kind, "per": per, "options": req.describe()},
        "redaction": _policy_facts(ctx, project, req.reidentify),
        "audit_checkpoint": checkpoint_to_json(checkpoint),
        "created_at": _stamp(w.now), "created_by": ctx.actor.user_id,
    }


def get_manifest(ctx: Context, export_id: str) -> dict[str, Any]:
    """An export's signed manifest (those who may export the project); 409 until it exists."""
    with ctx.read() as r:
        row = r.execute(select(X.c.workspace_id, X.c.status, X.c.bytes_sent, X.c.manifest, schema.projects.c.key_id)
                        .join(schema.projects, (schema.projects.c.workspace_id == X.c.workspace_id)
                              & (schema.projects.c.id == X.c.project_id))
                        .where(X.c.id == export_id)).first()
        if row is None:
            raise NotFound("export not found")
        r.access.require(Action.EXPORT, row.workspace_id, what="export")
        r.see_content(row.workspace_id)  # counts, annotators and quality figures are the client's
        if row.status == "streaming":
            raise Conflict(f"export {export_id} is still streaming: its manifest is signed after the last byte")
        if row.status != "complete":
            raise Conflict(f"export {export_id} did not finish (the stream stopped after {row.bytes_sent} bytes):"
                           " no manifest was signed for it; export again")
        return r.sealer(row.workspace_id, row.key_id).open_json("exports", export_id, "manifest", row.manifest)


def start_export(ctx: Context, project_id: str, *, fmt: str = "jsonl", annotated_only: bool = False,
                 request: ExportRequest | None = None) -> Export:
    """Authorise, validate, record and audit an export; iterate ``.stream()`` for the bytes (and,
    after the last one, the signed manifest), or ``.chunks()`` for the bytes alone."""
    req = request or ExportRequest(fmt=fmt, annotated_only=annotated_only)
    writer = FORMATS.get(req.fmt)
    if writer is None:
        raise InvalidInput(f"format: unknown export format {req.fmt!r} (one of: {', '.join(FORMATS)})")
    if req.per is not None:
        _check_choice("per", req.per, PER)
    _check_choice("chat", req.chat, CHAT)
    _check_choice("sft_form", req.sft_form, SFT_FORMS)
    _check_choice("rows", req.rows, PARQUET_ROWS)
    if req.rows != "jsonl" and req.fmt != "parquet":
        raise InvalidInput("rows: only with format parquet (the other formats are their rows)")
    if req.min_strength is not None:
        _check_choice("dpo_min_strength", req.min_strength, STRENGTHS)
    split = parse_split(req.split, req.seed)
    if req.part is not None:
        if split is None:
            raise InvalidInput("part: needs a split (e.g. split=validation=0.1)")
        _check_choice("part", req.part, tuple(split.names()))
    with ctx.write() as w:
        project = load_project(w, project_id, Action.EXPORT)
        if req.reidentify:
            require_reidentify(w, project.workspace_id)
        w.see_content(project.workspace_id)  # walls decide before any data leaves
        if req.reidentify:
            approvals.consume(w, "redaction.reidentify", project.workspace_id, {"project": project.id},
                              approval_id=req.approval, break_glass=req.break_glass)
        task_type = ctx.rt.task_types.get(project.task_type)
        if req.aggregate is not None:  # per task type, before the first byte (a refusal mid-stream cuts the body)
            from .quality import check_aggregation_method

            check_aggregation_method(task_type, req.aggregate)
        row_kind = ("lossless" if req.rows == "jsonl" else req.rows) if req.fmt == "parquet" else writer.rows
        if writer.rows is None:
            if req.fmt not in task_type.documents:
                raise InvalidInput(f"format: {project.task_type} projects have no {req.fmt} export "
                                   f"({_formats_of(task_type)})")
            if split is not None and req.part is None:
                raise InvalidInput(f"split: a {req.fmt} file has no place for a split column; "
                                   "export one part at a time (part=train, part=validation…)")
        elif row_kind != "lossless" and row_kind not in task_type.row_kinds:
            raise InvalidInput(f"format: {project.task_type} projects have no {row_kind} rows ({_formats_of(task_type)})")
        if req.per == "task" and writer.rows is None:
            raise InvalidInput(f"per: {req.fmt} documents hold one entry per annotation; use per=annotation")
        if req.per == "task" and row_kind not in ("lossless", None):
            raise InvalidInput(f"per: {row_kind} rows are made from annotations; for one row per task, export "
                               "jsonl with aggregate=mv|ds|… (each task carries its aggregated answer)")
        export_id = ids.new_id("exp")
        w.audit(project.workspace_id, "project.exported", project.id, export=export_id, **req.describe())
        w.execute(insert(X).values(workspace_id=project.workspace_id, id=export_id, project_id=project.id,
                                   format=req.fmt, created_by=ctx.actor.user_id, created_at=w.now,
                                   status="streaming"))
        # The checkpoint the export is cut at covers its own record in the log.
        w.flush_audit()
        from .audit import checkpoint_now

        checkpoint = checkpoint_now(w, project.workspace_id)
        per = req.per or ("task" if row_kind == "lossless" else "annotation")
        export = Export(ctx, project, writer, req, split, ExportOptions(
            per=per, chat=req.chat, sft_form=req.sft_form, min_strength=req.min_strength,
            include_ties=req.include_ties, with_ids=req.with_ids), id=export_id)
        from .quality import AGREEMENT_TYPES

        if project.task_type in AGREEMENT_TYPES:
            export.tally.answers = []
        export.facts = _facts(ctx, w, project, writer, req, export_id, per, row_kind, checkpoint, export.filename)
    return export


def _formats_of(task_type) -> str:
    kinds = ["jsonl", "json", "parquet", *task_type.row_kinds, *task_type.documents]
    return "it has: " + ", ".join(kinds)


def with_part(request: ExportRequest, part: str) -> ExportRequest:
    return replace(request, part=part)
