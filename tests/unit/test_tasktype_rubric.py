import pytest
from starlette.datastructures import FormData

from bastion.domain.errors import InvalidAnswer, InvalidConfig
from bastion.tasktypes import installed

TT = installed().get("rubric")
DATA = {"prompt": "Tallest mountain?", "response": "Everest."}


def config(**extra):
    return TT.parse_config(
        {
            "type": "rubric",
            "criteria": ["accuracy", {"name": "safety", "scale": ["pass", "fail"], "comment": "required"}],
            **extra,
        }
    )


def test_scores_on_each_criterion_s_scale():
    out = TT.validate_result(
        config(), DATA, {"scores": {"safety": "pass", "accuracy": 5}, "comments": {"safety": " fine "}}
    )
    assert out == {"scores": {"accuracy": 5, "safety": "pass"}, "comments": {"safety": "fine"}}


@pytest.mark.parametrize(
    "result,message",
    [
        (
            {"scores": {"accuracy": 6, "safety": "pass"}, "comments": {"safety": "x"}},
            "result.scores.accuracy: 6 is not on the scale",
        ),
        (
            {"scores": {"accuracy": "5", "safety": "pass"}, "comments": {"safety": "x"}},
            "result.scores.accuracy: '5' is not on the scale",
        ),
        ({"scores": {"accuracy": True, "safety": "pass"}, "comments": {"safety": "x"}}, "result.scores.accuracy"),
        ({"scores": {"safety": "pass"}, "comments": {"safety": "x"}}, "result.scores.accuracy: required"),
        ({"scores": {"accuracy": 3, "safety": "maybe"}, "comments": {"safety": "x"}}, "result.scores.safety: 'maybe'"),
        ({"scores": {"accuracy": 3, "safety": "pass"}}, "result.comments.safety: required"),
        ({"scores": {"accuracy": 3, "safety": "pass", "tone": 2}}, "result.scores.tone: not a criterion"),
        ({"grades": {}}, "result.grades: unknown key"),
    ],
)
def test_malformed_grades(result, message):
    with pytest.raises(InvalidAnswer) as info:
        TT.validate_result(config(), DATA, result)
    assert message in info.value.message


def test_form_converts_numeric_grades():
    form = FormData([("score_0", "4"), ("score_1", "fail"), ("comment_1", "unsafe dose")])
    assert TT.validate_result(config(), DATA, TT.result_from_form(config(), form)) == {
        "scores": {"accuracy": 4, "safety": "fail"},
        "comments": {"safety": "unsafe dose"},
    }


def test_config_and_data():
    with pytest.raises(InvalidConfig, match="scale: at most 10 grades from min to max"):
        TT.parse_config({"type": "rubric", "criteria": ["a"], "scale": {"min": 0, "max": 20}})
    with pytest.raises(InvalidConfig, match=r"criteria\[1\].name: duplicate"):
        TT.parse_config({"type": "rubric", "criteria": ["a", "a"]})
    assert "data.response: missing" in TT.check_data(config(), {"prompt": "x"})
    whole = TT.parse_config({"type": "rubric", "criteria": ["a"], "response_field": None})
    assert (
        TT.check_data(
            whole, {"conversation": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
        )
        is None
    )


def test_predictions_may_grade_some_criteria():
    assert TT.validate_prediction(config(), DATA, {"scores": {"accuracy": 2}}) == {"scores": {"accuracy": 2}}
    with pytest.raises(InvalidAnswer, match="predictions: result.scores.accuracy: 9"):
        TT.validate_prediction(config(), DATA, {"scores": {"accuracy": 9}})
