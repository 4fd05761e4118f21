"""When will a project be done? Remaining work over the recent rate, with an interval (pure).

The rate is the mean of the project's *hourly* annotation counts over a recent window
(the workforce dashboard uses the last 72 hours, or the project's whole life when it is
younger). Its interval is a normal interval on that mean,

    rate ± z · sqrt(v / n),   v = max(s², mean)

where ``s²`` is the sample variance of the hourly counts and ``n`` the number of hours.
Using the observed variance (not the Poisson one, which equals the mean) lets the interval
widen for bursty work — shifts, nights, a team that works in sprints — where Poisson
would be far too narrow; the floor at the mean keeps it no narrower than a Poisson process
with that rate would give. The hours are treated as independent, which a day/night pattern
over a window of whole days approximately honours; a window cut mid-shift does not, so the
interval is a guide, not a guarantee (docs/workforce.md).

The finish time is ``remaining / rate`` hours from now; its interval comes from the rate's:
the earliest from the high rate, the latest from the low one, and no latest at all when the
low rate is zero (the work could stall).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HOUR_MS = 3600 * 1000
Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Rate:
    """Annotations per hour: the estimate and its interval, from ``hours`` hourly counts."""

    per_hour: float
    low: float
    high: float
    hours: int
    annotations: int


def hourly_rate(counts: Sequence[int], z: float = Z95) -> Rate | None:
    """The mean hourly rate of ``counts`` (one count per hour) with its normal interval; None with no hours."""
    n = len(counts)
    if n == 0:
        return None
    if any(c < 0 for c in counts):
        raise ValueError("hourly counts are never negative")
    total = sum(counts)
    mean = total / n
    variance = sum((c - mean) ** 2 for c in counts) / (n - 1) if n > 1 else mean
    half = z * math.sqrt(max(variance, mean) / n)
    return Rate(mean, max(mean - half, 0.0), mean + half, n, total)


def remaining_annotations(tasks: int, done: int, annotations: int, overlap: int) -> int:
    """Annotations still to make, from a project's counters (gold tasks and answers are in none of them).

    Each open task (``tasks - done``) needs up to ``overlap`` answers; the answers already given
    to open tasks are those beyond the done tasks' ``done × overlap``. A task closed short of its
    overlap would make that an over-estimate of what open tasks hold, so the result is kept
    between one answer per open task and ``overlap`` per open task.
    """
    open_tasks = max(tasks - done, 0)
    if open_tasks == 0:
        return 0
    on_open = max(annotations - done * overlap, 0)
    return min(max(open_tasks * overlap - on_open, open_tasks), open_tasks * overlap)


def finish(remaining: int, rate: Rate | None, now: int) -> dict[str, Any]:
    """The forecast: when ``remaining`` annotations will be made at ``rate`` (epoch ms), with its interval.

    ``{"status": "done" | "no_recent_work" | "forecast", "eta", "earliest", "latest", "hours", …}``;
    times are None where they cannot be given, with ``note`` saying why.
    """
    if remaining <= 0:
        return {"status": "done", "eta": None, "earliest": None, "latest": None, "hours": 0.0, "note": "no work left"}
    if rate is None or rate.per_hour <= 0:
        window = rate.hours if rate is not None else 0
        return {
            "status": "no_recent_work",
            "eta": None,
            "earliest": None,
            "latest": None,
            "hours": None,
            "note": f"no annotations in the last {window} hours: no rate to forecast from",
        }
    hours = remaining / rate.per_hour
    out: dict[str, Any] = {
        "status": "forecast",
        "eta": now + round(hours * HOUR_MS),
        "earliest": now + round(remaining / rate.high * HOUR_MS),
        "latest": now + round(remaining / rate.low * HOUR_MS) if rate.low > 0 else None,
        "hours": round(hours, 2),
        "note": None,
    }
    if rate.low <= 0:
        out["note"] = "the rate's 95% interval reaches zero: no latest finish can be given"
    return out
