import pytest

from bastion.domain.errors import InvalidAnswer, InvalidConfig
from bastion.tasktypes import installed

TT = installed().get("classification")


def config(**extra):
    return TT.parse_config({"type": "classification", "labels": ["a", "b", "c"], **extra})


def test_default_hotkeys_skip_taken_keys():
    c = TT.parse_config({"type": "classification", "labels": [{"value": "a", "hotkey": "2"}, "b", "c"]})
    assert [label.hotkey for label in c.labels] == ["2", "1", "3"]


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"labels": ["a", "a"]}, "labels[1].value: duplicate label 'a'"),
        (
            {"labels": [{"value": "a", "hotkey": "x"}, {"value": "b", "hotkey": "X"}]},
            "labels[1].hotkey: duplicate key 'X'",
        ),
        ({"labels": [{"value": "a", "hotkey": "s"}]}, "labels[0].hotkey: 's' is reserved"),
        ({"labels": ["a"], "mutliple": True}, "mutliple: unknown key"),
        ({"labels": [{"value": "a", "colour": "red"}]}, "labels[0].colour: unknown key"),
        ({"labels": "a,b"}, "labels: Input should be a valid list"),
        ({"labels": [True]}, "labels[0]: must be a string"),
    ],
)
def test_config_errors(raw, message):
    with pytest.raises(InvalidConfig) as info:
        TT.parse_config({"type": "classification", **raw})
    assert message in info.value.message


def test_single_choice_results():
    c = config()
    assert TT.validate_result(c, {}, {"label": "b"}) == {"label": "b"}
    for bad, message in [
        ({"label": "z"}, "result.label: 'z' is not a label"),
        ({}, "result.label: required"),
        ({"label": "a", "x": 1}, "result.x: unknown key"),
        (["a"], "result: must be a JSON object"),
        ({"labels": ["a"]}, "result.labels: unknown key"),
    ]:
        with pytest.raises(InvalidAnswer) as info:
            TT.validate_result(c, {}, bad)
        assert message in info.value.message


def test_multiple_choice_results_are_normalised_to_config_order():
    c = config(multiple=True)
    assert TT.validate_result(c, {}, {"labels": ["c", "a"]}) == {"labels": ["a", "c"]}
    for bad in ({"labels": []}, {"labels": ["a", "a"]}, {"labels": ["q"]}, {"label": "a"}):
        with pytest.raises(InvalidAnswer):
            TT.validate_result(c, {}, bad)


def test_data_check_names_the_field():
    c = config(field="body")
    assert TT.check_data(c, {"body": "x"}) is None
    assert TT.check_data(c, {"text": "x"}) == "data.body: missing (the project's config labels this field)"
