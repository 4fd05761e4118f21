"""The data browser's query: a page of a project's tasks by clear columns, in one of a few orders.

What the search index finds (task ids) comes in as ``ids``; everything else is a
condition on clear columns (state, gold, priority, counters, agreement, import, dates)
or on the rows beside the task (its annotations' authors and review states, its
labels' keyed hashes). Every page is a keyset page: ``after`` is the last row's sort
value and id, so a page costs the same at any depth wherever an index serves the order
(id: the primary key and ix_tasks_project; agreement: ix_tasks_agreement). Ordering by
priority or by annotation count has no index (one would slow every import): those
orders read the project's matching tasks once per page.

The traps: keep a range on ``id`` in every query that scans (SQLite and PostgreSQL then stay
on ix_tasks_project instead of walking the workspace's primary key) — but never beside a list
of ids, which must be looked up by key; and never let a canary in (they are not the
project's tasks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql import ColumnElement

from . import schema
from .database import Tx

T = schema.tasks
A = schema.annotations
L = schema.search_labels

SORTS = ("id", "priority", "annotations", "agreement")


class BrowseRow(NamedTuple):
    """A task as the data browser lists it (``payload``, ``predictions``, ``gold``: sealed)."""

    workspace_id: str
    id: str
    project_id: str
    payload: bytes
    predictions: bytes | None
    gold: bytes | None
    is_gold: bool
    priority: int
    annotation_count: int
    done: bool
    created_at: int
    held: bool
    is_canary: bool
    import_id: str | None
    agreement: float | None


_COLUMNS = [getattr(T.c, name) for name in BrowseRow._fields]


class Where(NamedTuple):
    """The conditions on clear columns and neighbouring rows; every given one must hold.

    ``state``: open | done | held | gold (None: every task but held ones); ``labels``: for each
    label asked for, its keyed hashes (one per key the index was written under).
    """

    state: str | None = None
    gold: bool | None = None
    annotator_id: str | None = None
    review: str | None = None
    labels: tuple[tuple[bytes, ...], ...] = ()
    agreement_below: float | None = None
    import_id: str | None = None
    id_from: str = ""
    id_to: str | None = None
    created_from: int | None = None
    created_to: int | None = None


def _conditions(workspace_id: str, project_id: str, where: Where) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [
        T.c.workspace_id == workspace_id,
        T.c.project_id == project_id,
        T.c.is_canary.is_(False),
    ]
    if where.state == "held":
        out.append(T.c.held.is_(True))
    else:
        out.append(T.c.held.is_(False))
        if where.state == "open":
            out.append(T.c.done.is_(False))
        elif where.state == "done":
            out += [T.c.done.is_(True), T.c.is_gold.is_(False)]
        elif where.state == "gold":
            out.append(T.c.is_gold.is_(True))
    if where.gold is not None:
        out.append(T.c.is_gold.is_(where.gold))
    if where.agreement_below is not None:
        out.append(T.c.agreement < where.agreement_below)
    if where.import_id is not None:
        out.append(T.c.import_id == where.import_id)
    if where.id_to is not None:
        out.append(T.c.id <= where.id_to)
    if where.created_from is not None:
        out.append(T.c.created_at >= where.created_from)
    if where.created_to is not None:
        out.append(T.c.created_at <= where.created_to)
    if where.annotator_id is not None or where.review is not None:
        mine = [A.c.workspace_id == T.c.workspace_id, A.c.task_id == T.c.id]
        if where.annotator_id is not None:
            mine.append(A.c.user_id == where.annotator_id)
        if where.review is not None:
            mine.append(A.c.review_status == where.review)
        out.append(exists().where(*mine))
    for hashes in where.labels:
        out.append(
            T.c.id.in_(
                select(L.c.task_id).where(
                    L.c.workspace_id == workspace_id, L.c.project_id == project_id, L.c.token.in_(hashes)
                )
            )
        )
    return out


def _order(sort: str) -> tuple[Any, list[Any]]:
    """The sort column (None for id) and the ORDER BY clause."""
    if sort == "priority":
        return T.c.priority, [T.c.priority.desc(), T.c.id]
    if sort == "annotations":
        return T.c.annotation_count, [T.c.annotation_count.desc(), T.c.id]
    if sort == "agreement":
        return T.c.agreement, [T.c.agreement, T.c.id]
    return None, [T.c.id]


def _after(sort: str, value: Any, after_id: str) -> ColumnElement[bool]:
    """Rows after (``value``, ``after_id``) in the sort's order."""
    column, _ = _order(sort)
    if column is None:
        return T.c.id > after_id
    if sort == "agreement":  # ascending
        return or_(column > value, and_(column == value, T.c.id > after_id))
    return or_(column < value, and_(column == value, T.c.id > after_id))


def page(
    tx: Tx,
    workspace_id: str,
    project_id: str,
    where: Where,
    *,
    sort: str = "id",
    after: tuple[Any, str] | None = None,
    ids: Sequence[str] | None = None,
    limit: int,
) -> list[BrowseRow]:
    """Up to ``limit`` matching tasks in the sort's order after ``after`` (``ids``: only these)."""
    conditions = _conditions(workspace_id, project_id, where)
    if ids is None:
        conditions.append(T.c.id >= where.id_from)  # always a range on id (see the module's trap)
    else:
        # Only these: looked up by the primary key. A range on id here would let the planner walk
        # the project's ids and test each against the list (a million rows for a rare word).
        conditions.append(T.c.id.in_(list(ids)))
    if sort == "agreement":
        conditions.append(T.c.agreement.is_not(None))
    if after is not None:
        conditions.append(_after(sort, after[0], after[1]))
    _, order = _order(sort)
    rows = tx.execute(select(*_COLUMNS).where(*conditions).order_by(*order).limit(limit)).all()
    return [BrowseRow._make(row) for row in rows]


def sort_value(row: BrowseRow, sort: str) -> Any:
    if sort == "priority":
        return row.priority
    if sort == "annotations":
        return row.annotation_count
    if sort == "agreement":
        return row.agreement
    return None


class Person(NamedTuple):
    """One of the workspace's people: the annotator filter's choices."""

    user_id: str
    email: str
    name: str


def workspace_people(tx: Tx, workspace_id: str) -> list[Person]:
    """The workspace's members and its external annotators (of imported work), by name."""
    U = schema.users
    M = schema.memberships
    E = schema.external_annotators
    members = select(U.c.id, U.c.email, U.c.name).join(M, M.c.user_id == U.c.id).where(M.c.workspace_id == workspace_id)
    externals = (
        select(U.c.id, U.c.email, U.c.name).join(E, E.c.user_id == U.c.id).where(E.c.workspace_id == workspace_id)
    )
    rows = tx.execute(members.union(externals)).all()
    return sorted((Person(*row) for row in rows), key=lambda p: (p.name.lower(), p.email))
