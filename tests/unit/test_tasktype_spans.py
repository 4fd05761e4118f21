import pytest

from bastion.domain.errors import InvalidAnswer, InvalidConfig
from bastion.tasktypes import installed
from bastion.tasktypes.spans.exports import bio_tags

TT = installed().get("spans")
TEXT = "Ingrid Solberg leads Halvorsen Maritime in Bergen 🚢 since 2021."


def config(**extra):
    return TT.parse_config({"type": "spans", "labels": ["PER", "ORG", "LOC", "DATE"], **extra})


def test_results_are_sorted_deduplicated_and_carry_their_text():
    c = config()
    result = TT.validate_result(
        c,
        {"text": TEXT},
        {
            "spans": [
                {"start": 21, "end": 39, "label": "ORG"},
                {"start": 0, "end": 14, "label": "PER", "text": "Ingrid Solberg"},
                {"start": 21, "end": 39, "label": "ORG"},
            ]
        },
    )
    assert result == {
        "spans": [
            {"start": 0, "end": 14, "label": "PER", "text": "Ingrid Solberg"},
            {"start": 21, "end": 39, "label": "ORG", "text": "Halvorsen Maritime"},
        ]
    }


def test_offsets_count_code_points_not_utf16_units():
    c = config()
    start = TEXT.index("since")
    result = TT.validate_result(
        c, {"text": TEXT}, {"spans": [{"start": start + 6, "end": start + 10, "label": "DATE"}]}
    )
    assert result["spans"][0]["text"] == "2021"


@pytest.mark.parametrize(
    "spans,message",
    [
        ([{"start": 0, "end": 999, "label": "PER"}], "result.spans[0]: offsets 0..999 out of range"),
        ([{"start": 5, "end": 5, "label": "PER"}], "out of range"),
        ([{"start": -1, "end": 3, "label": "PER"}], "out of range"),
        ([{"start": 0, "end": 3, "label": "NOPE"}], "result.spans[0].label: 'NOPE' is not a label"),
        ([{"start": "0", "end": 3, "label": "PER"}], "start and end must be integers"),
        ([{"start": True, "end": 3, "label": "PER"}], "start and end must be integers"),
        ([{"start": 0, "end": 6, "label": "PER", "text": "Olaf"}], "result.spans[0].text: does not match"),
        ([{"start": 0, "end": 6, "label": "PER", "colour": "x"}], "result.spans[0].colour: unknown key"),
        ([{"start": 0, "end": 14, "label": "PER"}, {"start": 7, "end": 20, "label": "ORG"}], "overlap"),
        ("PER 0 14", "result.spans: required"),
    ],
)
def test_malformed_spans_are_refused_naming_the_field(spans, message):
    with pytest.raises(InvalidAnswer) as info:
        TT.validate_result(config(), {"text": TEXT}, {"spans": spans})
    assert message in info.value.message


def test_overlap_when_allowed():
    c = config(allow_overlap=True)
    out = TT.validate_result(
        c, {"text": TEXT}, {"spans": [{"start": 0, "end": 14, "label": "PER"}, {"start": 7, "end": 14, "label": "ORG"}]}
    )
    assert len(out["spans"]) == 2


def test_relations_follow_their_spans_through_sorting():
    c = config(relations=["works_for"])
    out = TT.validate_result(
        c,
        {"text": TEXT},
        {
            "spans": [{"start": 21, "end": 39, "label": "ORG"}, {"start": 0, "end": 14, "label": "PER"}],
            "relations": [{"from": 1, "to": 0, "label": "works_for"}],
        },
    )
    assert out["relations"] == [{"from": 0, "to": 1, "label": "works_for"}]
    assert out["spans"][0]["label"] == "PER"
    for bad, message in [
        ([{"from": 0, "to": 5, "label": "works_for"}], "result.relations[0].to: must be the index"),
        ([{"from": 0, "to": 1, "label": "loves"}], "result.relations[0].label: 'loves' is not a relation"),
        ([{"from": 0, "to": 0, "label": "works_for"}], "cannot relate to itself"),
    ]:
        with pytest.raises(InvalidAnswer) as info:
            TT.validate_result(
                c,
                {"text": TEXT},
                {
                    "spans": [{"start": 21, "end": 39, "label": "ORG"}, {"start": 0, "end": 14, "label": "PER"}],
                    "relations": bad,
                },
            )
        assert message in info.value.message
    with pytest.raises(InvalidAnswer, match="has no relations"):
        TT.validate_result(config(), {"text": TEXT}, {"spans": [], "relations": [{"from": 0, "to": 1, "label": "x"}]})


def test_config_errors_point_at_the_key():
    for raw, message in [
        ({"labels": [{"value": "A", "hotkey": "1"}, {"value": "B", "hotkey": "1"}]}, "labels[1].hotkey: duplicate key"),
        ({"labels": ["A", "A"]}, "labels[1].value: duplicate label"),
        ({"labels": ["A"], "relations": ["r", "r"]}, "relations[1].value: duplicate relation"),
        ({"labels": []}, "labels: List should have at least 1 item"),
    ]:
        with pytest.raises(InvalidConfig) as info:
            TT.parse_config({"type": "spans", **raw})
        assert message in info.value.message


def test_data_must_hold_the_text():
    assert "data.text: missing" in TT.check_data(config(), {"body": "x"})
    assert TT.check_data(config(), {"text": "x" * 60_000}) is None


def test_bio_tags_on_whitespace_tokens():
    text = "Chief executive Ingrid Solberg visited Bergen, Norway."
    spans = [
        {"start": 16, "end": 30, "label": "PER"},
        {"start": 39, "end": 45, "label": "LOC"},
        {"start": 16, "end": 22, "label": "LOC"},
    ]  # overlaps the first: left out
    assert bio_tags(text, spans) == [
        ("Chief", "O"),
        ("executive", "O"),
        ("Ingrid", "B-PER"),
        ("Solberg", "I-PER"),
        ("visited", "O"),
        ("Bergen,", "B-LOC"),
        ("Norway.", "O"),
    ]
