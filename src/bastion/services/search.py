"""Keeping the search index in step with the tasks and their answers.

The index (``domain/search.py``: what it holds and how it is encoded) changes where tasks
and answers change, in the same transaction:

* an import batch adds a block (``prepare_block`` runs beside the sealing, CPU only;
  ``store_block`` writes it with the batch's tasks) — every import path goes through
  ``services/imports.py``, the Label Studio migration included;
* a task whose ``meta`` changes is marked dead in its block and indexed again in a block of
  its own (``reindex_tasks``); a deleted task is marked dead (``forget_tasks``);
* a submitted answer adds its labels (``label_answer``) and, when it brings the task to its
  overlap, sets the task's agreement (``settle_answers``); a review decision recomputes both
  from the task's usable answers and corrections (``settle_answers``);
* ``reindex_project`` rebuilds a project's index from its sealed rows (``bastion task
  reindex``): for tasks imported before the index existed, and before a project's old data
  keys are destroyed (the index is hashed under the key current when it was written).

Tokens are hashed with the project's search key (``Sealer.search_key``); the keys a
project's index was written under are remembered (``search_keys``) so that a query
hashes its terms under each of them.

The trap: index the task *as stored* — the redacted text in a project that redacts —
never the original an importer sent; the index would otherwise hold hashes of what
redaction removed.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from .context import Context, Unit
from .projects import load_project
from .. import ids
from ..access import Action
from ..domain import search
from ..storage import search_store
from ..storage.search_store import HoldingBlock

log = logging.getLogger(__name__)

REINDEX_BATCH = 10_000


class TokenHashes:
    """A project's token hashes under one key (remembered in this process: ``domain.search.hash_tokens``)."""

    __slots__ = ("key", "key_id")

    def __init__(self, search_key: bytes, key_id: str) -> None:
        self.key = search_key
        self.key_id = key_id

    def __call__(self, token: bytes) -> bytes:
        return search.hash_tokens(self.key, (token,))[0]

    def many(self, tokens: Iterable[bytes]) -> list[bytes]:
        return search.hash_tokens(self.key, tokens)


def hashes_for(u: Unit, workspace_id: str, key_id: str) -> TokenHashes:
    return TokenHashes(u.sealer(workspace_id, key_id).search_key(), key_id)


@dataclass(frozen=True, slots=True)
class PreparedBlock:
    """A block ready to write: its id, ascending task ids (packed), range, size and bucket rows."""

    id: str
    task_ids: bytes
    first_id: str
    last_id: str
    size: int
    buckets: dict[int, bytes]
    pending: _Pending | None = None  # the helper process's promise of ``buckets``


def prepare_block(hashes: TokenHashes, task_ids: Sequence[str], tasks: Sequence[tuple[Any, Any]]) -> PreparedBlock:
    """The block of these tasks (``task_ids`` ascending, ``(data, meta)`` in the same order). CPU only."""
    texts = search.block_texts(tasks)
    buckets = search.block_buckets(hashes.key, texts, [meta for _, meta in tasks])
    return PreparedBlock(
        ids.new_id("blk"), search.pack_ids(task_ids), task_ids[0], task_ids[-1], len(task_ids), buckets
    )


class BlockMaker:
    """Makes an import's blocks: in this process, or — for a bulk import that asks for it (``bastion
    import``: the process's only job) — from its second batch on in one helper process, while this
    one parses and seals the next batch and the writer thread inserts the previous one. A block's
    CPU work is Python (the GIL: a thread would not overlap it), and during an import the second
    core is mostly idle. Small imports, and the server's (its memory is measured with its
    children), never start a process; if the helper fails, the block is made here."""

    def __init__(self, hashes: TokenHashes, *, helper: bool = False) -> None:
        self.hashes = hashes
        self.helper = helper
        self._pool: ProcessPoolExecutor | None = None
        self._made = 0

    def make(self, task_ids: Sequence[str], tasks: Sequence[tuple[Any, Any]]) -> PreparedBlock:
        self._made += 1
        if not self.helper or self._made < 2:
            return prepare_block(self.hashes, task_ids, tasks)
        texts = search.block_texts(tasks)
        metas = [meta for _, meta in tasks]
        key = self.hashes.key
        try:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            pending = self._pool.submit(search.block_buckets, key, texts, metas)
        except (OSError, RuntimeError, BrokenProcessPool) as exc:
            log.warning("no helper process for the import's search index (%s): made here", exc)
            self.helper = False
            return prepare_block(self.hashes, task_ids, tasks)
        return PreparedBlock(
            ids.new_id("blk"),
            search.pack_ids(task_ids),
            task_ids[0],
            task_ids[-1],
            len(task_ids),
            {},
            _Pending(pending, key, texts, metas),
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@dataclass(frozen=True, slots=True)
class _Pending:
    """A block's bucket rows the helper process is making (the inputs kept: made here if it fails)."""

    future: Future
    key: bytes
    texts: Sequence[str]
    metas: Sequence[Any]

    def result(self) -> dict[int, bytes]:
        try:
            return self.future.result()
        except (BrokenProcessPool, OSError) as exc:
            log.warning("the import's helper process failed (%s): this block is indexed here", exc)
            return search.block_buckets(self.key, self.texts, self.metas)


def store_block(
    w: Unit, workspace_id: str, project_id: str, block: PreparedBlock, *, import_id: str | None, key_id: str
) -> None:
    search_store.insert_block(
        w.tx,
        workspace_id,
        project_id,
        block.id,
        import_id=import_id,
        task_ids=block.task_ids,
        first_id=block.first_id,
        last_id=block.last_id,
        size=block.size,
        buckets=block.buckets if block.pending is None else block.pending.result(),
        now=w.now,
    )
    search_store.remember_key(w.tx, workspace_id, project_id, key_id)


def body_doc(body: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """What the index reads of a stored task payload ``{"data", "meta"?, …}``."""
    return body.get("data"), body.get("meta")


# -- tasks that change or go ------------------------------------------------------------------------


def forget_tasks(w: Unit, project, task_ids: Sequence[str]) -> None:
    """Mark the tasks dead in every block that names them (a block all dead goes)."""
    if not task_ids:
        return
    ws = project.workspace_id
    wanted = sorted(task_ids)
    for block in search_store.blocks_covering(w.tx, ws, project.id, wanted[0], wanted[-1]):
        _mark(w, project, block, wanted)


def _mark(w: Unit, project, block: HoldingBlock, wanted: list[str]) -> None:
    ordinals = [o for o in (search.id_ordinal(block.task_ids, t) for t in wanted) if o is not None]
    ordinals = [o for o in ordinals if not search.is_dead(block.dead, o)]
    if not ordinals:
        return
    dead = search.mark_dead(block.dead, block.size, ordinals)
    if search.all_dead(dead, block.size):
        search_store.delete_block(w.tx, project.workspace_id, project.id, block.id)
    else:
        search_store.set_dead(w.tx, project.workspace_id, project.id, block.id, dead)


def reindex_tasks(w: Unit, project, bodies: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Tasks whose payload changed: out of their old blocks, into a new one (``(task id, new body)``)."""
    if not bodies:
        return
    ordered = sorted(bodies, key=lambda item: item[0])
    forget_tasks(w, project, [task_id for task_id, _ in ordered])
    hashes = hashes_for(w, project.workspace_id, project.key_id)
    for start in range(0, len(ordered), search.MAX_BLOCK):
        chunk = ordered[start : start + search.MAX_BLOCK]
        block = prepare_block(hashes, [t for t, _ in chunk], [body_doc(body) for _, body in chunk])
        store_block(w, project.workspace_id, project.id, block, import_id=None, key_id=project.key_id)


# -- answers: labels and agreement -------------------------------------------------------------------


def label_answer(w: Unit, workspace_id: str, project_id: str, key_id: str, task_id: str, labels: Iterable[Any]) -> None:
    """A new answer's labels, added to the task's (hashed with the project's current key)."""
    tokens = [search.label_token(label) for label in labels]
    if not tokens:
        return
    hashes = hashes_for(w, workspace_id, key_id)
    search_store.add_labels(w.tx, workspace_id, project_id, [(hashes(t), task_id) for t in tokens])


def store_answers(w: Unit, project, answers: Sequence[tuple[str, Answers]], kept: set[str] | None) -> None:
    """Imported answers' labels and agreements, for the tasks that went in (``kept``: None for all)."""
    rows = [(task_id, found) for task_id, found in answers if kept is None or task_id in kept]
    if not rows:
        return
    ws = project.workspace_id
    hashes = hashes_for(w, ws, project.key_id)
    labels = [(hashes(search.label_token(label)), task_id) for task_id, found in rows for label in found.labels]
    search_store.add_labels(w.tx, ws, project.id, labels)
    search_store.set_agreements(
        w.tx, ws, [(task_id, found.agreement) for task_id, found in rows if found.agreement is not None]
    )


@dataclass(frozen=True, slots=True)
class Answers:
    """What a task's answers make of it: the labels its usable answers and corrections give, its agreement."""

    labels: list[Any]
    agreement: float | None


def answers_of(task_type, config, results: Sequence[dict], corrections: Sequence[dict], *, complete: bool) -> Answers:
    """``results``: the task's usable answers (not rejected, not gold); ``complete``: at its overlap."""
    labels: list[Any] = []
    for result in [*results, *corrections]:
        labels.extend(task_type.result_labels(config, result))
    agreement = task_type.task_agreement(config, results) if complete else None
    return Answers(list(dict.fromkeys(labels)), agreement)


def complete_task(w: Unit, found, task_type, config, result: dict) -> None:
    """A submit brought the task to its overlap: its answer's labels, and the task's agreement over
    its usable answers (the submit's hot path: one read of the task's answers, two writes)."""
    ws = found.workspace_id
    label_answer(w, ws, found.project_id, found.key_id, found.id, task_type.result_labels(config, result))
    sealer = w.sealer(ws, found.key_id)
    results = [
        sealer.open_json("annotations", row.id, "result", row.result)
        for row in search_store.task_answers(w.tx, ws, found.id)
        if row.review_status != "rejected"
    ]
    search_store.set_agreement(w.tx, ws, found.id, task_type.task_agreement(config, results))


def settle_answers(w: Unit, found, task_type, config) -> None:
    """Recompute a task's labels and agreement from its answers (after a submit that completed it, or a
    review decision). ``found``: the task's ``TaskRecord``."""
    ws = found.workspace_id
    sealer = w.sealer(ws, found.key_id)
    results, corrections = [], []
    for row in search_store.task_answers(w.tx, ws, found.id):
        if row.review_status == "rejected":
            continue
        results.append(sealer.open_json("annotations", row.id, "result", row.result))
    for review_id, blob in search_store.task_corrections(w.tx, ws, found.project_id, found.id):
        corrections.append(sealer.open_json("reviews", review_id, "correction", blob))
    count = search_store.annotation_count(w.tx, ws, found.id)
    complete = not found.is_gold and count >= found.overlap
    answers = answers_of(task_type, config, [] if found.is_gold else results, corrections, complete=complete)
    search_store.set_agreement(w.tx, ws, found.id, answers.agreement)
    search_store.delete_task_labels(w.tx, ws, found.id)
    label_answer(w, ws, found.project_id, found.key_id, found.id, answers.labels)


# -- rebuilding a project's index ------------------------------------------------------------------------


def reindex_project(ctx: Context, project_id: str, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Rebuild a project's whole index from its sealed rows, under its current key (owners and managers).

    In one transaction per batch of tasks after a first one that clears the index: a search
    meanwhile finds what is indexed so far; the project stays marked for reindexing until the
    last batch. Returns the counts: tasks, blocks, labelled tasks, tasks with an agreement.
    In this call's process, start to end (a key change runs it so); ``bastion task reindex``
    runs the same steps as a job (``services/job_kinds.py``: resumable, one batch a chunk).
    """
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_MANAGE)
        begin_reindex(w, project)
    counts = {"tasks": 0, "blocks": 0, "labelled": 0, "agreements": 0}
    after = ""
    while True:
        with ctx.write() as w:
            w.access.require(Action.TASK_MANAGE, project.workspace_id, what="project")
            batch = reindex_batch(w, project, after=after, limit=REINDEX_BATCH)
            if batch is None:
                end_reindex(w, project, counts)
                break
            add_counts(counts, batch)
            after = batch.last_id
        if progress:
            progress(batch.tasks)
    return counts


@dataclass(frozen=True, slots=True)
class ReindexBatch:
    """What one batch of a reindex did: its tasks, the last one's id, labelled tasks, agreements."""

    tasks: int
    last_id: str
    labelled: int
    agreements: int


def begin_reindex(w: Unit, project) -> None:
    """A reindex's first step: the project's index emptied, and the project marked until the last batch."""
    ws = project.workspace_id
    search_store.clear_index(w.tx, ws, project.id)
    search_store.mark_reindex(w.tx, ws, project.id, w.now)
    w.audit(ws, "search.reindex_started", project.id)


def reindex_batch(w: Unit, project, *, after: str, limit: int) -> ReindexBatch | None:
    """Index the project's next ``limit`` tasks after ``after`` (one block) with their answers' labels
    and agreements; None when no task is left. Nothing here is kept outside the transaction."""
    ws = project.workspace_id
    task_type = w.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    sealer = w.sealer(ws, project.key_id)
    hashes = hashes_for(w, ws, project.key_id)
    rows = search_store.task_bodies(w.tx, ws, project.id, after=after, limit=limit)
    if not rows:
        return None
    docs = [body_doc(sealer.open_json("tasks", row.id, "payload", row.payload)) for row in rows]
    block = prepare_block(hashes, [row.id for row in rows], docs)
    store_block(w, ws, project.id, block, import_id=None, key_id=project.key_id)
    labelled, agreed = _reindex_answers(w, project, task_type, config, rows, hashes)
    return ReindexBatch(len(rows), rows[-1].id, labelled, agreed)


def add_counts(counts: dict[str, int], batch: ReindexBatch) -> None:
    counts["tasks"] += batch.tasks
    counts["blocks"] += 1
    counts["labelled"] += batch.labelled
    counts["agreements"] += batch.agreements


def end_reindex(w: Unit, project, counts: dict[str, int]) -> None:
    """The last step: the project's reindex mark goes, the counts are audited."""
    search_store.clear_reindex(w.tx, project.workspace_id, project.id)
    w.audit(project.workspace_id, "search.reindexed", project.id, **counts)


def count_tasks(u: Unit, project) -> int:
    """How many tasks a reindex of the project goes through (canaries are not its tasks)."""
    return search_store.count_tasks(u.tx, project.workspace_id, project.id)


def _reindex_answers(w: Unit, project, task_type, config, rows, hashes: TokenHashes) -> tuple[int, int]:
    ws = project.workspace_id
    sealer = w.sealer(ws, project.key_id)
    results: dict[str, list[dict]] = {}
    for answer in search_store.answers_between(w.tx, ws, project.id, rows[0].id, rows[-1].id):
        if answer.review_status != "rejected":
            results.setdefault(answer.task_id, []).append(
                sealer.open_json("annotations", answer.id, "result", answer.result)
            )
    corrections: dict[str, list[dict]] = {}
    for task_id, review_id, blob in search_store.corrections_between(w.tx, ws, project.id, rows[0].id, rows[-1].id):
        corrections.setdefault(task_id, []).append(sealer.open_json("reviews", review_id, "correction", blob))
    labels: list[tuple[bytes, str]] = []
    agreements: list[tuple[str, float | None]] = []
    for row in rows:
        if row.id not in results and row.id not in corrections:
            if row.agreement is not None:
                agreements.append((row.id, None))
            continue
        complete = not row.is_gold and row.annotation_count >= project.settings.overlap
        answers = answers_of(
            task_type,
            config,
            [] if row.is_gold else results.get(row.id, []),
            corrections.get(row.id, []),
            complete=complete,
        )
        labels.extend((hashes(search.label_token(label)), row.id) for label in answers.labels)
        agreements.append((row.id, answers.agreement))
    search_store.add_labels(w.tx, ws, project.id, labels)
    search_store.set_agreements(w.tx, ws, agreements)
    return len({task_id for _, task_id in labels}), sum(1 for _, a in agreements if a is not None)
