"""The workforce dashboard: who is working now, how fast, how well, and when each project will be done.

For each workspace where the caller holds ``people.read`` (owners, managers, workforce
managers), and across all of them at once (``dashboard``, one section per workspace):

* **active now** — a person holding an unexpired task lease or review lease, or who
  submitted an annotation in the last ``ACTIVE_MINUTES`` minutes;
* **throughput** — annotations per hour over the last 24 hours (whole hours ending now),
  for the workspace and per project, and each person's count over the 24 hours;
* **quality per person** — accuracy on gold with its Wilson interval (the quality
  report's own figures: ``quality.accuracy_figures``, from tallies made in SQL) and the
  outcome of reviews (accepted, rejected, corrected; the rates over decided reviews),
  over the workspace's history;
* **forecast** — per project, the annotations still to make (``domain.forecast``,
  from the project's counters) over the mean hourly rate of the last ``FORECAST_HOURS``
  hours (or the project's life, when shorter), with the rate's 95% interval and so the
  finish's; gold answers count in throughput but not in the forecast (the counters leave
  them out too);
* **earnings to date** — from the pay service (``pay_earnings``: its draft, approved and
  locked statements, services/pay.py ``earnings_to_date``), through ``earnings_provider``;
  a workspace with no pay currency set does not pay through Bastion, and the page leaves
  the column out.

Only metadata is read — ids, names, e-mails, times, counts, review states and gold
scores — never a task, an answer, a comment or a config, so a workforce manager (who
may not read content) sees it, and it passes no wall: walls decide *content*
(``access.py``). Each view is audited (``workforce.dashboard_read``) in the log of every
workspace it showed, like the quality report's reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from . import pay
from .context import Context, Unit
from .quality import CORRECT_AT, accuracy_figures
from ..access import Action
from ..domain.errors import NotFound
from ..domain.forecast import HOUR_MS, Rate, finish, hourly_rate, remaining_annotations
from ..storage import authors_store, dashboard_store, workspaces_store

ACTIVE_MINUTES = 15
THROUGHPUT_HOURS = 24
FORECAST_HOURS = 72

# person -> {"amount": …, "currency": …} (whatever the pay service reports), or None: no figures.
Earnings = Mapping[str, Mapping[str, Any]]
EarningsProvider = Callable[[Context, str], Earnings | None]


def no_earnings(ctx: Context, workspace_id: str) -> Earnings | None:
    """The default provider: no pay figures (the dashboard then shows no earnings column)."""
    return None


def _major(minor: int) -> str:
    """Minor units (cents) as the amount a person reads: ``12345`` -> ``123.45``."""
    whole, cents = divmod(abs(minor), 100)
    return f"{'-' if minor < 0 else ''}{whole}.{cents:02d}"


def pay_earnings(ctx: Context, workspace_id: str) -> Earnings | None:
    """Earnings to date from the workspace's pay statements (drafts computed now, approved, locked):
    person -> ``{"amount", "currency", "minor_units"}``. None while the workspace has no pay currency
    (it does not pay through Bastion). Work on no statement yet is not counted (services/pay.py)."""
    if pay.get_settings(ctx, workspace_id)["currency"] is None:
        return None
    out: dict[str, dict[str, Any]] = {}
    for user_id, by_currency in pay.earnings_to_date(ctx, workspace_id).items():
        if len(by_currency) == 1:  # one currency per workspace: the usual case
            ((currency, minor),) = by_currency.items()
            out[user_id] = {"amount": _major(minor), "currency": currency, "minor_units": dict(by_currency)}
        else:  # the currency changed before anything was approved: each amount with its own
            amount = ", ".join(f"{_major(m)} {c}" for c, m in sorted(by_currency.items()))
            out[user_id] = {"amount": amount, "currency": "", "minor_units": dict(by_currency)}
    return out


# Where the dashboard takes earnings from (tests swap it): ``earnings_provider(ctx, workspace_id)``.
earnings_provider: EarningsProvider = pay_earnings


def workspace_dashboard(ctx: Context, workspace_id: str, *, earnings: EarningsProvider | None = None) -> dict[str, Any]:
    """One workspace's dashboard (NotFound outside it; PermissionDenied without ``people.read``)."""
    with ctx.read() as r:
        r.access.require(Action.PEOPLE_READ, workspace_id)
        names = {row.id: row.name for row in workspaces_store.list_workspaces(r.tx, [workspace_id])}
        if workspace_id not in names:
            raise NotFound("workspace not found")
        section = _section(r, workspace_id, names[workspace_id])
    _audit(ctx, [workspace_id])
    _add_earnings(ctx, section, earnings or earnings_provider)
    return section


def dashboard(ctx: Context, *, earnings: EarningsProvider | None = None) -> dict[str, Any]:
    """Every workspace where the caller holds ``people.read``, one section each (by name)."""
    with ctx.read() as r:
        allowed = r.access.workspace_ids(Action.PEOPLE_READ)
        rows = workspaces_store.list_workspaces(r.tx, allowed) if allowed else []
        sections = [_section(r, row.id, row.name) for row in sorted(rows, key=lambda w: (w.name, w.id))]
        now = r.now
    _audit(ctx, [s["workspace_id"] for s in sections])
    for section in sections:
        _add_earnings(ctx, section, earnings or earnings_provider)
    return {"generated_at": now, "workspaces": sections}


def _audit(ctx: Context, workspace_ids: list[str]) -> None:
    """The view, in each shown workspace's log (access re-checked in the writing transaction)."""
    if not workspace_ids:
        return
    with ctx.write() as w:
        for ws in workspace_ids:
            w.access.require(Action.PEOPLE_READ, ws)
            w.audit(ws, "workforce.dashboard_read", ws)


def _add_earnings(ctx: Context, section: dict[str, Any], provider: EarningsProvider) -> None:
    found = provider(ctx, section["workspace_id"])
    section["earnings_shown"] = found is not None
    for person in section["people"]:
        person["earnings"] = dict(found[person["user_id"]]) if found and person["user_id"] in found else None


def _section(r: Unit, workspace_id: str, name: str) -> dict[str, Any]:
    now = r.now
    tx = r.tx
    since_24 = now - THROUGHPUT_HOURS * HOUR_MS
    since_fc = now - FORECAST_HOURS * HOUR_MS
    projects = dashboard_store.list_projects(tx, workspace_id)
    members = dashboard_store.list_members(tx, workspace_id)
    handles = authors_store.external_handles(tx, workspace_id)
    leases = dashboard_store.list_live_leases(tx, workspace_id, [p.id for p in projects], now)
    recent = dashboard_store.list_recent_work(tx, workspace_id, since_24)
    hours = dashboard_store.hourly_counts(tx, workspace_id, since_fc)
    gold = {g.user_id: g for g in dashboard_store.gold_tallies(tx, workspace_id, CORRECT_AT)}
    reviews = dashboard_store.review_tallies(tx, workspace_id)

    names = {m.user_id: m.email for m in members}
    roles = {m.user_id: m.role for m in members}
    for user, handle in handles.items():
        names.setdefault(user, handle)
        roles.setdefault(user, "external")
    project_names = {p.id: p.name for p in projects}

    # -- active now
    active_since = now - ACTIVE_MINUTES * 60_000
    active: dict[str, dict[str, Any]] = {}

    def person_now(user: str) -> dict[str, Any]:
        return active.setdefault(
            user,
            {
                "user_id": user,
                "name": names.get(user, user),
                "role": roles.get(user),
                "task_leases": 0,
                "review_leases": 0,
                "recent_annotations": 0,
                "last_annotation_at": None,
                "projects": set(),
            },
        )

    for held in leases:
        entry = person_now(held.user_id)
        entry["task_leases"] += held.tasks
        entry["review_leases"] += held.reviews
        entry["projects"].add(held.project_id)
    last_at: dict[str, int] = {}
    per_person_24: dict[str, int] = defaultdict(int)
    for work in recent:
        per_person_24[work.user_id] += work.annotations
        last_at[work.user_id] = max(last_at.get(work.user_id, 0), work.last_at)
    for user, at in last_at.items():
        if at >= active_since:
            entry = person_now(user)
            entry["last_annotation_at"] = at
            entry["projects"].update(w.project_id for w in recent if w.user_id == user and w.last_at >= active_since)
    active_now = [
        {**e, "projects": [{"id": pid, "name": project_names.get(pid, pid)} for pid in sorted(e["projects"])]}
        for e in sorted(active.values(), key=lambda e: (e["name"], e["user_id"]))
    ]

    # -- throughput (the last 24 of the forecast window's hours)
    first_24 = FORECAST_HOURS - THROUGHPUT_HOURS
    by_project: dict[str, list[int]] = defaultdict(lambda: [0] * FORECAST_HOURS)
    regular: dict[str, list[int]] = defaultdict(lambda: [0] * FORECAST_HOURS)
    for c in hours:
        if c.hour < 0:
            continue
        hour = min(c.hour, FORECAST_HOURS - 1)  # made at this very millisecond: the hour ending now
        by_project[c.project_id][hour] += c.annotations
        regular[c.project_id][hour] += c.annotations - c.gold_answers
    hour_starts = [since_fc + h * HOUR_MS for h in range(first_24, FORECAST_HOURS)]
    workspace_hours = [sum(by_project[p][h] for p in by_project) for h in range(first_24, FORECAST_HOURS)]
    throughput = {
        "hours": THROUGHPUT_HOURS,
        "hour_starts": hour_starts,
        "per_hour": workspace_hours,
        "total": sum(workspace_hours),
        "per_project": [
            {
                "project_id": p.id,
                "name": p.name,
                "per_hour": by_project[p.id][first_24:] if p.id in by_project else [0] * THROUGHPUT_HOURS,
                "total": sum(by_project[p.id][first_24:]) if p.id in by_project else 0,
            }
            for p in projects
        ],
    }

    # -- quality per person (and their 24 hours)
    people_ids = (
        {m.user_id for m in members if m.role in ("annotator", "reviewer")}
        | set(per_person_24)
        | set(gold)
        | set(reviews)
    )
    people = []
    for user in sorted(people_ids, key=lambda u: (names.get(u, u), u)):
        tally = gold.get(user)
        people.append(
            {
                "user_id": user,
                "name": names.get(user, user),
                "role": roles.get(user),
                "annotations_24h": per_person_24.get(user, 0),
                "last_annotation_at": last_at.get(user),
                "gold": accuracy_figures(tally.correct, tally.answers, tally.mean_score) if tally else None,
                "review": _review_figures(reviews.get(user, {})),
            }
        )

    # -- forecast
    forecast = []
    for p in projects:
        counts = regular.get(p.id, [0] * FORECAST_HOURS)
        first = max(0, min(FORECAST_HOURS - 1, (p.created_at - since_fc) // HOUR_MS))
        rate = hourly_rate(counts[first:])
        remaining = remaining_annotations(p.tasks, p.done, p.annotations, p.overlap)
        forecast.append(
            {
                "project_id": p.id,
                "name": p.name,
                "tasks": p.tasks,
                "done": p.done,
                "overlap": p.overlap,
                "remaining_annotations": remaining,
                "rate": _rate_figures(rate),
                **finish(remaining, rate, now),
            }
        )

    return {
        "workspace_id": workspace_id,
        "workspace_name": name,
        "generated_at": now,
        "active_minutes": ACTIVE_MINUTES,
        "active_now": active_now,
        "throughput": throughput,
        "people": people,
        "forecast_hours": FORECAST_HOURS,
        "forecast": forecast,
    }


def _review_figures(tally: Mapping[str, int]) -> dict[str, Any]:
    accepted, rejected, corrected = (tally.get(s, 0) for s in ("accepted", "rejected", "corrected"))
    decided = accepted + rejected + corrected
    return {
        "pending": tally.get("pending", 0),
        "accepted": accepted,
        "rejected": rejected,
        "corrected": corrected,
        "acceptance_rate": round(accepted / decided, 4) if decided else None,
        "rejection_rate": round(rejected / decided, 4) if decided else None,
    }


def _rate_figures(rate: Rate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {
        "per_hour": round(rate.per_hour, 3),
        "low": round(rate.low, 3),
        "high": round(rate.high, 3),
        "hours": rate.hours,
        "annotations": rate.annotations,
    }
