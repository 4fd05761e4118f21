"""The forecast's rate interval on synthetic histories with a known rate, and the remaining work."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.domain.forecast import HOUR_MS, Rate, finish, hourly_rate, remaining_annotations


def _coverage(draw, true_rate: float, trials: int = 400) -> tuple[float, float]:
    """The share of intervals that hold the true rate, and their mean width."""
    held, widths = 0, []
    for _ in range(trials):
        rate = hourly_rate(draw())
        held += rate.low <= true_rate <= rate.high
        widths.append(rate.high - rate.low)
    return held / trials, float(np.mean(widths))


def test_a_poisson_history_of_known_rate_is_covered_95_times_in_100():
    rng = np.random.default_rng(20261206)
    covered, width = _coverage(lambda: rng.poisson(20.0, 72).tolist(), 20.0)
    assert 0.91 <= covered <= 0.99
    # The Poisson width for 72 hours at 20 an hour: 2 · 1.96 · sqrt(20 / 72) ≈ 2.07.
    assert width == pytest.approx(2 * 1.96 * (20 / 72) ** 0.5, rel=0.1)


def test_bursty_work_widens_the_interval_and_still_covers_the_rate():
    """Shifts: 8 hours at 60 an hour, 16 idle, three days — a mean of 20, far from Poisson."""
    rng = np.random.default_rng(7)

    def day_night():
        return [int(rng.poisson(60.0 if h % 24 < 8 else 0.0)) for h in range(72)]

    covered, width = _coverage(day_night, 20.0)
    assert covered >= 0.9
    assert width > 3 * (2 * 1.96 * (20 / 72) ** 0.5)  # the observed spread, not Poisson's


def test_the_rate_and_its_edges():
    assert hourly_rate([]) is None
    with pytest.raises(ValueError):
        hourly_rate([1, -1])
    flat = hourly_rate([0] * 24)
    assert flat.per_hour == 0 and flat.low == 0 and flat.high == 0 and flat.hours == 24
    one = hourly_rate([5])
    assert one.per_hour == 5 and one.low == pytest.approx(5 - 1.96 * 5**0.5, abs=1e-2)
    sparse = hourly_rate([1] + [0] * 23)  # one annotation in a day: the interval reaches zero
    assert sparse.low == 0 and sparse.annotations == 1


def test_remaining_work_from_the_counters():
    assert remaining_annotations(10, 0, 0, 2) == 20
    assert remaining_annotations(10, 3, 6, 2) == 14  # 7 open tasks, none answered yet
    assert remaining_annotations(10, 3, 9, 2) == 11  # 3 answers given to open tasks
    assert remaining_annotations(10, 10, 20, 2) == 0
    assert remaining_annotations(10, 3, 100, 2) == 7  # counters out of step: at least one per open task
    assert remaining_annotations(0, 0, 0, 3) == 0
    assert remaining_annotations(5, 7, 0, 1) == 0  # more done than tasks (a reopened overlap): nothing left


def test_finish_times_follow_the_rate_interval():
    now = 1_000 * HOUR_MS
    rate = Rate(per_hour=10.0, low=5.0, high=20.0, hours=72, annotations=720)
    f = finish(100, rate, now)
    assert f["status"] == "forecast" and f["hours"] == 10.0
    assert (f["earliest"], f["eta"], f["latest"]) == (now + 5 * HOUR_MS, now + 10 * HOUR_MS, now + 20 * HOUR_MS)
    unbounded = finish(100, Rate(1.0, 0.0, 2.5, 72, 72), now)
    assert unbounded["latest"] is None and "reaches zero" in unbounded["note"]
    assert finish(0, rate, now)["status"] == "done"
    assert finish(5, Rate(0.0, 0.0, 0.0, 72, 0), now)["status"] == "no_recent_work"
    assert finish(5, None, now)["status"] == "no_recent_work"
