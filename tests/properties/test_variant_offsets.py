"""Property: canonical -> variant -> canonical offsets round-trip exactly.

Labels are stored on canonical text while annotators see a variant, so the map
between the two must never lose or shift a character outside a changed slot.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.leaks.variants import apply_bits, find_slots, render_variant

SECRET = b"workspace-secret-for-tests-0001"

FRAGMENTS = [
    "we do not", "don't", "They are", "it is", "cannot", "won't", "I am", "we have seen",
    "apples, pears, and plums", "red, green or blue", "toward", "amongst", "for example,", "perhaps",
    "although", "Moreover,", "organise", "realize", "colour", "behavior", "centre", "modelling", "judgement",
    '"quoted words"', "“curly words”", "—", " - ", "Usually", "Currently,", "we think that the",
    "roughly a", "email", "data set", "`code do not`", "https://example.com/do-not", "[PERSON_3]",
    "a@example.com", "2024", "10 percent", "é", "’", "\u200b", "\n", "\n\n", "    indented do not\n",
    ".", ",", ";", "?", " ", "the", "Report", "plan", "team",
]  # fmt: skip

texts = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=40).map(lambda parts: " ".join(parts))


@st.composite
def text_and_spans(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    text = draw(texts)
    spans = []
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, len(text)))
        spans.append((start, end))
    return text, spans


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_and_spans(), st.text(alphabet="abcdefgh0123456789", min_size=1, max_size=8))
def test_protected_spans_round_trip_exactly_and_keep_their_text(
    case: tuple[str, list[tuple[int, int]]], person: str
) -> None:
    text, spans = case
    variant = render_variant(text, secret=SECRET, person_id=person, task_id="task", protected=spans)
    for start, end in spans:
        shown = variant.to_variant(start, end)
        assert variant.text[shown[0] : shown[1]] == text[start:end]
        assert variant.to_canonical(*shown) == (start, end)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.data())
def test_every_position_outside_a_slot_round_trips_for_any_choice_of_forms(text: str, data: st.DataObject) -> None:
    slots = find_slots(text)
    bits = data.draw(st.lists(st.integers(0, 1), min_size=len(slots), max_size=len(slots)))
    variant = apply_bits(text, slots, bits)
    offsets = variant.offsets
    for position in range(len(text) + 1):
        if not offsets.is_inside_edit(position):
            for side in ("start", "end"):
                there = offsets.position_to_target(position, side)
                assert offsets.position_to_source(there, side) == position
    for position in range(len(variant.text) + 1):
        if not offsets.is_inside_edit(position, in_source=False):
            for side in ("start", "end"):
                back = offsets.position_to_source(position, side)
                assert offsets.position_to_target(back, side) == position
    # The unchanged text between slots is identical on both sides.
    for slot, bit in zip(slots, bits, strict=True):
        for region in slot.regions:
            start, end = variant.to_variant(region.start, region.end)
            assert variant.text[start:end] == (region.alternate if bit else region.canonical)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.data())
def test_any_span_maps_back_to_a_span_that_contains_it(text: str, data: st.DataObject) -> None:
    variant = render_variant(text, secret=SECRET, person_id="p", task_id="t")
    start = data.draw(st.integers(0, len(variant.text)))
    end = data.draw(st.integers(start, len(variant.text)))
    canonical = variant.to_canonical(start, end)
    forward = variant.to_variant(*canonical)
    assert forward[0] <= start and end <= forward[1]
    assert 0 <= canonical[0] <= canonical[1] <= len(text)
