"""Storage of need-to-know: the pseudonym vault, per-task redaction records, held items, canaries.

The vault maps (label, normalised value) to a number per project, so one value
has one pseudonym throughout the project. Its rows are found by ``key_hash`` —
an HMAC under a secret derived from the workspace's key
(``storage/workspace_secret.py``), never a bare hash of the value — and hold the
original value sealed with the project's data key.

Allocation is atomic: :func:`allocate` takes the ``pseudonym_counters`` rows of
the labels it needs, in label order (so two allocators never deadlock), then
looks the keys up again (on PostgreSQL another import may have committed them
while we waited), numbers only what is still missing and inserts it. Under the
counter row's lock nobody else can number that label, so a value never gets
two numbers and a number never names two values. SQLite serialises writers
anyway.

Every statement names ``workspace_id`` first (row-level security keys on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, insert, select, tuple_, update

from .. import ids
from . import schema
from .fast import Statement

V = schema.pseudonyms
VC = schema.pseudonym_counters
R = schema.task_redactions
T = schema.tasks
C = schema.canaries
CI = schema.canary_issues
LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class NewValue:
    key_hash: str
    label: str
    original: str


def find_numbers(tx, workspace_id: str, project_id: str, keys: Iterable[str]) -> dict[str, int]:
    """The numbers already bound to these keys (missing keys are absent from the answer)."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, int] = {}
    for i in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[i : i + LOOKUP_CHUNK]
        rows = tx.execute(
            select(V.c.key_hash, V.c.number).where(
                V.c.workspace_id == workspace_id, V.c.project_id == project_id, V.c.key_hash.in_(chunk))
        ).all()
        found.update({row.key_hash: row.number for row in rows})
    return found


def allocate(tx, sealer, workspace_id: str, project_id: str, values: Iterable[NewValue]) -> dict[str, int]:
    """Bind every value's key to a number (its existing one if already bound); returns key -> number."""
    wanted: dict[str, NewValue] = {}
    for value in values:
        wanted.setdefault(value.key_hash, value)
    if not wanted:
        return {}
    labels = sorted({v.label for v in wanted.values()})
    scope = (VC.c.workspace_id == workspace_id, VC.c.project_id == project_id)
    tx.dialect.insert_ignore(tx.conn, "pseudonym_counters", ("workspace_id", "project_id", "label", "last"),
                             [(workspace_id, project_id, label, 0) for label in labels],
                             ("workspace_id", "project_id", "label"))
    last: dict[str, int] = {}
    for label in labels:  # lock in a fixed order
        last[label] = tx.execute(
            update(VC).where(*scope, VC.c.label == label).values(last=VC.c.last).returning(VC.c.last)
        ).scalar_one()
    numbers = find_numbers(tx, workspace_id, project_id, wanted)
    rows = []
    for key, value in wanted.items():
        if key in numbers:
            continue
        last[value.label] += 1
        number = last[value.label]
        numbers[key] = number
        row_id = ids.new_id("pse")
        rows.append({
            "workspace_id": workspace_id, "id": row_id, "project_id": project_id, "key_hash": key,
            "label": value.label, "number": number, "created_at": tx.now,
            "original": sealer.seal("pseudonyms", row_id, "original", value.original.encode("utf-8")),
        })
    if rows:
        tx.execute(insert(V), rows)
        for label in labels:
            tx.execute(update(VC).where(*scope, VC.c.label == label).values(last=last[label]))
    return numbers


def find_originals(tx, sealer, workspace_id: str, project_id: str, tokens: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The original values behind ``(label, number)`` pseudonyms (owner-only: the caller decides)."""
    tokens = list(dict.fromkeys(tokens))
    out: dict[tuple[str, int], str] = {}
    for i in range(0, len(tokens), LOOKUP_CHUNK):
        chunk = tokens[i : i + LOOKUP_CHUNK]
        rows = tx.execute(
            select(V.c.id, V.c.label, V.c.number, V.c.original).where(
                V.c.workspace_id == workspace_id, V.c.project_id == project_id,
                tuple_(V.c.label, V.c.number).in_(chunk))
        ).all()
        for row in rows:
            out[(row.label, row.number)] = sealer.open("pseudonyms", row.id, "original", row.original).decode("utf-8")
    return out


def count_pseudonyms(tx, workspace_id: str, project_id: str) -> dict[str, int]:
    rows = tx.execute(
        select(V.c.label, func.count()).where(V.c.workspace_id == workspace_id, V.c.project_id == project_id)
        .group_by(V.c.label)
    ).all()
    return {label: int(n) for label, n in rows}


# -- per-task records ---------------------------------------------------------------

_INSERT_RECORD = (
    "INSERT INTO task_redactions (workspace_id, id, project_id, record, created_at) "
    "SELECT {values} WHERE EXISTS (SELECT 1 FROM tasks WHERE workspace_id = :ws AND id = :id) "
    "AND NOT EXISTS (SELECT 1 FROM task_redactions WHERE workspace_id = :ws AND id = :id)"
)
INSERT_RECORD_IF_TASK = Statement(
    _INSERT_RECORD.format(values=":ws, :id, :project, :record, :now"),
    postgresql=_INSERT_RECORD.format(
        values="CAST(:ws AS varchar), CAST(:id AS varchar), CAST(:project AS varchar), CAST(:record AS bytea), "
               "CAST(:now AS bigint)"),
)


def insert_records(tx, workspace_id: str, project_id: str, records: Mapping[str, bytes]) -> None:
    """Store sealed records for the tasks of a batch that were inserted (duplicates have no row)."""
    if records:
        INSERT_RECORD_IF_TASK.many(tx, [
            {"ws": workspace_id, "id": task_id, "project": project_id, "record": blob, "now": tx.now}
            for task_id, blob in records.items()
        ])


def records_between(tx, workspace_id: str, project_id: str, first: str, last: str) -> list[tuple[str, bytes]]:
    return [tuple(r) for r in tx.execute(
        select(R.c.id, R.c.record).where(R.c.workspace_id == workspace_id, R.c.project_id == project_id,
                                         R.c.id >= first, R.c.id <= last)
    ).all()]


def record_of(tx, workspace_id: str, task_id: str) -> bytes | None:
    return tx.execute(select(R.c.record).where(R.c.workspace_id == workspace_id, R.c.id == task_id)).scalar()


# -- task flags (held, canary) on the hot path -------------------------------------

TASK_FLAGS = Statement("SELECT held, is_canary, gold FROM tasks WHERE workspace_id = :ws AND id = :id")


def task_flags(tx, workspace_id: str, task_id: str) -> tuple[bool, bool, bytes | None]:
    row = TASK_FLAGS.one(tx, ws=workspace_id, id=task_id)
    if row is None:
        return False, False, None
    return bool(row[0]), bool(row[1]), row[2]


def held_tasks(tx, workspace_id: str, project_id: str, after: str, limit: int) -> list:
    return tx.execute(
        select(T.c.id, T.c.created_at).where(T.c.workspace_id == workspace_id, T.c.project_id == project_id,
                                             T.c.held.is_(True), T.c.id > after)
        .order_by(T.c.id).limit(limit)
    ).all()


def release_task(tx, workspace_id: str, task_id: str, overlap: int) -> bool:
    """Un-hold a task; it enters the queue unless it already has all its annotations."""
    return bool(tx.execute(
        update(T).where(T.c.workspace_id == workspace_id, T.c.id == task_id, T.c.held.is_(True))
        .values(held=False, done=T.c.annotation_count >= overlap)
    ).rowcount)


# -- canaries -----------------------------------------------------------------------

def approved_canaries(tx, workspace_id: str, project_id: str) -> list[str]:
    return list(tx.execute(
        select(C.c.id).where(C.c.workspace_id == workspace_id, C.c.project_id == project_id, C.c.state == "approved")
        .order_by(C.c.id)
    ).scalars())


NEXT_CANARY = Statement(
    "SELECT c.id FROM canaries c WHERE c.workspace_id = :ws AND c.project_id = :project AND c.state = 'approved' "
    "AND NOT EXISTS (SELECT 1 FROM canary_issues i WHERE i.workspace_id = c.workspace_id AND i.canary_id = c.id "
    "AND i.user_id = :user) "
    "AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.workspace_id = c.workspace_id AND a.task_id = c.id "
    "AND a.user_id = :user) ORDER BY c.id LIMIT 1"
)
ISSUE_CANARY = Statement(
    "INSERT INTO canary_issues (workspace_id, id, project_id, canary_id, user_id, issued_at) "
    "VALUES (:ws, :id, :project, :canary, :user, :now)"
)
ANSWER_CANARY = Statement(
    "UPDATE canary_issues SET answered_at = :now, result = :result "
    "WHERE workspace_id = :ws AND canary_id = :canary AND user_id = :user AND answered_at IS NULL"
)
ISSUE_OF = Statement(
    "SELECT id, issued_at, answered_at, result FROM canary_issues WHERE workspace_id = :ws AND canary_id = :canary "
    "AND user_id = :user"
)


def recipients_of_canaries(tx, workspace_id: str, canary_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {c: [] for c in canary_ids}
    if canary_ids:
        rows = tx.execute(select(CI.c.canary_id, CI.c.user_id).where(
            CI.c.workspace_id == workspace_id, CI.c.canary_id.in_(canary_ids)).order_by(CI.c.id)).all()
        for canary_id, user_id in rows:
            out[canary_id].append(user_id)
    return out


# -- who was shown what (for tracing) -------------------------------------------------

def viewers_of(tx, workspace_id: str, project_id: str, task_ids: list[str]) -> dict[str, set[str]]:
    """People shown each task: leases (every state), reads by id, reviews, listings whose page covered it.

    The record is the assignments table and the audit log (``task.shown``,
    ``task.read``, ``review.shown`` of its annotations, ``tasks.listed`` with the
    page's first and last ids), written in the same transaction as the showing.
    """
    import orjson

    A = schema.assignments
    E = schema.audit_events
    seen: dict[str, set[str]] = {t: set() for t in task_ids}
    if not task_ids:
        return seen
    for task_id, user_id in tx.execute(select(A.c.task_id, A.c.user_id).where(
            A.c.workspace_id == workspace_id, A.c.task_id.in_(task_ids))).all():
        seen[task_id].add(user_id)
    for target, actor in tx.execute(select(E.c.target, E.c.actor).where(
            E.c.workspace_id == workspace_id, E.c.target.in_(task_ids),
            E.c.action.in_(("task.shown", "task.read")))).all():
        seen[target].add(actor)
    N = schema.annotations
    reviewed = dict(tx.execute(select(N.c.id, N.c.task_id).where(
        N.c.workspace_id == workspace_id, N.c.task_id.in_(task_ids))).all())
    if reviewed:
        for target, actor in tx.execute(select(E.c.target, E.c.actor).where(
                E.c.workspace_id == workspace_id, E.c.target.in_(list(reviewed)),
                E.c.action == "review.shown")).all():
            seen[reviewed[target]].add(actor)
    low, high = min(task_ids), max(task_ids)
    for actor, leaf in tx.execute(select(E.c.actor, E.c.leaf).where(
            E.c.workspace_id == workspace_id, E.c.target == project_id, E.c.action == "tasks.listed")).all():
        details = orjson.loads(leaf).get("details") or {}
        first, last = details.get("first"), details.get("last")
        if not first or not last or last < low or first > high:
            continue
        for task_id in task_ids:
            if first <= task_id <= last:
                seen[task_id].add(actor)
    for users in seen.values():
        users.discard("system")
    return seen


__all__ = [
    "NewValue",
    "allocate",
    "approved_canaries",
    "find_numbers",
    "find_originals",
    "held_tasks",
    "insert_records",
    "recipients_of_canaries",
    "record_of",
    "records_between",
    "release_task",
    "task_flags",
    "viewers_of",
]
