"""Brewer–Nash walls over random conflict graphs and random access traces.

The model applies ``decide`` exactly as the access module does (bind on first
access, refresh the last access on every allowed one). Over ten thousand random
traces: nobody ever holds live history on both ends of an edge, and every
allowed access had no live history on the other end of any of its edges.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.walls import Affiliation, Edge, Exclusion, History, both_sides, decide, is_live

WS = [f"ws_{i}" for i in range(6)]
PEOPLE = [f"p{i}" for i in range(4)]

edges_st = st.lists(
    st.tuples(st.sampled_from(WS), st.sampled_from(WS), st.one_of(st.none(), st.integers(1, 50))),
    max_size=8,
).map(
    lambda raw: list(
        {tuple(sorted((a, b))): Edge(*sorted((a, b)), cooling_off_ms=c) for a, b, c in raw if a != b}.values()
    )
)

step_st = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(WS), st.integers(0, 30))


def run_trace(edges, trace):
    histories: dict[str, dict[str, History]] = {p: {} for p in PEOPLE}
    now = 0
    for person, ws, advance in trace:
        now += advance
        mine = histories[person]
        touching = [e for e in edges if ws in (e.a, e.b)]
        decision = decide(ws, mine, touching, (), (), now)
        was_bound = ws in mine
        if decision.allowed:
            for edge in touching:
                other = mine.get(edge.other(ws))
                assert other is None or not is_live(other, edge, now)
            previous = mine.get(ws)
            mine[ws] = History(ws, previous.first_at if previous else now, now)
        assert decision.binds == (decision.allowed and not was_bound)
        assert both_sides({person: mine}, touching, now) == []
    assert both_sides(histories, edges, now) == []


@settings(max_examples=500, deadline=None)
@given(edges=edges_st, trace=st.lists(step_st, max_size=25))
def test_no_one_ever_sits_on_both_sides(edges, trace):
    run_trace(edges, trace)


TRACES_PER_EXAMPLE = 20


@settings(max_examples=500, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ten_thousand_random_traces(seed):
    """500 examples x 20 traces = 10,000 traces per run (cheap generation from a seed)."""
    rng = random.Random(seed)
    for _ in range(TRACES_PER_EXAMPLE):
        edges = {}
        for _ in range(rng.randrange(9)):
            a, b = rng.sample(WS, 2)
            edges[tuple(sorted((a, b)))] = Edge(*sorted((a, b)), cooling_off_ms=rng.choice([None, rng.randint(1, 50)]))
        trace = [(rng.choice(PEOPLE), rng.choice(WS), rng.randint(0, 30)) for _ in range(rng.randrange(30))]
        run_trace(list(edges.values()), trace)


def test_not_transitive():
    edges = [Edge("A", "B"), Edge("A", "C")]
    history = {"B": History("B", 0, 0)}
    assert not decide("A", history, [e for e in edges if "A" in (e.a, e.b)], (), (), 1).allowed
    assert decide("C", history, [], (), (), 1).allowed  # B and C do not compete


def test_cooling_off_lifts_and_reports_it():
    edge = Edge("A", "B", cooling_off_ms=10)
    history = {"A": History("A", 0, 5)}
    assert not decide("B", history, [edge], (), (), 14).allowed
    later = decide("B", history, [edge], (), (), 15)
    assert later.allowed and later.binds and later.lifted == (edge,)


def test_exclusions_follow_current_affiliations():
    rival = Exclusion("Rival Capital", "investor")
    tie = Affiliation("rival  CAPITAL", "investor", since=10, until=20)
    assert decide("A", {}, [], [tie], [rival], 5).allowed
    denied = decide("A", {}, [], [tie], [rival], 15)
    assert not denied.allowed and denied.reasons[0].kind == "excluded"
    assert decide("A", {}, [], [tie], [rival], 20).allowed
    assert decide("A", {}, [], [Affiliation("Rival Capital", "employer")], [rival], 15).allowed
    assert not decide("A", {}, [], [Affiliation("Rival Capital", "employer")], [Exclusion("rival capital")], 15).allowed
