"""Leak tracing at a small size: the attack battery, collusion, canaries and the statistics.

The full-size battery (1,000 annotators, thousands of cases) is benchmarks/leaks.py.
"""

from __future__ import annotations

import random
from functools import cache

import pytest

from bastion.domain.errors import InvalidConfig, InvalidInput
from bastion.leaks.canaries import CanaryTemplate, canary_fact, extract_facts, match_canary, render_canary
from bastion.leaks.simulation import ATTACKS, CANARY_TEXT, generate_items, paraphrase_canary
from bastion.leaks.trace import SourceIndex, SourceItem, binomial_tail, sidak, trace_leak
from bastion.leaks.variants import apply_bits, find_slots, render_variant

SECRET = b"workspace-secret-for-tests-0001"
PEOPLE = [f"annotator-{i:04d}" for i in range(1000)]
CASES = 40


@cache
def _items(plain_share: float = 0.0) -> tuple[str, ...]:
    return tuple(generate_items(30, seed=21, plain_share=plain_share))


@cache
def _index(plain_share: float = 0.0) -> SourceIndex:
    return SourceIndex(SourceItem(f"task-{i}", text, ()) for i, text in enumerate(_items(plain_share)))


def _leak(item: int, person: str, attack: str, rng: random.Random, plain_share: float = 0.0) -> str:
    variant = render_variant(_items(plain_share)[item], secret=SECRET, person_id=person, task_id=f"task-{item}")
    return ATTACKS[attack](variant.text, rng)


@pytest.mark.parametrize(
    ("attack", "min_top1", "min_conclusive"),
    [
        ("copy", 1.0, 0.95),
        ("html_sanitiser", 1.0, 0.95),
        ("nfkc_zero_width", 1.0, 0.95),
        ("obfuscation", 0.97, 0.9),
        ("char_edits_1pct", 0.97, 0.9),
        ("half_excerpt", 0.95, 0.8),
    ],
)
def test_single_item_with_few_recipients(attack: str, min_top1: float, min_conclusive: float) -> None:
    rng = random.Random(f"battery-{attack}")
    top1 = conclusive = false = 0
    for _ in range(CASES):
        item = rng.randrange(len(_items()))
        recipients = rng.sample(PEOPLE, rng.randint(2, 5))
        guilty = rng.choice(recipients)
        report = trace_leak(
            _leak(item, guilty, attack, rng), _index().with_recipients({f"task-{item}": recipients}), SECRET
        )
        assert report.sources and report.sources[0].task_id == f"task-{item}"
        top1 += report.top is not None and report.top.person_id == guilty and report.is_top_unique
        conclusive += report.suspects == (guilty,)
        false += any(s != guilty for s in report.suspects)
    assert false == 0
    assert top1 / CASES >= min_top1
    assert conclusive / CASES >= min_conclusive


def test_whole_item_unchanged_identifies_one_person_among_a_thousand() -> None:
    rng = random.Random(2)
    for _ in range(3):
        item = rng.randrange(len(_items()))
        guilty = rng.choice(PEOPLE)
        report = trace_leak(
            _leak(item, guilty, "copy", rng), _index().with_recipients({f"task-{item}": PEOPLE}), SECRET
        )
        assert report.verdict == "conclusive"
        assert report.suspects == (guilty,)
        assert report.top.matched == report.top.observed == len(find_slots(_items()[item]))


def test_readings_of_an_intact_copy_are_all_correct() -> None:
    text = _items()[0]
    variant = render_variant(text, secret=SECRET, person_id="ann", task_id="task-0")
    report = trace_leak(variant.text, _index().with_recipients({"task-0": ["ann", "bob"]}), SECRET)
    assert len(report.readings) == len(variant.slots)
    assert [r.form for r in report.readings] == list(variant.bits)


def test_a_leak_by_someone_outside_the_recipients_accuses_nobody() -> None:
    rng = random.Random(3)
    for _ in range(CASES):
        item = rng.randrange(len(_items()))
        recipients = rng.sample(PEOPLE[:500], 5)
        outsider = rng.choice(PEOPLE[500:])
        report = trace_leak(
            _leak(item, outsider, "copy", rng), _index().with_recipients({f"task-{item}": recipients}), SECRET
        )
        assert report.suspects == ()
        assert report.verdict == "inconclusive"


def test_paraphrase_defeats_variant_slots() -> None:
    rng = random.Random(4)
    for _ in range(CASES // 2):
        item = rng.randrange(len(_items()))
        recipients = rng.sample(PEOPLE, 5)
        guilty = rng.choice(recipients)
        report = trace_leak(
            _leak(item, guilty, "paraphrase", rng), _index().with_recipients({f"task-{item}": recipients}), SECRET
        )
        assert report.suspects == ()  # no accusation: the evidence is gone, and the answer says so


def test_canaries_survive_paraphrase() -> None:
    rng = random.Random(5)
    template = CanaryTemplate("canary-7", CANARY_TEXT, approved_by="owner-1")
    for guilty in rng.sample(PEOPLE, 20):
        shown = render_canary(template, SECRET, guilty)
        fact = canary_fact(SECRET, "canary-7", guilty)
        assert fact.name in shown and f"{fact.figure:,}" in shown
        leaked = paraphrase_canary(fact.formatted(), rng)
        matches = match_canary(leaked, "canary-7", PEOPLE, SECRET)
        identified = [m.person_id for m in matches if m.is_identified]
        assert identified == [guilty], (leaked, matches[:3])
        assert matches[0].p_value < 1e-3


def test_canary_templates_need_an_owner_and_every_placeholder() -> None:
    with pytest.raises(InvalidConfig, match="approved"):
        render_canary(CanaryTemplate("c", CANARY_TEXT), SECRET, "p")
    with pytest.raises(InvalidConfig, match="figure"):
        render_canary(CanaryTemplate("c", "{name} in {place} on {date}", approved_by="o"), SECRET, "p")


def test_canary_facts_are_read_in_any_common_format() -> None:
    figures, dates, words = extract_facts(
        "About 4 817 users (or 4,817, or 4817) by the 3rd of March; March 3; Mar. 3; Eastmere"
    )
    assert figures >= {4817} and dates == {(3, 3)} and "eastmere" in words


def test_evidence_accumulates_over_items_of_ordinary_prose() -> None:
    plain = 0.8
    rng = random.Random(6)
    guilty = rng.choice(PEOPLE)
    leaks = [_leak(i, guilty, "copy", rng, plain) for i in range(6)]
    index = _index(plain).with_recipients({f"task-{i}": PEOPLE for i in range(6)})
    one = trace_leak(leaks[0], index, SECRET)
    assert one.suspects == ()  # ~12 slots cannot single out one of 1,000
    pooled = trace_leak(leaks, index, SECRET)
    assert pooled.suspects == (guilty,)
    assert {s.task_id for s in pooled.sources} == {f"task-{i}" for i in range(6)}


def test_colluders_mixing_their_copies_are_caught_over_enough_items_and_nobody_else() -> None:
    rng = random.Random(7)
    colluders = ["mallory", "trudy"]
    excerpts = []
    recipients = {}
    for item in range(12):
        text = _items()[item]
        slots = find_slots(text)
        copies = [render_variant(text, secret=SECRET, person_id=c, task_id=f"task-{item}").bits for c in colluders]
        mixed = [
            a if a == b else rng.choice((a, b)) for a, b in zip(*copies, strict=True)
        ]  # where they differ, pick either
        excerpts.append(apply_bits(text, slots, mixed).text)
        recipients[f"task-{item}"] = colluders + rng.sample(PEOPLE, 3)
    report = trace_leak(excerpts, _index().with_recipients(recipients), SECRET)
    assert set(report.suspects) == set(colluders)


def test_slots_read_differently_in_two_excerpts_are_ignored() -> None:
    text = _items()[1]
    slots = find_slots(text)
    ones = apply_bits(text, slots, [1] * len(slots)).text
    zeros = apply_bits(text, slots, [0] * len(slots)).text
    index = _index().with_recipients({"task-1": ["ann", "bob"]})
    assert len(trace_leak(ones, index, SECRET).readings) == len(slots)
    assert trace_leak([ones, zeros], index, SECRET).readings == ()


def test_unrelated_text_has_no_source() -> None:
    report = trace_leak("Completely unrelated words about gardening and the weather in spring.", _index(), SECRET)
    assert report.verdict == "no_source" and report.suspects == ()


def test_source_is_found_among_many_items() -> None:
    rng = random.Random(8)
    item = 17
    report = trace_leak(_leak(item, "ann", "half_excerpt", rng), _index().with_recipients({"task-17": ["ann"]}), SECRET)
    assert report.sources[0].task_id == "task-17"
    assert report.sources[0].coverage > 0.8


def test_binomial_tail_and_sidak() -> None:
    assert binomial_tail(10, 0) == 1.0
    assert binomial_tail(10, 11) == 0.0
    assert binomial_tail(10, 10) == pytest.approx(1 / 1024)
    assert binomial_tail(4, 3) == pytest.approx(5 / 16)
    assert sidak(1 / 1024, 1) == pytest.approx(1 / 1024)
    assert sidak(1e-6, 1000) == pytest.approx(1 - (1 - 1e-6) ** 1000)
    assert sidak(1.0, 5) == 1.0


def test_bad_alpha_and_duplicate_items_are_refused() -> None:
    with pytest.raises(InvalidInput):
        trace_leak("x", _index(), SECRET, alpha=0)
    with pytest.raises(InvalidInput):
        SourceIndex([SourceItem("t", "a", ()), SourceItem("t", "b", ())])


def test_items_with_one_text_are_all_sources_and_the_leak_is_traced_to_its_own() -> None:
    # Tasks that differ only in redacted values share their canonical text (pseudonyms are per task).
    text = _items()[0]
    index = SourceIndex(SourceItem(f"same-{i}", text, (PEOPLE[i],)) for i in range(6))
    for i in (0, 5):  # the first and one past the candidates' limit
        variant = render_variant(text, secret=SECRET, person_id=PEOPLE[i], task_id=f"same-{i}")
        report = trace_leak(variant.text, index, SECRET)
        assert {s.task_id for s in report.sources} == {f"same-{k}" for k in range(6)}
        assert all(s.runner_up == s.coverage for s in report.sources)  # ambiguous, and said so
        assert report.suspects == (PEOPLE[i],)
