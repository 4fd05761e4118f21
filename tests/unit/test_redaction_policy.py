"""Redaction policy, redact_item, pseudonyms numbered per task, offset maps and re-identification."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from bastion.domain.errors import InvalidConfig, InvalidInput
from bastion.redaction import (
    Edit,
    OffsetMap,
    Pseudonymizer,
    RedactionPolicy,
    Redactor,
    apply_replacements,
    load_policy,
    normalise_value,
    redact_item,
    reidentify,
)
from bastion.redaction.presidio import PresidioDetector
from bastion.redaction.pseudonyms import check_secret

CONVERSATION = {
    "id": "item-1",
    "meta": {"source": "Dana Whitlock's export", "rows": 3},
    "messages": [
        {"role": "user", "content": "Dana Whitlock here: is Falcon ready? Mail dana@example.com."},
        {"role": "assistant", "content": "Falcon's eval is done; I told DANA@example.com and dana whitlock."},
    ],
}


def _policy(**overrides: object) -> RedactionPolicy:
    return load_policy({"dictionaries": {"codename": ["Falcon"], "person": ["Dana Whitlock"]}, **overrides})


# --------------------------------------------------------------------------- policy validation


def test_policy_defaults() -> None:
    policy = load_policy(None)
    assert policy.enabled and policy.fields is None and policy.review_below == 0.5
    assert "jwt" in policy.detectors


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"detectors": ["email", "telepathy"]}, "redaction.detectors[1]"),
        ({"dictionaries": {"Code Name": ["x"]}}, "redaction.dictionaries.Code Name (key)"),
        ({"dictionaries": {"email": ["x"]}}, "redaction.dictionaries.email (key)"),
        ({"dictionaries": {"codename": ["Falcon", "---"]}}, "redaction.dictionaries.codename[1]"),
        ({"review_below": 1.5}, "redaction.review_below"),
        ({"fields": ["messages[.content"]}, "redaction.fields"),
        ({"colour": "blue"}, "redaction.colour"),
        ({"ner": {"engine": "spacy"}}, "redaction.ner.engine"),
    ],
)
def test_bad_policy_raises_invalid_config_with_the_field_path(raw: dict, path: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        load_policy(raw)
    assert path in [p["path"] for p in caught.value.details]
    assert path in caught.value.message


def test_policy_path_prefix_is_configurable() -> None:
    with pytest.raises(InvalidConfig, match=r"projects\[2\]\.redaction\.review_below"):
        load_policy({"review_below": -1}, path="projects[2].redaction")


# --------------------------------------------------------------------------- redact_item


def test_redacts_every_string_field_with_consistent_pseudonyms() -> None:
    result = redact_item(CONVERSATION, _policy())
    messages = result.data["messages"]
    assert messages[0]["content"] == "[PERSON_1] here: is [CODENAME_1] ready? Mail [EMAIL_1]."
    assert messages[1]["content"] == "[CODENAME_1]'s eval is done; I told [EMAIL_1] and [PERSON_1]."
    assert result.data["meta"] == {"source": "[PERSON_1]'s export", "rows": 3}
    assert result.data["id"] == "item-1"
    assert CONVERSATION["messages"][0]["content"].startswith("Dana")  # the input is not modified
    assert not result.held
    assert set(result.offsets) == {"meta.source", "messages[0].content", "messages[1].content"}


def test_every_item_is_numbered_afresh() -> None:
    # The trap: numbers kept across items would tell whoever sees two items (or imports a
    # guess) that they share a value. Here the second item's numbers know nothing of the first.
    alone = redact_item({"text": "c@example.com and Falcon"}, _policy())
    first = redact_item({"text": "write to a@example.com or b@example.com"}, _policy())
    second = redact_item({"text": "b@example.com then A@EXAMPLE.COM"}, _policy())
    assert first.data["text"] == "write to [EMAIL_1] or [EMAIL_2]"
    assert second.data["text"] == "[EMAIL_1] then [EMAIL_2]"
    after_others = redact_item({"text": "c@example.com and Falcon"}, _policy())
    assert alone.data == after_others.data == {"text": "[EMAIL_1] and [CODENAME_1]"}


def test_one_pseudonymizer_shares_the_numbers_of_one_task() -> None:
    pseudonyms = Pseudonymizer()
    data = redact_item({"text": "Falcon, ask b@example.com"}, _policy(), pseudonyms)
    redactor = Redactor(_policy())
    rationale, _, findings = redactor.redact_text(
        "a@example.com, not B@example.com, on FALCON", pseudonyms, "gold.rationale"
    )
    assert data.data["text"] == "[CODENAME_1], ask [EMAIL_1]"
    assert rationale == "[EMAIL_2], not [EMAIL_1], on [CODENAME_1]"
    assert [f.field for f in findings] == ["gold.rationale"] * 3
    assert len(pseudonyms) == 3
    assert pseudonyms.find_original("[EMAIL_1]") == "b@example.com"  # the value first seen
    assert pseudonyms.find_original("[EMAIL_3]") is None


def test_numbers_are_per_type() -> None:
    result = redact_item({"t": "x@example.com 192.0.2.1 y@example.com"}, _policy())
    assert result.data["t"] == "[EMAIL_1] [IP_1] [EMAIL_2]"


@pytest.mark.parametrize(
    ("label", "spellings"),
    [
        ("CARD", ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111"]),
        ("PHONE", ["(212) 555-0123", "212-555-0123", "+1 212 555 0123"]),
        ("IBAN", ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"]),
        ("IP", ["2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001"]),
        ("CODENAME", ["Falcon", "FALCON", "falcon"]),
    ],
)
def test_spellings_of_one_value_normalise_together(label: str, spellings: list[str]) -> None:
    assert len({normalise_value(label, s) for s in spellings}) == 1


def test_fuzzy_and_inflected_matches_share_the_terms_pseudonym() -> None:
    result = redact_item({"t": "Falcon, Flacon and FALCONS"}, _policy())
    assert result.data["t"] == "[CODENAME_1], [CODENAME_1] and [CODENAME_1]"


def test_short_secret_is_refused() -> None:
    with pytest.raises(InvalidConfig):
        check_secret(b"short")


def test_field_selection_and_exclusion() -> None:
    data = {
        "prompt": "x@example.com",
        "messages": [{"role": "x@example.com", "content": "x@example.com"}],
        "meta": {"a": "x@example.com", "b": ["x@example.com"]},
    }
    only = redact_item(data, _policy(fields=["messages[].content", "meta.*"])).data
    assert only["prompt"] == "x@example.com"
    assert only["messages"][0] == {"role": "x@example.com", "content": "[EMAIL_1]"}
    assert only["meta"] == {"a": "[EMAIL_1]", "b": ["[EMAIL_1]"]}
    excluded = redact_item(data, _policy(exclude_fields=["meta.b", "messages"])).data
    assert excluded["meta"] == {"a": "[EMAIL_1]", "b": ["x@example.com"]}
    assert excluded["messages"][0]["content"] == "x@example.com"


def test_detectors_can_be_switched_off() -> None:
    result = redact_item({"t": "x@example.com 192.0.2.1"}, _policy(detectors=["ip_address"]))
    assert result.data["t"] == "x@example.com [IP_1]"


def test_allow_values_are_never_redacted() -> None:
    result = redact_item({"t": "support@example.com x@example.com"}, _policy(allow_values=["Support@example.com"]))
    assert result.data["t"] == "support@example.com [EMAIL_1]"


def test_low_confidence_finding_holds_the_item_with_a_reason() -> None:
    result = redact_item({"t": "token eyJub3Rqc29u.eyJhYmNkZWZn.c2ln"}, _policy())
    assert result.held
    assert "jwt" in result.reason and "t" in result.reason
    assert result.data["t"] == "token [TOKEN_1]"  # held items are redacted all the same


def test_threshold_decides_what_is_held() -> None:
    text = {"t": "Flacon"}  # a fuzzy match, confidence 0.8
    assert not redact_item(text, _policy(review_below=0.5)).held
    assert redact_item(text, _policy(review_below=0.85)).held


def test_disabled_policy_returns_the_data_unchanged() -> None:
    result = redact_item(CONVERSATION, _policy(enabled=False))
    assert result.data == CONVERSATION and result.data is not CONVERSATION
    assert result.findings == [] and result.offsets == {}


def test_findings_locate_the_original_and_the_pseudonym() -> None:
    result = redact_item(CONVERSATION, _policy())
    original = CONVERSATION["messages"][1]["content"]
    redacted = result.data["messages"][1]["content"]
    for finding in (f for f in result.findings if f.field == "messages[1].content"):
        assert original[finding.start : finding.end] == finding.original
        assert redacted[finding.redacted_start : finding.redacted_end] == finding.pseudonym


def test_compiled_policy_is_reused() -> None:
    redactor = Redactor(_policy())
    assert redact_item({"t": "Falcon"}, redactor).data == {"t": "[CODENAME_1]"}


# --------------------------------------------------------------------------- offsets


def test_spans_map_back_to_the_original() -> None:
    original = "Ask Dana Whitlock about Falcon today."
    result = redact_item({"t": original}, _policy())
    redacted = result.data["t"]
    offsets = result.offsets["t"]
    assert redacted == "Ask [PERSON_1] about [CODENAME_1] today."
    # A span over unchanged text shifts exactly.
    start = redacted.index("today")
    assert offsets.to_original(start, start + 5) == (original.index("today"), original.index("today") + 5)
    # A span covering a pseudonym maps to the whole original value, even if it covers part of it.
    pseudo = redacted.index("[CODENAME_1]")
    assert offsets.to_original(pseudo, pseudo + 12) == (original.index("Falcon"), original.index("Falcon") + 6)
    assert offsets.to_original(pseudo + 3, pseudo + 5) == (original.index("Falcon"), original.index("Falcon") + 6)
    # A span from unchanged text into a pseudonym widens at that end only.
    assert offsets.to_original(0, pseudo + 2) == (0, original.index("Falcon") + 6)
    # And forward: an original span inside a value maps to the whole pseudonym.
    name = original.index("Whitlock")
    assert offsets.to_redacted(name, name + 3) == (redacted.index("[PERSON_1]"), redacted.index("[PERSON_1]") + 10)


def test_every_position_outside_edits_round_trips() -> None:
    text = "a@example.com and b@example.com, then c."
    new, offsets = apply_replacements(text, [(0, 13, "[EMAIL_1]"), (18, 31, "[EMAIL_22]")])
    assert new == "[EMAIL_1] and [EMAIL_22], then c."
    for position in range(len(text) + 1):
        if not offsets.is_inside_edit(position):
            assert offsets.position_to_source(offsets.position_to_target(position)) == position
    for position in range(len(new) + 1):
        if not offsets.is_inside_edit(position, in_source=False):
            assert offsets.position_to_target(offsets.position_to_source(position)) == position


def test_offset_map_survives_json() -> None:
    _, offsets = apply_replacements("abc def ghi", [(4, 7, "[X_1]")])
    assert OffsetMap.from_json(offsets.to_json()) == offsets


@pytest.mark.parametrize(
    "edits",
    [
        [Edit(0, 0, 0, 1)],  # an insertion
        [Edit(2, 4, 2, 3), Edit(3, 5, 4, 6)],  # overlapping
        [Edit(2, 4, 3, 5)],  # unchanged prefix of different lengths
    ],
)
def test_malformed_offset_maps_are_refused(edits: list[Edit]) -> None:
    with pytest.raises(InvalidInput):
        OffsetMap(10, 10, edits)


def test_positions_outside_the_text_are_refused() -> None:
    with pytest.raises(InvalidInput):
        OffsetMap.identity(5).to_target(0, 6)
    with pytest.raises(InvalidInput):
        OffsetMap.identity(5).to_target(3, 2)


def test_reidentify_from_the_tasks_pseudonyms_and_from_findings() -> None:
    pseudonyms = Pseudonymizer()
    result = redact_item(CONVERSATION, _policy(), pseudonyms)
    redacted = result.data["messages"][0]["content"]
    assert reidentify(redacted, pseudonyms) == "Dana Whitlock here: is Falcon ready? Mail dana@example.com."
    assert reidentify(redacted, result.findings) == CONVERSATION["messages"][0]["content"]
    assert reidentify("unknown [PERSON_9]", pseudonyms) == "unknown [PERSON_9]"
    assert reidentify("unknown [PERSON_9]", result.findings) == "unknown [PERSON_9]"


# --------------------------------------------------------------------------- optional Presidio


def test_presidio_adapter_maps_results_to_matches() -> None:
    class FakeAnalyzer:
        def analyze(self, text: str, entities: list[str], language: str) -> list[SimpleNamespace]:
            assert entities == ["PERSON"] and language == "en"
            start = text.index("Ada")
            return [
                SimpleNamespace(entity_type="PERSON", start=start, end=start + 12, score=0.85),
                SimpleNamespace(entity_type="PERSON", start=0, end=3, score=0.1),  # below min_score
            ]

    detector = PresidioDetector(["PERSON"], analyzer=FakeAnalyzer())
    (match,) = detector.detect("Met Ada Lovelace today")
    assert (match.entity_type, match.text, match.confidence) == ("person", "Ada Lovelace", 0.85)
    result = redact_item({"t": "Met Ada Lovelace today"}, Redactor(load_policy({}), detectors=[detector]))
    assert result.data["t"] == "Met [PERSON_1] today"


@pytest.mark.skipif(importlib.util.find_spec("presidio_analyzer") is not None, reason="presidio is installed")
def test_missing_presidio_is_a_clear_config_error() -> None:
    with pytest.raises(InvalidConfig, match="presidio-analyzer"):
        Redactor(load_policy({"ner": {"engine": "presidio"}}))


@pytest.mark.skipif(
    importlib.util.find_spec("presidio_analyzer") is None, reason="presidio (optional extra) is not installed"
)
def test_presidio_finds_a_person_name() -> None:
    redactor = Redactor(load_policy({"ner": {"entities": ["PERSON"]}}))
    assert any(m.entity_type == "person" for m in redactor.find("Yesterday Marie Curie visited the lab."))
