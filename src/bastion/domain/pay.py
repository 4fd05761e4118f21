"""Pay: what a person's annotations earn, and how a pay statement's lines are made (pure).

Concept. Money is an integer of minor units (cents) in the workspace's currency; nothing here
is a float but the gold accuracy a bonus is judged by. A *rate* is (per task, per hour, or both)
for a task type (the workspace's default) or for one project (which overrides the default), from
an instant on; the rate an annotation earns is the one in force when it was made.

What an annotation is owed (its *entitlement*): the task amount plus its active time times the
hourly amount — unless a reviewer rejected it with a reason, when it is owed nothing. A rejection
without a reason (an imported review) deducts nothing.

A *statement* covers one person and one period ``[start, end)``. A draft is computed whenever it
is looked at; approving it freezes its lines (they are stored), locking it makes it final. Lines:

* ``annotation`` — one per annotation made in the period and never on a frozen statement (one made
  into a period already frozen — approved before it ended, or imported late — goes, late, where an
  adjustment would);
* ``rejected`` — the same line for an annotation a reviewer rejected with a reason: amount 0,
  the review named (the deduction is the amount not paid; a line of its own keeps the
  annotation ↔ line mapping one to one, so a statement reconciles by counting);
* ``adjustment`` — the difference between what an annotation is owed now and what frozen
  statements paid for it (a rejection after approval, a rate corrected back in time, a changed
  active time): it goes into the person's earliest draft that starts at or after the end of the
  last frozen statement that paid the annotation — never into a frozen one;
* ``bonus`` — gold accuracy in the period at or above the workspace's threshold (with enough
  gold answers) earns the configured bonus.

The invariant (``tests/properties/test_pay_properties.py``): for every annotation, the lines
about it across all of the person's statements add up to its entitlement, once every period
is covered; and a statement's total is the sum of its lines.

The trap: an adjustment is a *difference against frozen lines*, never against another draft —
drafts are recomputed, so two drafts must never both claim an annotation (``place``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from .errors import Conflict

HOUR_MS = 3_600_000


class StatementLocked(Conflict):
    """A frozen (approved) or locked statement was asked to change (HTTP 409): corrections go into the
    person's next open statement as adjustment lines, never into a frozen one."""

    code = "statement_locked"


LINE_KINDS = ("annotation", "rejected", "adjustment", "bonus")


@dataclass(frozen=True, slots=True)
class Rate:
    id: str
    project_id: str | None  # None: the workspace's default for the task type
    task_type: str
    per_task: int | None
    per_hour: int | None
    effective_from: int
    created_at: int


@dataclass(frozen=True, slots=True)
class Work:
    """One annotation, as pay sees it (metadata only, never the answer)."""

    annotation_id: str
    project_id: str
    task_type: str
    created_at: int
    active_ms: int | None
    gold_score: float | None
    rejected_by: str | None = None  # the review that rejected it with a reason


@dataclass(frozen=True, slots=True)
class Bonus:
    threshold: float | None  # gold accuracy (0..1) at or above which the bonus is paid; None: no bonus
    min_gold: int
    amount: int


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    amount: int
    annotation_id: str | None = None
    project_id: str | None = None
    review_id: str | None = None
    annotated_at: int | None = None
    active_ms: int | None = None
    task_amount: int = 0
    hour_amount: int = 0
    note: str = ""


@dataclass(frozen=True, slots=True)
class Period:
    """A statement of the person, as placement needs it."""

    id: str
    start: int
    end: int
    frozen: bool


@dataclass(frozen=True, slots=True)
class Owed:
    task_amount: int
    hour_amount: int
    note: str

    @property
    def amount(self) -> int:
        return self.task_amount + self.hour_amount


def rate_for(work: Work, rates: Iterable[Rate]) -> Rate | None:
    """The rate in force when ``work`` was made: the project's if it has one then, else the task type's default."""
    best: dict[bool, Rate] = {}
    for rate in rates:
        if rate.effective_from > work.created_at:
            continue
        if rate.project_id is not None:
            if rate.project_id != work.project_id:
                continue
        elif rate.task_type != work.task_type:
            continue
        key = rate.project_id is not None
        held = best.get(key)
        if held is None or (rate.effective_from, rate.created_at, rate.id) > (
            held.effective_from,
            held.created_at,
            held.id,
        ):
            best[key] = rate
    return best.get(True) or best.get(False)


def hour_amount(per_hour: int, active_ms: int) -> int:
    """``per_hour`` × hours, rounded half up to a minor unit (integers only)."""
    return (2 * per_hour * active_ms + HOUR_MS) // (2 * HOUR_MS)


def gross(work: Work, rates: Iterable[Rate]) -> Owed:
    """What ``work`` earns at its rate, ignoring review."""
    rate = rate_for(work, rates)
    if rate is None:
        return Owed(0, 0, "no rate for this project or task type")
    notes = []
    hours = 0
    if rate.per_hour:
        if work.active_ms is None:
            notes.append("no active time recorded: 0 hours")
        else:
            hours = hour_amount(rate.per_hour, work.active_ms)
    return Owed(rate.per_task or 0, hours, "; ".join(notes))


def entitlement(work: Work, rates: Iterable[Rate]) -> int:
    """What ``work`` is owed in all: nothing once a reviewer rejected it with a reason."""
    return 0 if work.rejected_by else gross(work, rates).amount


def _home_line(work: Work, rates: Sequence[Rate]) -> Line:
    owed = gross(work, rates)
    line = Line(
        "annotation",
        owed.amount,
        annotation_id=work.annotation_id,
        project_id=work.project_id,
        annotated_at=work.created_at,
        active_ms=work.active_ms,
        task_amount=owed.task_amount,
        hour_amount=owed.hour_amount,
        note=owed.note,
    )
    if work.rejected_by:
        return replace(
            line, kind="rejected", amount=0, review_id=work.rejected_by, note="rejected by a reviewer, not paid"
        )
    return line


def place(frozen_end: int, drafts: Iterable[Period]) -> str | None:
    """The draft an adjustment goes into: the earliest starting at or after ``frozen_end`` (None: none yet)."""
    later = sorted((p for p in drafts if not p.frozen and p.start >= frozen_end), key=lambda p: p.start)
    return later[0].id if later else None


def draft_lines(
    statement: Period,
    works: Iterable[Work],
    paid: Mapping[str, tuple[int, int]],
    periods: Iterable[Period],
    rates: Sequence[Rate],
    bonus: Bonus,
) -> list[Line]:
    """The lines of a draft ``statement``.

    ``works``: the person's annotations made in the period and those frozen statements paid;
    ``paid``: annotation id → (amount frozen statements paid for it, the end of the last of them);
    ``periods``: all the person's statements (placement of adjustments).
    """
    periods = list(periods)
    lines: list[Line] = []
    golds: list[float] = []
    for work in sorted(works, key=lambda w: (w.created_at, w.annotation_id)):
        in_period = statement.start <= work.created_at < statement.end
        if in_period and work.gold_score is not None:
            golds.append(work.gold_score)
        frozen = paid.get(work.annotation_id)
        if frozen is None:
            if in_period:
                lines.append(_home_line(work, rates))
                continue
            # Made (or imported) into a period whose statement was already frozen: paid late, in the
            # draft an adjustment would go to.
            home = next((p for p in periods if p.frozen and p.start <= work.created_at < p.end), None)
            if home is not None and place(home.end, periods) == statement.id:
                line = _home_line(work, rates)
                lines.append(replace(line, note="; ".join(x for x in ("late: its period was frozen", line.note) if x)))
            continue
        amount, frozen_end = frozen
        difference = entitlement(work, rates) - amount
        if difference == 0 or place(frozen_end, periods) != statement.id:
            continue
        if work.rejected_by:
            note, review = "rejected by a reviewer after a frozen statement paid it", work.rejected_by
        else:
            note, review = "amount owed changed after a frozen statement paid it (rate or active time)", None
        lines.append(
            Line(
                "adjustment",
                difference,
                annotation_id=work.annotation_id,
                project_id=work.project_id,
                review_id=review,
                annotated_at=work.created_at,
                active_ms=work.active_ms,
                note=note,
            )
        )
    if bonus.threshold is not None and golds and len(golds) >= max(bonus.min_gold, 1):
        accuracy = sum(golds) / len(golds)
        if accuracy >= bonus.threshold and bonus.amount:
            lines.append(
                Line(
                    "bonus",
                    bonus.amount,
                    note=f"gold accuracy {accuracy:.1%} over {len(golds)} gold answers ≥ {bonus.threshold:.1%}",
                )
            )
    return lines


def total(lines: Iterable[Line]) -> int:
    return sum(line.amount for line in lines)
