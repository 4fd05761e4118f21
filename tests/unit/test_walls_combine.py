"""Combining the declarations that hold a wall into the edge that stands (pure)."""

from __future__ import annotations

from bastion.domain.walls import Declaration, combine


def test_an_edge_is_as_strict_as_its_strictest_holder():
    held = [
        Declaration("A", "B", "A", 10, since=5),
        Declaration("A", "B", "B", None, since=3),
        Declaration("A", "B", "group:g", 20, since=7),
    ]
    (edge,) = combine(held, now=100)
    assert edge.cooling_off_ms is None and edge.since == 3 and edge.source == "declared"
    assert edge.holders == ("A", "B", "group:g") and edge.lifts_at is None
    (edge,) = combine([held[0], held[2]], now=100)
    assert edge.cooling_off_ms == 20


def test_a_withdrawal_holds_until_its_instant_and_the_edge_falls_only_with_its_last_holder():
    a = Declaration("A", "B", "A", None, lifts_at=50)
    g = Declaration("A", "B", "group:g", 7, lifts_at=80)
    (edge,) = combine([a, g], now=49)
    assert edge.lifts_at == 80 and edge.cooling_off_ms is None  # every holder withdrawing: falls at the last
    (edge,) = combine([a, g], now=50)
    assert edge.holders == ("group:g",) and edge.cooling_off_ms == 7 and edge.source == "group:g"
    assert combine([a, g], now=80) == []
    (edge,) = combine([a, Declaration("A", "B", "B")], now=60)
    assert edge.holders == ("B",) and edge.lifts_at is None


def test_pairs_are_kept_apart():
    edges = combine([Declaration("A", "B", "A"), Declaration("A", "C", "C", 5)], now=0)
    assert sorted((e.a, e.b, e.cooling_off_ms) for e in edges) == [("A", "B", None), ("A", "C", 5)]
