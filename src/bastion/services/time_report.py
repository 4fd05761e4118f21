"""Working time (docs/workforce.md, "Time"): active time per person, project and day, and its flags.

``annotations.lead_time_ms`` is an annotation's active time: measured on the labelling page
(static/activetime.js: the page visible, the window focused, input within the project's idle gap) and
checked at submit against how long the lease had lasted (services/annotations.py). This report sums it;
pay is computed from the same column.

Flags, for a person to look at (never a verdict):

* **fast**: an annotation's active time is below ``FAST_SHARE`` (25 %) of its project's median active
  time over the report's span, once the project has at least ``MIN_FOR_MEDIAN`` (20) timed annotations
  in that span (fewer: no median, no fast flag).
* **pasted**: text was pasted into the answer's text fields (``pasted_chars`` > 0). The paste was
  recorded, never blocked.

Days are UTC days. Only metadata is read: ids, times, counts — never a result or a task's data, so the
report is open to ``people.read`` (owners, managers, workforce managers), who may not read content.
Each report read is audited (``time.report_read``, with its span and filters).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .context import Context
from ..access import Action
from ..domain.errors import InvalidInput, NotFound
from ..storage import projects_store, time_store, users_store

FAST_SHARE = 0.25
MIN_FOR_MEDIAN = 20
MAX_SPAN_DAYS = 366
DEFAULT_SPAN_DAYS = 7
MAX_FLAGS = 1000
DAY_MS = 86_400_000


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def _parse_day(name: str, value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad(name)
    except ValueError:
        return _bad(name)


def _bad(name: str) -> date:
    raise InvalidInput(f"{name}: a day, YYYY-MM-DD")


def span(now_ms: int, since: str | date | None, until: str | date | None) -> tuple[date, date]:
    """The report's first and last day (inclusive): by default the last seven days up to today (UTC)."""
    last = _parse_day("to", until) or datetime.fromtimestamp(now_ms / 1000, UTC).date()
    first = _parse_day("from", since) or last - timedelta(days=DEFAULT_SPAN_DAYS - 1)
    if first > last:
        raise InvalidInput("from: on or before to")
    if (last - first).days + 1 > MAX_SPAN_DAYS:
        raise InvalidInput(f"to: at most {MAX_SPAN_DAYS} days after from")
    return first, last


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _median(values: list[int]) -> int | None:
    return round(statistics.median(values)) if values else None


def time_report(
    ctx: Context,
    workspace_id: str,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    project_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """Active time per person, project and day over [since, until] (days, UTC), its medians and flags."""
    with ctx.read() as r:
        r.access.require(Action.PEOPLE_READ, workspace_id)
        first, last = span(r.now, since, until)
        names = {p.id: p.name for p in projects_store.list_project_names(r.tx, workspace_id=workspace_id)}
        if project_id is not None and project_id not in names:
            raise NotFound("project not found")
        # Every person's rows of the projects in view: a project's median is everyone's, whoever is shown.
        rows = time_store.timings(
            r.tx,
            workspace_id=workspace_id,
            since=_ms(first),
            until=_ms(last) + DAY_MS,
            project_id=project_id,
        )
        people = users_store.names_of(r.tx, sorted({row[2] for row in rows}))
    report = build_report(rows, first=first, last=last, projects=names, people=people, user_id=user_id)
    with ctx.write() as w:  # the read, in the workspace's log (a short write apart: the report reads a lot)
        w.access.require(Action.PEOPLE_READ, workspace_id)
        w.audit(
            workspace_id,
            "time.report_read",
            workspace_id,
            since=first.isoformat(),
            until=last.isoformat(),
            project=project_id,
            user=user_id,
        )
    return report


def build_report(
    rows: list[time_store.Timing] | list[tuple],
    *,
    first: date,
    last: date,
    projects: dict[str, str],
    people: dict[str, str],
    user_id: str | None = None,
) -> dict[str, Any]:
    """The report from the span's timings (pure: the aggregation the tests pin)."""
    timed: dict[str, list[int]] = defaultdict(list)
    for _, project, _, _, lead, _, _ in rows:
        if lead is not None:
            timed[project].append(lead)
    medians = {project: _median(values) for project, values in timed.items()}
    fast_below: dict[str, float] = {}
    for project, values in timed.items():
        median = medians[project]
        if len(values) >= MIN_FOR_MEDIAN and median:
            fast_below[project] = median * FAST_SHARE

    # One pass, lean (a span may hold hundreds of thousands of annotations): per (day, project, person)
    # [times, annotations, fast, pasted, pasted characters].
    groups: dict[tuple[str, str, str], list[Any]] = {}
    days: dict[int, str] = {}
    flags: list[dict[str, Any]] = []
    for row in rows:
        _, project, person, created_at, lead, _, pasted_chars = row
        if user_id is not None and person != user_id:
            continue
        day = days.get(created_at // DAY_MS)
        if day is None:
            day = days[created_at // DAY_MS] = _day(created_at)
        key = (day, project, person)
        group = groups.get(key)
        if group is None:
            group = groups[key] = [[], 0, 0, 0, 0]
        group[1] += 1
        if lead is not None:
            group[0].append(lead)
            threshold = fast_below.get(project)
            if threshold is not None and lead < threshold:
                group[2] += 1
                flags.append(_flag(row, day, "fast", medians, people))
        if pasted_chars:
            group[3] += 1
            group[4] += pasted_chars
            flags.append(_flag(row, day, "pasted", medians, people))

    out_rows: list[dict[str, Any]] = []
    for (day, project, person), (times, count, fast, pasted, pasted_chars) in groups.items():
        out_rows.append(
            {
                "day": day,
                "project_id": project,
                "project": projects.get(project, project),
                "user_id": person,
                "person": people.get(person, person),
                "annotations": count,
                "timed": len(times),
                "active_ms": sum(times),
                "median_ms": _median(times),
                "fast": fast,
                "pasted": pasted,
                "pasted_chars": pasted_chars,
            }
        )
    out_rows.sort(key=lambda x: (x["day"], x["project"], x["person"], x["user_id"]))

    totals: dict[str, dict[str, Any]] = {}
    for line in out_rows:
        person = totals.setdefault(
            line["user_id"],
            {
                "user_id": line["user_id"],
                "person": line["person"],
                "annotations": 0,
                "active_ms": 0,
                "fast": 0,
                "pasted": 0,
            },
        )
        for name in ("annotations", "active_ms", "fast", "pasted"):
            person[name] += line[name]
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "rows": out_rows,
        "people": sorted(totals.values(), key=lambda p: (p["person"], p["user_id"])),
        "projects": [
            {
                "project_id": project,
                "project": projects.get(project, project),
                "timed": len(timed[project]),
                "median_ms": medians[project],
                "fast_below_ms": round(fast_below[project]) if project in fast_below else None,
            }
            for project in sorted(timed, key=lambda p: (projects.get(p, p), p))
        ],
        "flags": flags[:MAX_FLAGS],
        "flags_total": len(flags),
        "rules": {"fast_share": FAST_SHARE, "min_for_median": MIN_FOR_MEDIAN},
    }


def _flag(row: tuple, day: str, reason: str, medians: dict, people: dict) -> dict[str, Any]:
    annotation_id, project, person, _, lead, pastes, pasted_chars = row
    return {
        "annotation_id": annotation_id,
        "project_id": project,
        "user_id": person,
        "person": people.get(person, person),
        "day": day,
        "reason": reason,
        "lead_time_ms": lead,
        "project_median_ms": medians.get(project),
        "paste_count": pastes,
        "pasted_chars": pasted_chars,
    }


CSV_COLUMNS = (
    "day",
    "project_id",
    "project",
    "user_id",
    "person",
    "annotations",
    "timed",
    "active_ms",
    "median_ms",
    "fast",
    "pasted",
    "pasted_chars",
)


def report_csv(report: dict[str, Any]) -> str:
    """The report's rows as CSV (one per day, project and person). Names that start like a formula are
    quoted with a leading apostrophe, so a spreadsheet shows them as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        writer.writerow([_cell(row[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
