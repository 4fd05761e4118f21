"""Pre-label prompts and replies per task type (TaskType.prelabel_prompt / parse_prelabel), and templates."""

from __future__ import annotations

import pytest

from bastion.domain.errors import InvalidAnswer, InvalidInput
from bastion.services.labelling import starting_values
from bastion.tasktypes import _prelabel
from bastion.tasktypes.base import installed


def parsed(name: str, raw: dict):
    tt = installed().get(name)
    return tt, tt.parse_config({"type": name, **raw})


def test_classification_lists_the_labels_and_reads_one_back():
    tt, config = parsed(
        "classification",
        {"labels": ["billing", {"value": "shipping", "description": "parcels"}], "instructions": "Be strict."},
    )
    messages = tt.prelabel_prompt(config, {"text": "Where is my parcel?"})
    assert messages[0]["role"] == "system" and "- billing\n- shipping: parcels" in messages[0]["content"]
    assert "Be strict." in messages[0]["content"] and "exactly one" in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": "Where is my parcel?"}
    for reply in ("shipping", "Shipping.", '"shipping"', "- shipping\nbecause parcels", "  `SHIPPING`  "):
        assert tt.validate_prediction(config, {}, tt.parse_prelabel(config, {}, reply)) == {"label": "shipping"}
    for reply in ("", "postage", "The label is shipping"):
        with pytest.raises(InvalidAnswer, match="reply"):
            tt.parse_prelabel(config, {}, reply)


def test_classification_multiple_reads_several_labels():
    tt, config = parsed("classification", {"labels": ["a", "b", "c"], "multiple": True})
    assert "every label that applies" in tt.prelabel_prompt(config, {"text": "x"})[0]["content"]
    result = tt.parse_prelabel(config, {}, "c\nA, c")
    assert tt.validate_prediction(config, {}, result) == {"labels": ["a", "c"]}  # normalised: config order
    with pytest.raises(InvalidAnswer, match="'d' is not a label"):
        tt.parse_prelabel(config, {}, "a\nd")
    with pytest.raises(InvalidAnswer, match="no label"):
        tt.parse_prelabel(config, {}, "\n , \n")


def test_a_template_replaces_the_system_prompt_and_names_only_offered_values():
    tt, config = parsed("classification", {"labels": ["x", "y"]})
    messages = tt.prelabel_prompt(config, {"text": "{{labels}}"}, "Pick:\n{{labels}}\n{{ instructions }}")
    assert messages[0]["content"] == "Pick:\n- x\n- y\n" and messages[1]["content"] == "{{labels}}"  # data not rendered
    assert _prelabel.check_template("Pick {{labels}}", tt.prelabel_values) is None
    assert "{{text}} is not a value" in _prelabel.check_template("{{text}}", tt.prelabel_values)
    assert _prelabel.check_template("  ", tt.prelabel_values) == "must be non-empty text"


def test_writing_sends_the_conversation_and_the_reply_is_the_draft():
    tt, config = parsed("writing", {"checklist": ["Polite"], "instructions": "Short."})
    data = {
        "conversation": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Help"},
        ]
    }
    messages = tt.prelabel_prompt(config, data)
    assert messages[0]["role"] == "system" and "Short." in messages[0]["content"]
    assert [m["content"] for m in messages[1:]] == ["Hi", "Hello", "Help"]
    assert tt.validate_prediction(config, data, tt.parse_prelabel(config, data, "Sure.\r\nHere.")) == {
        "text": "Sure.\nHere."
    }
    with pytest.raises(InvalidAnswer):
        tt.parse_prelabel(config, data, "   ")


@pytest.mark.parametrize("name", ["spans", "ranking", "preference", "image", "rubric"])
def test_types_without_pre_labels_say_so(name):
    tt = installed().get(name)
    config = tt.parse_config(tt.template)
    assert tt.prelabel_refusal(config) == f"task type {name} does not offer pre-labels"
    with pytest.raises(InvalidInput, match="does not offer pre-labels"):
        tt.prelabel_prompt(config, tt.sample_data(config))


def test_the_widget_starts_from_a_models_result_and_names_its_version():
    shown, version = starting_values([{"result": {"label": "a"}, "model_version": "mep_x/m/abc"}, {"label": "b"}])
    assert shown == [{"label": "a"}, {"label": "b"}] and version == "mep_x/m/abc"
    assert starting_values([{"label": "b"}]) == ([{"label": "b"}], None)
    assert starting_values(None) == ([], None)
