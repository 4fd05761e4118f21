import pytest
from starlette.datastructures import FormData

from bastion.domain.errors import InvalidAnswer, InvalidConfig
from bastion.tasktypes import installed
from bastion.tasktypes._order import shown_order

TT = installed().get("preference")
DATA = {"conversation": [{"role": "user", "content": "Hi"}], "responses": ["first", "second"]}


def config(**extra):
    return TT.parse_config({"type": "preference", "criteria": ["helpfulness", "honesty"], **extra})


def test_a_full_result_is_normalised():
    out = TT.validate_result(
        config(),
        DATA,
        {
            "preferred": 1,
            "strength": "clear",
            "criteria": {"honesty": "tie", "helpfulness": 1},
            "rationale": "  B is right about sets.  ",
            "shown_order": [1, 0],
        },
    )
    assert out == {
        "preferred": 1,
        "strength": "clear",
        "criteria": {"helpfulness": 1, "honesty": "tie"},
        "rationale": "B is right about sets.",
        "shown_order": [1, 0],
    }


@pytest.mark.parametrize(
    "result,message",
    [
        ({"strength": "clear"}, "result.preferred: required"),
        ({"preferred": 2, "strength": "clear"}, "result.preferred: must be 0 or 1"),
        ({"preferred": True, "strength": "clear"}, "result.preferred: must be 0 or 1"),
        ({"preferred": 0}, "result.strength: required"),
        ({"preferred": 0, "strength": "huge"}, "result.strength: required, one of slight, clear, strong"),
        ({"preferred": "tie", "strength": "slight"}, "result.strength: a tie has no strength"),
        ({"preferred": 0, "strength": "slight", "criteria": {"helpfulness": 0}}, "result.criteria.honesty: required"),
        ({"preferred": 0, "strength": "slight", "criteria": {"wit": 0}}, "result.criteria.wit: not a criterion"),
        ({"preferred": 0, "strength": "slight", "shown_order": [0, 0]}, "result.shown_order: must list the 2"),
        ({"preferred": 0, "strength": "slight", "colour": 1}, "result.colour: unknown key"),
    ],
)
def test_malformed_results(result, message):
    with pytest.raises(InvalidAnswer) as info:
        TT.validate_result(
            config(criteria=["helpfulness", "honesty"]) if "criteria" in result else config(criteria=[]), DATA, result
        )
    assert message in info.value.message


def test_ties_and_rationale_rules():
    with pytest.raises(InvalidAnswer, match="must be 0 or 1"):
        TT.validate_result(config(criteria=[], allow_tie=False), DATA, {"preferred": "tie"})
    with pytest.raises(InvalidAnswer, match="result.rationale: required"):
        TT.validate_result(config(criteria=[], rationale="required"), DATA, {"preferred": 0, "strength": "slight"})
    with pytest.raises(InvalidAnswer, match="does not ask for a rationale"):
        TT.validate_result(
            config(criteria=[], rationale="off"), DATA, {"preferred": 0, "strength": "slight", "rationale": "x"}
        )


def test_form_letters_are_translated_through_the_order_shown():
    c = config(criteria=["helpfulness"])
    form = FormData(
        [("choice", "B"), ("strength", "clear"), ("criterion_0", "A"), ("rationale", "why"), ("shown_order", "1,0")]
    )
    raw = TT.result_from_form(c, form)
    assert TT.validate_result(c, DATA, raw) == {
        "preferred": 0,
        "strength": "clear",
        "criteria": {"helpfulness": 1},
        "rationale": "why",
        "shown_order": [1, 0],
    }
    with pytest.raises(InvalidAnswer, match="shown_order"):
        TT.result_from_form(c, FormData([("choice", "A"), ("shown_order", "0,0")]))


def test_shown_order_is_repeatable_per_person_and_varies_between_people():
    assert shown_order(2, "tsk_1", "usr_a") == shown_order(2, "tsk_1", "usr_a")
    orders = {tuple(shown_order(2, "tsk_1", f"usr_{i}")) for i in range(40)}
    assert orders == {(0, 1), (1, 0)}
    nine = [tuple(shown_order(9, f"tsk_{i}", "usr_a")) for i in range(200)]
    assert all(sorted(o) == list(range(9)) for o in nine)
    firsts = [o[0] for o in nine]
    assert len(set(firsts)) == 9  # every response is shown first sometimes


def test_widget_context_shows_responses_in_that_order():
    view = TT.widget_context(
        config(), DATA, task_id="tsk_1", user_id="usr_a", predictions=[{"preferred": 1, "strength": "strong"}]
    )
    order = shown_order(2, "tsk_1", "usr_a")
    assert [r["text"] for r in view["shown"]] == [DATA["responses"][i] for i in order]
    assert view["pred_choice"] == "AB"[order.index(1)]


def test_data_and_config_checks():
    c = config()
    assert "data.responses: has 3 items" in TT.check_data(c, {"prompt": "x", "responses": ["a", "b", "c"]})
    assert "data.conversation[0].role" in TT.check_data(
        c, {"conversation": [{"role": "bot", "content": "x"}], "responses": ["a", "b"]}
    )
    assert TT.check_data(c, {"prompt": "A plain prompt", "responses": ["a", "b"]}) is None
    with pytest.raises(InvalidConfig, match=r"criteria\[1\].value: duplicate criterion"):
        TT.parse_config({"type": "preference", "criteria": ["a", "a"]})
    with pytest.raises(InvalidConfig, match="rationale: Input should be"):
        TT.parse_config({"type": "preference", "rationale": "sometimes"})


def test_predictions_may_be_partial():
    c = config()
    assert TT.validate_prediction(c, DATA, {"preferred": 1}) == {"preferred": 1}
    assert TT.validate_prediction(c, DATA, {"preferred": 0, "criteria": {"honesty": 1}}) == {
        "preferred": 0,
        "criteria": {"honesty": 1},
    }
    with pytest.raises(InvalidAnswer, match="predictions: result.preferred"):
        TT.validate_prediction(c, DATA, {"preferred": 7})
    with pytest.raises(InvalidAnswer, match="predictions: result.criteria.wit"):
        TT.validate_prediction(c, DATA, {"preferred": 0, "criteria": {"wit": 1}})
