"""Keyed variant slots: what may change, what never does, and exact offset mapping."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bastion.domain.errors import InvalidConfig
from bastion.leaks.simulation import generate_items
from bastion.leaks.variants import (
    SlotKind,
    VariantSettings,
    apply_bits,
    codeword,
    find_slots,
    load_variant_settings,
    render_variant,
)

SECRET = b"workspace-secret-for-tests-0001"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "leaks"


def _slots(text: str) -> list[tuple[str, str, str]]:
    return [(s.kind.value, s.regions[0].canonical, s.regions[0].alternate) for s in find_slots(text)]


def _alternates(text: str) -> str:
    slots = find_slots(text)
    return apply_bits(text, slots, [1] * len(slots)).text


# --------------------------------------------------------------------------- each kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We do not ship.", "We don't ship."),
        ("Don't panic.", "Do not panic."),
        ("It can’t wait.", "It cannot wait."),
        ("I am sure they are right.", "I'm sure they're right."),
        ("It is late and we will go.", "It's late and we'll go."),
        ("We have verified it.", "We've verified it."),
        ("Apples, pears, and plums.", "Apples, pears and plums."),
        ("Apples, pears or plums.", "Apples, pears, or plums."),
        ("Walk toward the hall among friends.", "Walk towards the hall amongst friends."),
        ("For example, perhaps not.", "For instance, maybe not."),
        ("Moreover, the email arrived.", "Furthermore, the e-mail arrived."),
        ("We organise the colour charts in the centre.", "We organize the color charts in the center."),
        ("The modelling work", "The modeling work"),
        ('She called it "fine" twice.', "She called it “fine” twice."),
        ("It was late—very late.", "It was late - very late."),
        ("Usually the job ends.", "Usually, the job ends."),
        ("Currently, it works.", "Currently it works."),
        ("We think that the plan works.", "We think the plan works."),
        ("It took roughly an hour.", "It took approximately an hour."),
    ],
)
def test_each_kind_has_its_alternate(text: str, expected: str) -> None:
    assert _alternates(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "as they are.",  # clause-final: "as they're." is wrong
        "Isn't it? Don't you think so?",  # tag questions and inversions
        "It's been a while.",  # "it's" may be "it has": never expanded
        "We have a car.",  # not a perfect tense
        "Stay for a while, even though it rains.",  # noun "while", "even though"
        "He left, though.",  # clause-final "though"
        "Toward Safer Systems is the title.",  # title case
        "We read Toward Safer Systems today.",  # capitalised mid-text: a title
        "The World Health Organization met.",  # a name
        "The analyses were done.",  # plural of analysis
        "DO NOT ENTER",  # shouting is emphasis
        "Next week we ship. Overall results are good.",  # adjectives: no comma added
        "Instead of that we ran.",
        "We treated it roughly.",  # not a quantity
        "Between 2010 - 2015 and 5—3.",  # ranges and numbers
        "- a bullet\n- another",
    ],
)
def test_unsafe_places_are_not_slots(text: str) -> None:
    assert find_slots(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "```\nwe do not, and, perhaps\n```",
        "Run `do not touch` now.",
        "Example:\n\n    we do not indent prose\n",
        "See https://example.com/do-not/toward?perhaps=1 for details.",
        "Write to do.not@example.com please.",
        "Ask [PERSON_3] and [CODENAME_1].",
        'She said "we do not know" and left.',
        "He wrote “perhaps toward the centre”.",
    ],
)
def test_code_urls_emails_pseudonyms_and_quoted_text_are_never_touched(text: str) -> None:
    changed = _alternates(text)
    for protected in [
        "do not",
        "perhaps",
        "toward",
        "[PERSON_3]",
        "[CODENAME_1]",
        "do.not@example.com",
        "centre",
        "indent prose",
    ]:
        if protected in text:
            assert protected in changed, (text, changed)


def test_quote_marks_flip_together_and_the_quoted_words_stay() -> None:
    text = 'They called it "good enough" and left.'
    (slot,) = find_slots(text)
    assert slot.kind is SlotKind.QUOTES and len(slot.regions) == 2
    assert apply_bits(text, [slot], [1]).text == "They called it “good enough” and left."


def test_numbers_are_never_in_a_slot() -> None:
    for text in generate_items(10, seed=3):
        for slot in find_slots(text):
            for region in slot.regions:
                assert not any(ch.isdigit() for ch in region.canonical + region.alternate)


def test_contraction_follows_the_texts_apostrophe_style() -> None:
    assert _alternates("It’s fine; we do not mind.") == "It’s fine; we don’t mind."


def test_protected_ranges_are_respected() -> None:
    text = "We do not ship, and we cannot wait."
    start = text.index("cannot")
    assert [s.regions[0].canonical for s in find_slots(text, protected=[(start, start + 6)])] == ["do not"]


def test_settings_opt_out_and_kinds() -> None:
    text = "We do not ship toward the hall."
    assert find_slots(text, settings=VariantSettings(enabled=False)) == []
    only = VariantSettings(kinds=frozenset({SlotKind.SYNONYM}))
    assert [s.kind for s in find_slots(text, settings=only)] == [SlotKind.SYNONYM]
    variant = render_variant(text, secret=SECRET, person_id="p", task_id="t", settings=VariantSettings(enabled=False))
    assert variant.text == text and variant.offsets.is_identity


def test_variant_settings_from_project_config() -> None:
    assert load_variant_settings({"kinds": ["synonym", "dash"]}).kinds == {SlotKind.SYNONYM, SlotKind.DASH}
    assert load_variant_settings(None).enabled
    with pytest.raises(InvalidConfig) as caught:
        load_variant_settings({"kinds": ["homoglyphs"], "colour": 1})
    assert {p["path"] for p in caught.value.details} >= {"leak_tracing.variants.colour"}
    assert any(p["path"].startswith("leak_tracing.variants.kinds") for p in caught.value.details)


# --------------------------------------------------------------------------- keyed choice


def test_choice_is_deterministic_per_person_and_task() -> None:
    text = generate_items(1, seed=11)[0]
    first = render_variant(text, secret=SECRET, person_id="ann", task_id="t1")
    again = render_variant(text, secret=SECRET, person_id="ann", task_id="t1")
    assert first.text == again.text and first.bits == again.bits
    others = [
        render_variant(text, secret=SECRET, person_id="bob", task_id="t1").bits,
        render_variant(text, secret=SECRET, person_id="ann", task_id="t2").bits,
        render_variant(text, secret=b"another-workspace-secret-0002", person_id="ann", task_id="t1").bits,
    ]
    assert all(bits != first.bits for bits in others)


def test_bits_are_balanced_and_independent_across_slots() -> None:
    text = generate_items(1, seed=12)[0]
    slots = find_slots(text)
    words = [codeword(SECRET, f"person-{i}", "task", slots) for i in range(400)]
    for column in zip(*words, strict=True):
        assert 0.35 < sum(column) / len(column) < 0.65
    pairs = [sum(w[0] == w[1] for w in words) / len(words)]
    assert 0.35 < pairs[0] < 0.65  # two slots agree about half the time


def test_slot_key_depends_on_position_so_an_edit_elsewhere_keeps_other_bits() -> None:
    text = "We do not ship. They are late."
    slots = find_slots(text)
    assert [s.key for s in slots] == ["contraction@3", "contraction@16"]


# --------------------------------------------------------------------------- offsets


def test_zero_offset_errors_across_many_variants_and_spans() -> None:
    rng = random.Random(5)
    texts = generate_items(12, seed=4) + [
        item["text"] for item in json.loads((FIXTURES / "realistic_items.json").read_text())
    ]
    errors = checked = 0
    for text in texts:
        for person in range(8):
            spans = []
            for _ in range(6):
                start = rng.randrange(len(text))
                spans.append((start, min(len(text), start + rng.randint(1, 60))))
            variant = render_variant(text, secret=SECRET, person_id=f"p{person}", task_id="t", protected=spans)
            for start, end in spans:
                shown = variant.to_variant(start, end)
                checked += 1
                if variant.text[shown[0] : shown[1]] != text[start:end] or variant.to_canonical(*shown) != (start, end):
                    errors += 1
            for _ in range(20):  # spans an annotator draws on the variant text, wherever they fall
                a = rng.randrange(len(variant.text) + 1)
                b = rng.randrange(len(variant.text) + 1)
                start, end = min(a, b), max(a, b)
                back = variant.to_canonical(start, end)
                checked += 1
                inside = variant.offsets.is_inside_edit(start, in_source=False) or variant.offsets.is_inside_edit(
                    end, in_source=False
                )
                forward = variant.to_variant(*back)
                if not inside and forward != (start, end):
                    errors += 1
                if not (forward[0] <= start and end <= forward[1]):
                    errors += 1
    assert checked > 2000
    assert errors == 0
