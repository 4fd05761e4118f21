"""Pay: a workspace's rates, its people's statements, and their lifecycle (docs/workforce.md#pay).

Concept. The workspace sets its currency and gold bonus (``set_settings``) and rates (``set_rate``:
per task type, or per project, from an instant on; history kept). A manager makes a *statement*
for a person and a period; a draft is computed whenever it is read (``domain/pay.py`` makes the
lines), *approved* by someone holding ``people.manage`` who is not the person paid — its lines are
frozen then — and *locked*, after which nothing changes it. Whatever happens later to work a frozen
statement paid (a rejection, a rate corrected back in time) becomes an adjustment line of the
person's next draft.

Who: ``people.read`` reads rates and statements (owners, managers, workforce managers); the person
paid reads their own statements; ``people.manage`` sets rates and settings, makes, approves, locks
and deletes (drafts only) statements. Statements show annotation ids, projects, times and amounts —
never a task, an answer or a review's comment (a workforce manager sees no task content). Every
change is audited.

The trap: a statement is looked up within the caller's workspaces first (a foreign id is not
found), and a frozen statement is never recomputed — its lines come from the database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .context import Context, Unit
from ..access import Action
from ..domain import pay as rules
from ..domain.errors import InvalidInput, NotFound, PermissionDenied
from ..domain.pay import Bonus, Line, Period, Rate, StatementLocked
from ..ids import new_id
from ..storage import memberships_store, pay_store, projects_store, users_store
from ..storage.pay_store import SettingsRow, StatementRow

MAX_AMOUNT = 10**12  # minor units: a rate or bonus beyond this is a typo
MAX_INSTANT = 253_402_300_800_000  # epoch ms of 10000-01-01: times shown as dates must be dates
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_UNSAFE = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "statement_id",
    "person",
    "period_start",
    "period_end",
    "status",
    "currency",
    "line",
    "kind",
    "annotation_id",
    "project_id",
    "annotated_at",
    "active_seconds",
    "task_amount",
    "hour_amount",
    "amount",
    "review_id",
    "note",
)

__all__ = [
    "approve_statement",
    "create_statement",
    "create_statements",
    "delete_statement",
    "earnings_to_date",
    "get_settings",
    "get_statement",
    "list_rates",
    "list_statements",
    "lock_statement",
    "set_rate",
    "set_settings",
    "statement_csv",
]


# -- input ---------------------------------------------------------------------------------------------


def _amount(value: Any, field: str, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise InvalidInput(f"{field}: a whole number of minor units (cents) from 0 to {MAX_AMOUNT}")
    return value


def _instant(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_INSTANT:
        raise InvalidInput(f"{field}: a time in epoch milliseconds (before the year 10000)")
    return value


# -- settings and rates ----------------------------------------------------------------------------------


def _settings_dict(row: SettingsRow | None, workspace_id: str) -> dict[str, Any]:
    if row is None:
        return {"workspace_id": workspace_id, "currency": None, "bonus_threshold": None, "bonus_min_gold": 1,
                "bonus_amount": 0, "updated_by": None, "updated_at": None}  # fmt: skip
    return row._asdict()


def get_settings(ctx: Context, workspace_id: str) -> dict[str, Any]:
    """The workspace's currency and gold bonus (``currency`` None: not set yet)."""
    with ctx.read() as r:
        r.access.require(Action.PEOPLE_READ, workspace_id)
        return _settings_dict(pay_store.find_settings(r.tx, workspace_id), workspace_id)


def set_settings(
    ctx: Context,
    workspace_id: str,
    *,
    currency: Any,
    bonus_threshold: Any = None,
    bonus_min_gold: Any = 1,
    bonus_amount: Any = 0,
) -> dict[str, Any]:
    """Set the currency (ISO 4217, e.g. EUR) and the gold bonus: ``bonus_amount`` when a person's gold
    accuracy in a period is at least ``bonus_threshold`` (0..1; None: no bonus) over at least
    ``bonus_min_gold`` gold answers. The currency cannot change once a statement was approved."""
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidInput("currency: a three-letter ISO 4217 code in capitals, such as EUR or USD")
    if bonus_threshold is not None and (
        isinstance(bonus_threshold, bool)
        or not isinstance(bonus_threshold, int | float)
        or not 0 <= bonus_threshold <= 1
    ):
        raise InvalidInput("bonus_threshold: a gold accuracy from 0 to 1, or null for no bonus")
    if isinstance(bonus_min_gold, bool) or not isinstance(bonus_min_gold, int) or not 1 <= bonus_min_gold <= 100_000:
        raise InvalidInput("bonus_min_gold: how many gold answers a period needs for a bonus, from 1")
    amount = _amount(bonus_amount, "bonus_amount", optional=False)
    assert amount is not None
    with ctx.write() as w:
        w.access.require(Action.PEOPLE_MANAGE, workspace_id)
        old = pay_store.find_settings(w.tx, workspace_id)
        if old is not None and old.currency != currency and pay_store.has_frozen(w.tx, workspace_id):
            raise StatementLocked(
                f"currency: statements in {old.currency} are approved; the currency cannot change under them"
            )
        row = SettingsRow(
            workspace_id,
            currency,
            None if bonus_threshold is None else float(bonus_threshold),
            bonus_min_gold,
            amount,
            w.actor.user_id,
            w.now,
        )
        pay_store.save_settings(w.tx, row)
        w.audit(
            workspace_id, "pay.settings_set", workspace_id, currency=currency, bonus_threshold=row.bonus_threshold,
            bonus_min_gold=bonus_min_gold, bonus_amount=amount,
        )  # fmt: skip
        return row._asdict()


def _rate_dict(rate: Rate, created_by: str | None, currency: str | None) -> dict[str, Any]:
    return {
        "id": rate.id,
        "project_id": rate.project_id,
        "task_type": rate.task_type,
        "per_task": rate.per_task,
        "per_hour": rate.per_hour,
        "currency": currency,
        "effective_from": rate.effective_from,
        "created_by": created_by,
        "created_at": rate.created_at,
    }


def set_rate(
    ctx: Context,
    workspace_id: str,
    *,
    task_type: Any = None,
    project_id: Any = None,
    per_task: Any = None,
    per_hour: Any = None,
    effective_from: Any = None,
) -> dict[str, Any]:
    """A new rate, from ``effective_from`` (default: now) on: the workspace's default for ``task_type``,
    or ``project_id``'s own (which overrides the default). Earlier rates are kept (history); an
    ``effective_from`` in the past corrects the pay of work made since — statements already frozen
    are not changed, the difference goes into the next draft."""
    per_task, per_hour = _amount(per_task, "per_task"), _amount(per_hour, "per_hour")
    if per_task is None and per_hour is None:
        raise InvalidInput("per_task: give per_task, per_hour or both (minor units)")
    if (task_type is None) == (project_id is None):
        raise InvalidInput("task_type: give either task_type (the workspace's default) or project_id")
    with ctx.write() as w:
        w.access.require(Action.PEOPLE_MANAGE, workspace_id)
        settings = pay_store.find_settings(w.tx, workspace_id)
        if settings is None:
            raise InvalidInput("currency: set the workspace's pay currency first (pay settings)")
        if project_id is not None:
            if not isinstance(project_id, str):
                raise InvalidInput("project_id: a project id")
            names = {p.id: p for p in projects_store.list_project_names(w.tx, workspace_id=workspace_id)}
            if project_id not in names:
                raise NotFound("project not found")
            task_type = names[project_id].task_type
        elif not isinstance(task_type, str) or task_type not in ctx.rt.task_types.names():
            raise InvalidInput(f"task_type: one of {', '.join(ctx.rt.task_types.names())}")
        start = w.now if effective_from is None else _instant(effective_from, "effective_from")
        rate = Rate(new_id("rate"), project_id, task_type, per_task, per_hour, start, w.now)
        pay_store.insert_rate(w.tx, workspace_id, rate, w.actor.user_id)
        w.audit(
            workspace_id, "pay.rate_set", rate.id, project=project_id, task_type=task_type, per_task=per_task,
            per_hour=per_hour, effective_from=start, currency=settings.currency,
        )  # fmt: skip
        return _rate_dict(rate, w.actor.user_id, settings.currency)


def list_rates(ctx: Context, workspace_id: str) -> list[dict[str, Any]]:
    """Every rate of the workspace, oldest first (the history: a rate is never edited, only followed)."""
    with ctx.read() as r:
        r.access.require(Action.PEOPLE_READ, workspace_id)
        settings = pay_store.find_settings(r.tx, workspace_id)
        currency = settings.currency if settings else None
        return [_rate_dict(rate, by, currency) for rate, by in pay_store.list_rates(r.tx, workspace_id)]


# -- statements ------------------------------------------------------------------------------------------


def _statement(u: Unit, statement_id: str, action: Action) -> StatementRow:
    """The statement, found within the caller's workspaces; ``people.read`` or the person paid (reads)."""
    scope = None if u.actor.is_system else list(u.access.roles)
    row = pay_store.find_statement(u.tx, statement_id, workspace_ids=scope)
    if row is None:
        raise NotFound("statement not found")
    own = not u.actor.is_system and row.user_id == u.actor.user_id
    if action is Action.PEOPLE_READ and own:
        u.access.require(Action.WORKSPACE_READ, row.workspace_id, what="statement")
    else:
        u.access.require(action, row.workspace_id, what="statement")
    return row


def _lines(u: Unit, row: StatementRow) -> list[Line]:
    """A frozen statement's stored lines, or a draft's computed now."""
    if row.status != "draft":
        return pay_store.list_lines(u.tx, row.workspace_id, row.id)
    return _compute(u, row, _periods(u, row.workspace_id, row.user_id))


def _periods(u: Unit, workspace_id: str, user_id: str) -> list[Period]:
    return [
        Period(s.id, s.period_start, s.period_end, s.status != "draft")
        for s in pay_store.list_statements(u.tx, workspace_id, user_id=user_id)
    ]


def _compute(u: Unit, row: StatementRow, periods: list[Period]) -> list[Line]:
    ws = row.workspace_id
    paid = pay_store.frozen_paid(u.tx, ws, row.user_id)
    works = pay_store.list_work(u.tx, ws, row.user_id, end=row.period_end)
    rates = [rate for rate, _ in pay_store.list_rates(u.tx, ws)]
    settings = pay_store.find_settings(u.tx, ws)
    bonus = Bonus(None, 1, 0) if settings is None else Bonus(*settings[2:5])
    me = next(p for p in periods if p.id == row.id)
    return rules.draft_lines(me, works, paid, periods, rates, bonus)


def _line_dict(n: int, line: Line) -> dict[str, Any]:
    return {"n": n, **pay_store.line_values(line)}


def _statement_dict(u: Unit, row: StatementRow, lines: list[Line] | None) -> dict[str, Any]:
    people = [row.user_id, *(x for x in (row.approved_by, row.locked_by) if x)]
    names = users_store.names_of(u.tx, people)
    out = {
        **row._asdict(),
        "person": names.get(row.user_id, row.user_id),
        "approved_by_name": names.get(row.approved_by or "", None),
        "locked_by_name": names.get(row.locked_by or "", None),
    }
    if lines is not None:
        out["lines"] = [_line_dict(n, line) for n, line in enumerate(lines, 1)]
        out["total"] = rules.total(lines)
        out["annotations"] = sum(1 for line in lines if line.kind in ("annotation", "rejected"))
    return out


def create_statement(ctx: Context, workspace_id: str, user_id: Any, period_start: Any, period_end: Any) -> dict:
    """A draft statement for ``user_id`` over ``[period_start, period_end)`` (epoch ms); the person's
    periods never overlap. The person must be a member of the workspace."""
    start, end = _instant(period_start, "period_start"), _instant(period_end, "period_end")
    if end <= start:
        raise InvalidInput("period_end: must be after period_start")
    if not isinstance(user_id, str):
        raise InvalidInput("user_id: a person's id")
    with ctx.write() as w:
        w.access.require(Action.PEOPLE_MANAGE, workspace_id)
        if memberships_store.find_role(w.tx, workspace_id, user_id) is None:
            raise NotFound("person not found in this workspace")
        row = _make_statement(w, workspace_id, user_id, start, end)
        return _statement_dict(w, row, None)


def _make_statement(w: Unit, workspace_id: str, user_id: str, start: int, end: int) -> StatementRow:
    settings = pay_store.find_settings(w.tx, workspace_id)
    if settings is None:
        raise InvalidInput("currency: set the workspace's pay currency first (pay settings)")
    clash = pay_store.overlapping(w.tx, workspace_id, user_id, start, end)
    if clash is not None:
        raise StatementLocked(f"period: overlaps the person's statement {clash}")
    row = StatementRow(
        workspace_id, new_id("pst"), user_id, start, end, "draft", settings.currency, None, w.actor.user_id, w.now,
        None, None, None, None,
    )  # fmt: skip
    pay_store.insert_statement(w.tx, row)
    w.audit(workspace_id, "pay.statement_created", row.id, user=user_id, period_start=start, period_end=end)
    return row


def create_statements(ctx: Context, workspace_id: str, period_start: Any, period_end: Any) -> list[dict]:
    """Draft statements over the period for every person who annotated in it and has none overlapping it."""
    start, end = _instant(period_start, "period_start"), _instant(period_end, "period_end")
    if end <= start:
        raise InvalidInput("period_end: must be after period_start")
    with ctx.write() as w:
        w.access.require(Action.PEOPLE_MANAGE, workspace_id)
        made = []
        for user_id in pay_store.people_with_work(w.tx, workspace_id, start, end):
            if pay_store.overlapping(w.tx, workspace_id, user_id, start, end) is None:
                made.append(_statement_dict(w, _make_statement(w, workspace_id, user_id, start, end), None))
        return made


def list_statements(
    ctx: Context, workspace_id: str, *, user_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """The workspace's statements (without lines; a draft's total is computed), by person and period."""
    if status is not None and status not in ("draft", "approved", "locked"):
        raise InvalidInput("status: draft, approved or locked")
    with ctx.read() as r:
        r.access.require(Action.PEOPLE_READ, workspace_id)
        rows = pay_store.list_statements(r.tx, workspace_id, user_id=user_id, status=status)
        out = []
        for row in rows:
            item = _statement_dict(r, row, None)
            if row.status == "draft":
                item["total"] = rules.total(_lines(r, row))
            out.append(item)
        return out


def get_statement(ctx: Context, statement_id: str) -> dict[str, Any]:
    """One statement with its lines (a draft's computed now). ``people.read``, or the person paid.
    ``can_manage``: whether the caller may approve and lock it (people.manage, and not their own)."""
    with ctx.read() as r:
        row = _statement(r, statement_id, Action.PEOPLE_READ)
        out = _statement_dict(r, row, _lines(r, row))
        out["can_manage"] = r.access.allows(Action.PEOPLE_MANAGE, row.workspace_id) and (
            r.actor.is_system or row.user_id != r.actor.user_id
        )
        return out


def approve_statement(ctx: Context, statement_id: str) -> dict[str, Any]:
    """Approve a draft: its lines as computed now are frozen. Not by the person it pays."""
    with ctx.write() as w:
        row = _statement(w, statement_id, Action.PEOPLE_MANAGE)
        if row.user_id == w.actor.user_id:
            raise PermissionDenied("you cannot approve your own pay statement")
        if row.status != "draft":
            raise StatementLocked(f"this statement is {row.status}: its lines are frozen")
        lines = _lines(w, row)
        pay_store.freeze(w.tx, row.workspace_id, row.id, lines, by=w.actor.user_id, at=w.now)
        w.audit(row.workspace_id, "pay.statement_approved", row.id, user=row.user_id, total=rules.total(lines),
                lines=len(lines), currency=row.currency)  # fmt: skip
        frozen = pay_store.find_statement(w.tx, row.id, workspace_ids=[row.workspace_id])
        assert frozen is not None
        return _statement_dict(w, frozen, lines)


def lock_statement(ctx: Context, statement_id: str) -> dict[str, Any]:
    """Lock an approved statement: final; nothing changes it after (corrections go into the next one)."""
    with ctx.write() as w:
        row = _statement(w, statement_id, Action.PEOPLE_MANAGE)
        if row.user_id == w.actor.user_id:
            raise PermissionDenied("you cannot lock your own pay statement")
        if row.status == "locked":
            raise StatementLocked("this statement is locked: it cannot change (corrections go into the next one)")
        if row.status != "approved":
            raise StatementLocked("approve this statement before locking it")
        pay_store.lock(w.tx, row.workspace_id, row.id, by=w.actor.user_id, at=w.now)
        w.audit(row.workspace_id, "pay.statement_locked", row.id, user=row.user_id, total=row.total)
        locked = pay_store.find_statement(w.tx, row.id, workspace_ids=[row.workspace_id])
        assert locked is not None
        return _statement_dict(w, locked, pay_store.list_lines(w.tx, row.workspace_id, row.id))


def delete_statement(ctx: Context, statement_id: str) -> None:
    """Delete a draft (an approved or locked statement refuses)."""
    with ctx.write() as w:
        row = _statement(w, statement_id, Action.PEOPLE_MANAGE)
        if row.status != "draft":
            raise StatementLocked(f"this statement is {row.status}: it cannot be deleted")
        pay_store.delete_draft(w.tx, row.workspace_id, row.id)
        w.audit(row.workspace_id, "pay.statement_deleted", row.id, user=row.user_id)


# -- outputs ---------------------------------------------------------------------------------------------


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage return)
    is prefixed with an apostrophe. Numbers (amounts may be negative) are written as numbers."""
    if isinstance(value, str) and value.startswith(_UNSAFE):
        return "'" + value
    return value


def csv_rows(statement: dict[str, Any]) -> Iterable[list[Any]]:
    """The statement as CSV rows: a header, one row per line, then a ``total`` row."""
    yield list(CSV_COLUMNS)
    head = [statement["id"], statement["person"], _iso(statement["period_start"]), _iso(statement["period_end"]),
            statement["status"], statement["currency"]]  # fmt: skip
    for line in statement["lines"]:
        active = "" if line["active_ms"] is None else round(line["active_ms"] / 1000, 3)
        yield [*head, line["n"], line["kind"], line["annotation_id"] or "", line["project_id"] or "",
               _iso(line["annotated_at"]), active, line["task_amount"], line["hour_amount"], line["amount"],
               line["review_id"] or "", line["note"]]  # fmt: skip
    yield [*head, "", "total", "", "", "", "", "", "", statement["total"], "", ""]


def statement_csv(ctx: Context, statement_id: str) -> tuple[str, str]:
    """(file name, CSV text) of a statement; audited (``pay.statement_downloaded``)."""
    with ctx.write() as w:
        row = _statement(w, statement_id, Action.PEOPLE_READ)
        statement = _statement_dict(w, row, _lines(w, row))
        w.audit(row.workspace_id, "pay.statement_downloaded", row.id, user=row.user_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for cells in csv_rows(statement):
        writer.writerow([safe_cell(c) for c in cells])
    day = _iso(row.period_start)[:10]
    return f"pay-{row.user_id}-{day}-{row.id}.csv", out.getvalue()


def earnings_to_date(
    unit_or_ctx: Unit | Context, workspace_id: str, *, user_ids: Iterable[str] | None = None
) -> dict[str, dict[str, int]]:
    """{person: {currency: minor units}} over the workspace's statements — drafts (computed now), approved
    and locked — for the workforce dashboard. ``people.read``. ``user_ids``: only these people.
    Work not yet on any statement is not counted."""
    if isinstance(unit_or_ctx, Context):
        with unit_or_ctx.read() as r:
            return earnings_to_date(r, workspace_id, user_ids=user_ids)
    u = unit_or_ctx
    u.access.require(Action.PEOPLE_READ, workspace_id)
    wanted = None if user_ids is None else set(user_ids)
    out: dict[str, dict[str, int]] = {}
    for user_id, currency, amount in pay_store.frozen_totals(u.tx, workspace_id):
        if wanted is None or user_id in wanted:
            out.setdefault(user_id, {})[currency] = out.get(user_id, {}).get(currency, 0) + amount
    drafts = pay_store.list_statements(u.tx, workspace_id, status="draft")
    periods: dict[str, list[Period]] = {}
    for row in drafts:
        if wanted is not None and row.user_id not in wanted:
            continue
        if row.user_id not in periods:
            periods[row.user_id] = _periods(u, workspace_id, row.user_id)
        amount = rules.total(_compute(u, row, periods[row.user_id]))
        mine = out.setdefault(row.user_id, {})
        mine[row.currency] = mine.get(row.currency, 0) + amount
    return out
