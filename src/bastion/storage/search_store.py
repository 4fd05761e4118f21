"""The search index's storage: posting blocks, label rows, the keys they were hashed under.

Nothing here is plaintext: token hashes, task ids, ordinals (``domain/search.py`` says
how they are encoded, docs/security.md what they reveal). A block's postings live in at
most 256 rows keyed by the first byte of the token hash (``bucket``): a query term reads
the rows of its bucket, one per block. Blocks carry no foreign key from their postings
(a block goes with its postings, deleted here together); everything goes with its
project by cascade.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import delete, func, insert, select, update

from . import schema
from .database import Tx
from .fast import Statement
from ..domain.search import ID_BYTES, BlockIds, BlockInfo

B = schema.search_blocks
P = schema.search_postings
L = schema.search_labels
K = schema.search_keys
X = schema.search_reindex
T = schema.tasks

ALL_BUCKETS = tuple(range(256))


# -- blocks -------------------------------------------------------------------------------------


def insert_block(
    tx: Tx,
    workspace_id: str,
    project_id: str,
    block_id: str,
    *,
    import_id: str | None,
    task_ids: bytes,
    first_id: str,
    last_id: str,
    size: int,
    buckets: dict[int, bytes],
    now: int,
) -> None:
    """One block: its id list and its bucket rows."""
    tx.execute(
        insert(B).values(
            workspace_id=workspace_id,
            project_id=project_id,
            id=block_id,
            import_id=import_id,
            first_id=first_id,
            last_id=last_id,
            size=size,
            task_ids=task_ids,
            dead=None,
            created_at=now,
        )
    )
    if buckets:
        tx.execute(
            insert(P),
            [
                {
                    "workspace_id": workspace_id,
                    "project_id": project_id,
                    "bucket": b,
                    "block_id": block_id,
                    "postings": blob,
                }
                for b, blob in sorted(buckets.items())
            ],
        )


def list_blocks(tx: Tx, workspace_id: str, project_id: str) -> list[BlockInfo]:
    """Every block of the project (id, first and last task id, size): a few hundred rows at a million tasks."""
    rows = tx.execute(
        select(B.c.id, B.c.first_id, B.c.last_id, B.c.size).where(
            B.c.workspace_id == workspace_id, B.c.project_id == project_id
        )
    ).all()
    return [BlockInfo(*row) for row in rows]


# Up to this many ids of a block are read one by one (16 bytes each); more, and the whole list.
PICK_AT_MOST = 64


def block_ids(tx: Tx, workspace_id: str, project_id: str, block_id: str, ordinals: list[int] | None = None) -> BlockIds:
    """A block's ids — of ``ordinals`` only (ascending, a few: ``substr`` of the list), or all — and its
    dead bitmap."""
    where = (B.c.workspace_id == workspace_id, B.c.project_id == project_id, B.c.id == block_id)
    if ordinals is None or len(ordinals) > PICK_AT_MOST:
        row = tx.execute(select(B.c.task_ids, B.c.dead).where(*where)).one()
        return BlockIds(row.task_ids, row.dead)
    picks = [func.substr(B.c.task_ids, ID_BYTES * o + 1, ID_BYTES) for o in ordinals]
    row = tx.execute(select(B.c.dead, *picks).where(*where)).one()
    return BlockIds(b"".join(bytes(part) for part in row[1:]), row[0], ordinals)


class HoldingBlock(NamedTuple):
    """A block whose id range covers some task: to mark the task dead in it."""

    id: str
    size: int
    task_ids: bytes
    dead: bytes | None


def blocks_covering(tx: Tx, workspace_id: str, project_id: str, low: str, high: str) -> list[HoldingBlock]:
    """The blocks whose id range meets [low, high], with their id lists."""
    rows = tx.execute(
        select(B.c.id, B.c.size, B.c.task_ids, B.c.dead).where(
            B.c.workspace_id == workspace_id,
            B.c.project_id == project_id,
            B.c.first_id <= high,
            B.c.last_id >= low,
        )
    ).all()
    return [HoldingBlock(*row) for row in rows]


def set_dead(tx: Tx, workspace_id: str, project_id: str, block_id: str, dead: bytes) -> None:
    tx.execute(
        update(B)
        .where(B.c.workspace_id == workspace_id, B.c.project_id == project_id, B.c.id == block_id)
        .values(dead=dead)
    )


def delete_block(tx: Tx, workspace_id: str, project_id: str, block_id: str) -> None:
    """A block and its bucket rows (``bucket IN`` every bucket: the key's prefix, so no scan)."""
    tx.execute(
        delete(P).where(
            P.c.workspace_id == workspace_id,
            P.c.project_id == project_id,
            P.c.bucket.in_(ALL_BUCKETS),
            P.c.block_id == block_id,
        )
    )
    tx.execute(delete(B).where(B.c.workspace_id == workspace_id, B.c.project_id == project_id, B.c.id == block_id))


def postings_in(tx: Tx, workspace_id: str, project_id: str, buckets: Iterable[int]) -> dict[tuple[int, str], bytes]:
    """The bucket rows of these buckets, every block: {(bucket, block id): blob}."""
    rows = tx.execute(
        select(P.c.bucket, P.c.block_id, P.c.postings).where(
            P.c.workspace_id == workspace_id, P.c.project_id == project_id, P.c.bucket.in_(sorted(set(buckets)))
        )
    ).all()
    return {(row.bucket, row.block_id): row.postings for row in rows}


def clear_index(tx: Tx, workspace_id: str, project_id: str) -> None:
    """The project's whole index (before a reindex): blocks, postings, label rows, keys, the reindex mark."""
    for table in (P, B, K, X):
        tx.execute(delete(table).where(table.c.workspace_id == workspace_id, table.c.project_id == project_id))
    tx.execute(delete(L).where(L.c.workspace_id == workspace_id, L.c.project_id == project_id))


class ImportSummary(NamedTuple):
    """One import call as the index recorded it: its id, when its first block went in, its tasks."""

    import_id: str
    first_at: int
    tasks: int
    first_id: str
    last_id: str


def list_imports(tx: Tx, workspace_id: str, project_id: str) -> list[ImportSummary]:
    """The project's imports (those recorded in blocks), newest first."""
    rows = tx.execute(
        select(
            B.c.import_id,
            func.min(B.c.created_at),
            func.sum(B.c.size),
            func.min(B.c.first_id),
            func.max(B.c.last_id),
        )
        .where(B.c.workspace_id == workspace_id, B.c.project_id == project_id, B.c.import_id.is_not(None))
        .group_by(B.c.import_id)
        .order_by(func.min(B.c.created_at).desc())
    ).all()
    return [ImportSummary(*row) for row in rows]


def import_range(tx: Tx, workspace_id: str, project_id: str, import_id: str) -> tuple[str, str] | None:
    """The lowest and highest task id of an import's blocks (its tasks lie between), or None."""
    row = tx.execute(
        select(func.min(B.c.first_id), func.max(B.c.last_id)).where(
            B.c.workspace_id == workspace_id, B.c.project_id == project_id, B.c.import_id == import_id
        )
    ).one()
    return None if row[0] is None else (row[0], row[1])


# -- keys -------------------------------------------------------------------------------------------

_REMEMBER_KEY = Statement(
    "INSERT INTO search_keys (workspace_id, project_id, key_id) VALUES (:ws, :project, :key) "
    "ON CONFLICT (workspace_id, project_id, key_id) DO NOTHING"
)


def remember_key(tx: Tx, workspace_id: str, project_id: str, key_id: str) -> None:
    _REMEMBER_KEY.run(tx, ws=workspace_id, project=project_id, key=key_id)


_REMEMBER_PROJECT_KEY = Statement(
    "INSERT INTO search_keys (workspace_id, project_id, key_id) "
    "SELECT workspace_id, id, key_id FROM projects WHERE workspace_id = :ws AND id = :project "
    "ON CONFLICT (workspace_id, project_id, key_id) DO NOTHING"
)


def remember_project_key(tx: Tx, workspace_id: str, project_id: str) -> None:
    """Remember the project's current key (before it gets a new one: what was hashed under it stays findable)."""
    _REMEMBER_PROJECT_KEY.run(tx, ws=workspace_id, project=project_id)


def list_keys(tx: Tx, workspace_id: str, project_id: str) -> list[str]:
    return list(
        tx.execute(select(K.c.key_id).where(K.c.workspace_id == workspace_id, K.c.project_id == project_id))
        .scalars()
        .all()
    )


# -- labels ------------------------------------------------------------------------------------------

_ADD_LABEL = Statement(
    "INSERT INTO search_labels (workspace_id, project_id, token, task_id) VALUES (:ws, :project, :token, :task) "
    "ON CONFLICT (workspace_id, project_id, token, task_id) DO NOTHING"
)
_DELETE_LABELS = Statement("DELETE FROM search_labels WHERE workspace_id = :ws AND task_id = :task")


def add_labels(tx: Tx, workspace_id: str, project_id: str, rows: Sequence[tuple[bytes, str]]) -> None:
    """(token hash, task id) rows; those already there are left."""
    if rows:
        _ADD_LABEL.defer_many(
            tx, [{"ws": workspace_id, "project": project_id, "token": t, "task": task} for t, task in rows]
        )


def labelled_task_ids(
    tx: Tx, workspace_id: str, project_id: str, tokens: Sequence[bytes], *, after: str, limit: int
) -> list[str]:
    """Up to ``limit`` ids of the project's tasks with one of these label hashes (one label under each
    key), after ``after``, ascending, each once (the primary key's order for one token)."""
    rows = tx.execute(
        select(L.c.task_id)
        .where(
            L.c.workspace_id == workspace_id,
            L.c.project_id == project_id,
            L.c.token.in_(list(tokens)),
            L.c.task_id > after,
        )
        .group_by(L.c.task_id)
        .order_by(L.c.task_id)
        .limit(limit)
    ).all()
    return [row.task_id for row in rows]


def delete_task_labels(tx: Tx, workspace_id: str, task_id: str) -> None:
    _DELETE_LABELS.run(tx, ws=workspace_id, task=task_id)


# -- agreement, reindex marks ---------------------------------------------------------------------------

_SET_AGREEMENT = Statement("UPDATE tasks SET agreement = :value WHERE workspace_id = :ws AND id = :id")


def set_agreement(tx: Tx, workspace_id: str, task_id: str, value: float | None) -> None:
    _SET_AGREEMENT.run(tx, ws=workspace_id, id=task_id, value=value)


def set_agreements(tx: Tx, workspace_id: str, values: Sequence[tuple[str, float | None]]) -> None:
    if values:
        _SET_AGREEMENT.many(tx, [{"ws": workspace_id, "id": task_id, "value": value} for task_id, value in values])


def reindex_needed_since(tx: Tx, workspace_id: str, project_id: str) -> int | None:
    """When the project was marked as holding tasks the index lacks (None: it holds them all)."""
    return tx.execute(
        select(X.c.since).where(X.c.workspace_id == workspace_id, X.c.project_id == project_id)
    ).scalar_one_or_none()


def mark_reindex(tx: Tx, workspace_id: str, project_id: str, now: int) -> None:
    tx.execute(insert(X).values(workspace_id=workspace_id, project_id=project_id, since=now))


def clear_reindex(tx: Tx, workspace_id: str, project_id: str) -> None:
    tx.execute(delete(X).where(X.c.workspace_id == workspace_id, X.c.project_id == project_id))


# -- what the index is made from (reindexing, answers settled after a submit or review) -----------------

A = schema.annotations
R = schema.reviews


class TaskBody(NamedTuple):
    """A task as a reindex reads it (``payload`` sealed)."""

    id: str
    payload: bytes
    annotation_count: int
    is_gold: bool
    agreement: float | None


def task_bodies(tx: Tx, workspace_id: str, project_id: str, *, after: str, limit: int) -> list[TaskBody]:
    """The project's tasks after ``after`` in id order (canaries are not the project's tasks)."""
    rows = tx.execute(
        select(T.c.id, T.c.payload, T.c.annotation_count, T.c.is_gold, T.c.agreement)
        .where(
            T.c.workspace_id == workspace_id,
            T.c.project_id == project_id,
            T.c.id > after,
            T.c.is_canary.is_(False),
        )
        .order_by(T.c.id)
        .limit(limit)
    ).all()
    return [TaskBody(row.id, row.payload, row.annotation_count, bool(row.is_gold), row.agreement) for row in rows]


def count_tasks(tx: Tx, workspace_id: str, project_id: str) -> int:
    """How many tasks ``task_bodies`` goes through (the project's, canaries left out)."""
    return int(
        tx.execute(
            select(func.count())
            .select_from(T)
            .where(T.c.workspace_id == workspace_id, T.c.project_id == project_id, T.c.is_canary.is_(False))
        ).scalar_one()
    )


class AnswerRow(NamedTuple):
    id: str
    task_id: str
    result: bytes
    review_status: str


TASK_ANSWERS = Statement(
    "SELECT id, task_id, result, review_status FROM annotations WHERE workspace_id = :ws AND task_id = :task"
)


def task_answers(tx: Tx, workspace_id: str, task_id: str) -> list[AnswerRow]:
    """A task's annotations, sealed (the submit that completes a task reads them: on the driver)."""
    return [
        AnswerRow(row[0], row[1], bytes(row[2]), row[3]) for row in TASK_ANSWERS.rows(tx, ws=workspace_id, task=task_id)
    ]


def answers_between(tx: Tx, workspace_id: str, project_id: str, low: str, high: str) -> list[AnswerRow]:
    """The annotations of the project's tasks with ids from ``low`` to ``high`` (ix_annotations_project_task)."""
    rows = tx.execute(
        select(A.c.id, A.c.task_id, A.c.result, A.c.review_status).where(
            A.c.workspace_id == workspace_id,
            A.c.project_id == project_id,
            A.c.task_id >= low,
            A.c.task_id <= high,
        )
    ).all()
    return [AnswerRow(*row) for row in rows]


def task_corrections(tx: Tx, workspace_id: str, project_id: str, task_id: str) -> list[tuple[str, bytes]]:
    """(review id, sealed correction) of the task's corrections."""
    rows = tx.execute(
        select(R.c.id, R.c.correction).where(
            R.c.workspace_id == workspace_id,
            R.c.project_id == project_id,
            R.c.task_id == task_id,
            R.c.correction.is_not(None),
        )
    ).all()
    return [(row.id, row.correction) for row in rows]


def corrections_between(
    tx: Tx, workspace_id: str, project_id: str, low: str, high: str
) -> list[tuple[str, str, bytes]]:
    """(task id, review id, sealed correction) for the project's tasks from ``low`` to ``high``."""
    rows = tx.execute(
        select(R.c.task_id, R.c.id, R.c.correction).where(
            R.c.workspace_id == workspace_id,
            R.c.project_id == project_id,
            R.c.task_id >= low,
            R.c.task_id <= high,
            R.c.correction.is_not(None),
        )
    ).all()
    return [(row.task_id, row.id, row.correction) for row in rows]


def annotation_count(tx: Tx, workspace_id: str, task_id: str) -> int:
    found = tx.execute(
        select(T.c.annotation_count).where(T.c.workspace_id == workspace_id, T.c.id == task_id)
    ).scalar_one_or_none()
    return int(found or 0)
