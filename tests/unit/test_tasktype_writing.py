import pytest
from starlette.datastructures import FormData

from bastion.domain.errors import InvalidAnswer, InvalidConfig
from bastion.tasktypes import installed

TT = installed().get("writing")
DATA = {"conversation": [{"role": "user", "content": "Explain threads"}]}


def config(**extra):
    return TT.parse_config({"type": "writing", **extra})


def test_an_edited_draft_keeps_the_draft_and_a_diff():
    out = TT.validate_result(
        config(),
        DATA,
        {
            "text": "Threads share memory.\nProcesses do not.\n",
            "draft": "Threads are small.\nProcesses do not.",
            "diff": "forged",
        },
    )
    assert out["text"] == "Threads share memory.\nProcesses do not."
    assert out["draft"] == "Threads are small.\nProcesses do not."
    assert "-Threads are small.\n+Threads share memory.\n" in out["diff"]
    assert out["diff"].startswith("--- draft\n+++ text\n")


def test_length_and_checklist():
    c = config(min_length=10, max_length=20, checklist=["No invented facts", "Answers everything"])
    with pytest.raises(InvalidAnswer, match="3 characters; write at least 10"):
        TT.validate_result(c, DATA, {"text": "  abc  ", "checklist": ["No invented facts", "Answers everything"]})
    with pytest.raises(InvalidAnswer, match="at most 20"):
        TT.validate_result(c, DATA, {"text": "x" * 21})
    with pytest.raises(InvalidAnswer, match="confirm 'Answers everything'"):
        TT.validate_result(c, DATA, {"text": "long enough text", "checklist": ["No invented facts"]})
    with pytest.raises(InvalidAnswer, match="not an item"):
        TT.validate_result(c, DATA, {"text": "long enough text", "checklist": ["Something else"]})
    form = FormData([("text", "long enough text"), ("checklist", "0"), ("checklist", "1")])
    assert TT.validate_result(c, DATA, TT.result_from_form(c, form)) == {
        "text": "long enough text",
        "checklist": ["No invented facts", "Answers everything"],
    }


def test_predictions_are_drafts():
    c = config(min_length=500, checklist=["x"])
    assert TT.validate_prediction(c, DATA, {"text": "short draft"}) == {"text": "short draft"}
    with pytest.raises(InvalidAnswer, match="a draft is"):
        TT.validate_prediction(c, DATA, {"answer": "x"})


def test_config_errors():
    with pytest.raises(InvalidConfig, match="min_length: 50 is more than max_length"):
        TT.parse_config({"type": "writing", "min_length": 50, "max_length": 10})
    with pytest.raises(InvalidConfig, match=r"checklist\[1\]: empty item"):
        TT.parse_config({"type": "writing", "checklist": ["a", " "]})
    with pytest.raises(InvalidConfig, match="text: unknown key"):
        TT.parse_config({"type": "writing", "text": "x"})
