"""Pay's rows (``schema.pay_*``) and the annotation metadata pay reads; every function takes ``workspace_id``.

A frozen statement (approved or locked) refuses change here as well as in the service: every
update names the status it expects and raises ``StatementLocked`` when the row is no longer in
it, and lines are written only with the freeze that stores them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, insert, select, update

from . import schema
from .database import Tx
from ..domain.pay import Line, Rate, StatementLocked, Work

S, R, ST, L = schema.pay_settings, schema.pay_rates, schema.pay_statements, schema.pay_lines
A, RV, P = schema.annotations, schema.reviews, schema.projects


class SettingsRow(NamedTuple):
    workspace_id: str
    currency: str
    bonus_threshold: float | None
    bonus_min_gold: int
    bonus_amount: int
    updated_by: str | None
    updated_at: int


class StatementRow(NamedTuple):
    workspace_id: str
    id: str
    user_id: str
    period_start: int
    period_end: int
    status: str
    currency: str
    total: int | None
    created_by: str | None
    created_at: int
    approved_by: str | None
    approved_at: int | None
    locked_by: str | None
    locked_at: int | None


_SETTINGS = [getattr(S.c, n) for n in SettingsRow._fields]
_STATEMENT = [getattr(ST.c, n) for n in StatementRow._fields]
_LINE = [L.c.kind, L.c.amount, L.c.annotation_id, L.c.project_id, L.c.review_id, L.c.annotated_at, L.c.active_ms]
_LINE += [L.c.task_amount, L.c.hour_amount, L.c.note]
_RATE = [R.c.id, R.c.project_id, R.c.task_type, R.c.per_task, R.c.per_hour, R.c.effective_from, R.c.created_at]


# -- settings and rates -------------------------------------------------------------------------------


def find_settings(tx: Tx, workspace_id: str) -> SettingsRow | None:
    row = tx.execute(select(*_SETTINGS).where(S.c.workspace_id == workspace_id)).first()
    return None if row is None else SettingsRow._make(row)


def save_settings(tx: Tx, row: SettingsRow) -> None:
    values = row._asdict()
    done = tx.execute(update(S).where(S.c.workspace_id == row.workspace_id).values(**values))
    if not done.rowcount:
        tx.execute(insert(S).values(**values))


def insert_rate(tx: Tx, workspace_id: str, rate: Rate, created_by: str | None) -> None:
    values = {
        "workspace_id": workspace_id,
        "id": rate.id,
        "project_id": rate.project_id,
        "task_type": rate.task_type,
        "per_task": rate.per_task,
        "per_hour": rate.per_hour,
        "effective_from": rate.effective_from,
        "created_by": created_by,
        "created_at": rate.created_at,
    }
    tx.execute(insert(R).values(**values))


def list_rates(tx: Tx, workspace_id: str) -> list[tuple[Rate, str | None]]:
    """Every rate of the workspace (its history), with who set it, oldest first."""
    rows = tx.execute(
        select(*_RATE, R.c.created_by)
        .where(R.c.workspace_id == workspace_id)
        .order_by(R.c.effective_from, R.c.created_at, R.c.id)
    ).all()
    return [(Rate(*row[:7]), row[7]) for row in rows]


# -- statements ---------------------------------------------------------------------------------------


def insert_statement(tx: Tx, row: StatementRow) -> None:
    tx.execute(insert(ST).values(**row._asdict()))


def find_statement(tx: Tx, statement_id: str, *, workspace_ids: Collection[str] | None) -> StatementRow | None:
    """The statement with this id, looked for only in ``workspace_ids`` (None: every workspace, the operator)."""
    query = select(*_STATEMENT).where(ST.c.id == statement_id)
    if workspace_ids is not None:
        query = query.where(ST.c.workspace_id.in_(list(workspace_ids)))
    row = tx.execute(query).first()
    return None if row is None else StatementRow._make(row)


def list_statements(
    tx: Tx, workspace_id: str, *, user_id: str | None = None, status: str | None = None
) -> list[StatementRow]:
    query = select(*_STATEMENT).where(ST.c.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(ST.c.user_id == user_id)
    if status is not None:
        query = query.where(ST.c.status == status)
    rows = tx.execute(query.order_by(ST.c.user_id, ST.c.period_start)).all()
    return [StatementRow._make(r) for r in rows]


def overlapping(tx: Tx, workspace_id: str, user_id: str, start: int, end: int) -> str | None:
    """The id of a statement of the person whose period overlaps ``[start, end)``."""
    return tx.execute(
        select(ST.c.id).where(
            ST.c.workspace_id == workspace_id,
            ST.c.user_id == user_id,
            ST.c.period_start < end,
            ST.c.period_end > start,
        )
    ).scalar()


def delete_draft(tx: Tx, workspace_id: str, statement_id: str) -> None:
    done = tx.execute(
        delete(ST).where(ST.c.workspace_id == workspace_id, ST.c.id == statement_id, ST.c.status == "draft")
    )
    if not done.rowcount:
        raise StatementLocked("this statement is approved or locked: it cannot be deleted")


def freeze(tx: Tx, workspace_id: str, statement_id: str, lines: Sequence[Line], *, by: str, at: int) -> None:
    """Draft → approved: store its lines and total, in the one update that changes its status."""
    done = tx.execute(
        update(ST)
        .where(ST.c.workspace_id == workspace_id, ST.c.id == statement_id, ST.c.status == "draft")
        .values(status="approved", approved_by=by, approved_at=at, total=sum(line.amount for line in lines))
    )
    if not done.rowcount:
        raise StatementLocked("this statement is already approved or locked: its lines are frozen")
    if lines:
        tx.execute(
            insert(L),
            [
                {"workspace_id": workspace_id, "statement_id": statement_id, "n": n, **line_values(line)}
                for n, line in enumerate(lines, 1)
            ],
        )


def line_values(line: Line) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "amount": line.amount,
        "annotation_id": line.annotation_id,
        "project_id": line.project_id,
        "review_id": line.review_id,
        "annotated_at": line.annotated_at,
        "active_ms": line.active_ms,
        "task_amount": line.task_amount,
        "hour_amount": line.hour_amount,
        "note": line.note[:200],
    }


def lock(tx: Tx, workspace_id: str, statement_id: str, *, by: str, at: int) -> None:
    done = tx.execute(
        update(ST)
        .where(ST.c.workspace_id == workspace_id, ST.c.id == statement_id, ST.c.status == "approved")
        .values(status="locked", locked_by=by, locked_at=at)
    )
    if not done.rowcount:
        raise StatementLocked("only an approved statement can be locked (this one is a draft or already locked)")


def list_lines(tx: Tx, workspace_id: str, statement_id: str) -> list[Line]:
    rows = tx.execute(
        select(*_LINE).where(L.c.workspace_id == workspace_id, L.c.statement_id == statement_id).order_by(L.c.n)
    ).all()
    return [Line(*row) for row in rows]


def frozen_paid(tx: Tx, workspace_id: str, user_id: str) -> dict[str, tuple[int, int]]:
    """Annotation id → (what the person's frozen statements paid for it, the end of the last of them)."""
    rows = tx.execute(
        select(L.c.annotation_id, func.sum(L.c.amount), func.max(ST.c.period_end))
        .select_from(L.join(ST, and_(ST.c.workspace_id == L.c.workspace_id, ST.c.id == L.c.statement_id)))
        .where(
            L.c.workspace_id == workspace_id,
            ST.c.user_id == user_id,
            ST.c.status != "draft",
            L.c.annotation_id.is_not(None),
        )
        .group_by(L.c.annotation_id)
    ).all()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def frozen_totals(tx: Tx, workspace_id: str) -> list[tuple[str, str, int]]:
    """(person, currency, sum of totals) over the workspace's frozen statements."""
    rows = tx.execute(
        select(ST.c.user_id, ST.c.currency, func.sum(ST.c.total))
        .where(ST.c.workspace_id == workspace_id, ST.c.status != "draft")
        .group_by(ST.c.user_id, ST.c.currency)
    ).all()
    return [(row[0], row[1], int(row[2] or 0)) for row in rows]


def has_frozen(tx: Tx, workspace_id: str) -> bool:
    return (
        tx.execute(select(ST.c.id).where(ST.c.workspace_id == workspace_id, ST.c.status != "draft").limit(1)).first()
        is not None
    )


# -- the work pay reads (annotation metadata; never a result) ------------------------------------------


def list_work(tx: Tx, workspace_id: str, user_id: str, *, end: int) -> list[Work]:
    """The person's annotations made before ``end``, as pay sees them (a draft needs those of its
    period, those made late into frozen periods and those frozen statements paid).

    ``rejected_by``: the review that rejected the annotation with a reason (a comment); a
    rejection without one (an imported review) deducts nothing.
    """
    rejection = (
        select(func.min(RV.c.id))
        .where(
            RV.c.workspace_id == A.c.workspace_id,
            RV.c.annotation_id == A.c.id,
            RV.c.decision == "rejected",
            RV.c.comment.is_not(None),
        )
        .scalar_subquery()
    )
    rows = tx.execute(
        select(A.c.id, A.c.project_id, P.c.task_type, A.c.created_at, A.c.lead_time_ms, A.c.gold_score, rejection)
        .select_from(A.join(P, and_(P.c.workspace_id == A.c.workspace_id, P.c.id == A.c.project_id)))
        .where(A.c.workspace_id == workspace_id, A.c.user_id == user_id, A.c.created_at < end)
    ).all()
    return [Work(*row) for row in rows]


def people_with_work(tx: Tx, workspace_id: str, start: int, end: int) -> list[str]:
    """Who made annotations in the workspace in ``[start, end)``."""
    rows = tx.execute(
        select(A.c.user_id)
        .where(A.c.workspace_id == workspace_id, A.c.created_at >= start, A.c.created_at < end)
        .distinct()
    ).all()
    return sorted(row[0] for row in rows)


def people_with_statements(tx: Tx, workspace_id: str) -> list[str]:
    rows = tx.execute(select(ST.c.user_id).where(ST.c.workspace_id == workspace_id).distinct()).all()
    return sorted(row[0] for row in rows)
