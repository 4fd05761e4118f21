"""Client dictionaries: inflections, multi-word terms, misspellings, look-alikes, and speed."""

from __future__ import annotations

import json
import random
import string
import time
from collections import Counter
from pathlib import Path

import pytest

from bastion.redaction import ClientDictionary
from bastion.redaction.dictionary import fuzzy_budget, normalise_token
from bastion.redaction.editdistance import edit_distance

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "redaction"
PRECISION_FLOOR = 0.9


def _terms() -> dict[str, list[str]]:
    return json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))


def _found(dictionary: ClientDictionary, text: str) -> list[tuple[str, str]]:
    return [(m.entity_type, m.text) for m in dictionary.find(text)]


def test_corpus_recall_is_total_and_precision_above_floor() -> None:
    terms = _terms()
    dictionary = ClientDictionary(terms)
    kinds = set(terms)
    hits, misses, false = Counter(), Counter(), Counter()
    problems = []
    for line in map(json.loads, (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()):
        text = line["text"]
        found = dictionary.find(text)
        expected = []
        for entity in line["entities"]:
            if entity["type"] in kinds:
                at = text.find(entity["value"])
                while at != -1:
                    expected.append((at, at + len(entity["value"]), entity["type"]))
                    at = text.find(entity["value"], at + 1)
        for start, end, kind in expected:
            if any(m.entity_type == kind and m.start <= start and end <= m.end for m in found):
                hits[kind] += 1
            else:
                misses[kind] += 1
                problems.append(f"missed {kind} {text[start:end]!r} in {line['id']}")
        for m in found:
            if not any(m.entity_type == k and m.start < e and s < m.end for s, e, k in expected):
                false[m.entity_type] += 1
                problems.append(f"false {m.entity_type} {m.text!r} in {line['id']}")
    print("\nkind       recall      precision")
    for kind in sorted(kinds):
        print(f"{kind:9} {hits[kind]:3}/{hits[kind] + misses[kind]:<3} {hits[kind] / max(1, hits[kind] + misses[kind]):6.1%}"
              f"  {hits[kind] / max(1, hits[kind] + false[kind]):6.1%}")  # fmt: skip
    assert not misses, problems
    assert set(hits) == kinds
    assert sum(hits.values()) / (sum(hits.values()) + sum(false.values())) >= PRECISION_FLOOR, problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Falcon", "Falcon"),
        ("falcon's", "falcon"),
        ("FALCONS", "FALCONS"),
        ("Falcon-based", "Falcon"),
        ("falcons'", "falcons"),
        ("the Fálcon", "Fálcon"),
    ],
)
def test_inflections_and_case(text: str, expected: str) -> None:
    dictionary = ClientDictionary({"codename": ["Falcon"]})
    assert _found(dictionary, text) == [("codename", expected)]


def test_derived_suffixes_only_for_terms_of_five_letters_or_more() -> None:
    assert _found(ClientDictionary({"person": ["Mark"]}), "she marked it, Marks said") == [("person", "Marks")]
    assert _found(ClientDictionary({"codename": ["Falcon"]}), "a Falconer") == [("codename", "Falconer")]


def test_multi_word_terms_accept_flexible_spacing_and_one_word_spelling() -> None:
    dictionary = ClientDictionary({"codename": ["Project Nightjar"]})
    text = "Project Nightjar / project-nightjar / PROJECT_NIGHTJAR / ProjectNightjar / Project \n Nightjar's"
    assert [t for _, t in _found(dictionary, text)] == [
        "Project Nightjar", "project-nightjar", "PROJECT_NIGHTJAR", "ProjectNightjar", "Project \n Nightjar",
    ]  # fmt: skip


def test_multi_word_term_is_not_matched_across_punctuation_or_by_one_word() -> None:
    dictionary = ClientDictionary({"codename": ["Project Nightjar"]})
    assert _found(dictionary, "the project. Nightjar is a bird; a nightjar sang") == []


def test_single_word_term_split_in_two() -> None:
    dictionary = ClientDictionary({"codename": ["Bluewhistle"]})
    assert [t for _, t in _found(dictionary, "Blue-whistle, Blue Whistle, blue_whistle")] == [
        "Blue-whistle", "Blue Whistle", "blue_whistle",
    ]  # fmt: skip
    assert _found(dictionary, "she blew a blue whistle") == []  # ordinary prose


def test_fuzzy_budget_by_length() -> None:
    assert [fuzzy_budget(n) for n in (3, 4, 5, 8, 9, 14)] == [0, 0, 1, 1, 2, 2]


def test_one_edit_for_five_to_eight_letters() -> None:
    dictionary = ClientDictionary({"codename": ["Falcon"]})
    assert [t for _, t in _found(dictionary, "Flacon Falcn Falcoon Fabcon")] == ["Flacon", "Falcn", "Falcoon", "Fabcon"]
    assert _found(dictionary, "Fxlcxn Flacno") == []  # two edits


def test_two_edits_from_nine_letters() -> None:
    dictionary = ClientDictionary({"person": ["Raghunathan"]})
    assert [t for _, t in _found(dictionary, "Ragunathn and Raghunathan")] == ["Ragunathn", "Raghunathan"]
    assert _found(dictionary, "Rgunatn") == []


def test_no_fuzzy_matching_for_short_terms() -> None:
    dictionary = ClientDictionary({"codename": ["Orca"]})
    assert [t for _, t in _found(dictionary, "Orca, orcas, Orka, Orcs")] == ["Orca", "orcas"]


def test_ordinary_words_close_to_a_term_are_not_flagged() -> None:
    dictionary = ClientDictionary({"codename": ["Heron", "Baton"]})
    assert _found(dictionary, "our hero met the heroes; bacon on the balcony; a button") == []
    assert [t for _, t in _found(dictionary, "Heron and Herron")] == ["Heron", "Herron"]


def test_allow_words_are_never_fuzzy_matched() -> None:
    assert _found(ClientDictionary({"codename": ["Sparrow"]}), "sparow") == [("codename", "sparow")]
    assert _found(ClientDictionary({"codename": ["Sparrow"]}, allow_words=["sparow"]), "sparow") == []


def test_fuzzy_can_be_switched_off() -> None:
    dictionary = ClientDictionary({"codename": ["Falcon"]}, fuzzy=False)
    assert [t for _, t in _found(dictionary, "Falcons Flacon")] == ["Falcons"]


def test_digits_are_never_fuzzy() -> None:
    assert _found(ClientDictionary({"product": ["Model7"]}), "Model8 Model7") == [("product", "Model7")]


def test_matches_carry_the_canonical_term() -> None:
    (match,) = ClientDictionary({"person": ["Dana Whitlock"]}).find("dana whitlok said")
    assert match.canonical == "Dana Whitlock"
    assert match.confidence < 0.9


def test_edit_distance_counts_transpositions_once() -> None:
    assert edit_distance("falcon", "flacon") == 1
    assert edit_distance("falcon", "falcon") == 0
    assert edit_distance("abc", "xyz", limit=1) == 2
    assert edit_distance("", "abc") == 3


def test_normalise_token() -> None:
    assert normalise_token("FÁLCON") == "falcon"
    assert normalise_token("ﬁnch") == "finch"


def test_thousands_of_terms_over_fifty_thousand_characters() -> None:
    rng = random.Random(7)

    def word(low: int, high: int) -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high))).capitalize()

    terms = {
        "codename": [word(5, 12) for _ in range(3000)],
        "person": [f"{word(3, 7)} {word(5, 10)}" for _ in range(2000)],
    }
    prose = (
        "The quarterly review covered customer feedback, onboarding friction and the pricing experiments "
        "that the growth team ran in several regions over the summer months. "
    )
    text = prose * (50_000 // len(prose) + 1)
    planted = terms["codename"][1234]
    misspelt = planted[:2] + planted[3:]  # one deletion
    person = terms["person"][42]
    text = text[:25_000] + f" {planted} and {misspelt}s with {person.upper()} " + text[25_000:]

    started = time.process_time()
    dictionary = ClientDictionary(terms)
    built = time.process_time()
    found = dictionary.find(text)
    done = time.process_time()

    assert [m.canonical for m in found] == [planted, planted, person]
    # CPU seconds, not wall-clock, so a busy machine does not fail the test.
    assert built - started < 8.0, built - started
    assert done - built < 3.0, done - built
