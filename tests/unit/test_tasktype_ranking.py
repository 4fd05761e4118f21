import pytest
from starlette.datastructures import FormData

from bastion.domain.errors import InvalidAnswer
from bastion.tasktypes import installed

TT = installed().get("ranking")
DATA = {"prompt": "Name a dog", "responses": ["Rex", "Maple", "Dog", "Biscuit"]}


def config(**extra):
    return TT.parse_config({"type": "ranking", **extra})


def test_ranks_are_dense():
    assert TT.validate_result(config(), DATA, {"ranks": [2, 1, 4, 3]}) == {"ranks": [2, 1, 4, 3]}
    assert TT.validate_result(config(allow_ties=True), DATA, {"ranks": [1, 1, 4, 3]}) == {"ranks": [1, 1, 3, 2]}


@pytest.mark.parametrize(
    "ranks,message",
    [
        ([1, 2, 3], "result.ranks: 3 ranks for 4 responses"),
        ([1, 2, 3, 4, 5], "5 ranks for 4 responses"),
        ([1, 2, 3, 5], "result.ranks[3]: must be a whole number from 1 to 4"),
        ([0, 1, 2, 3], "result.ranks[0]"),
        ([1, 1, 2, 3], "does not allow ties"),
        (["1", 2, 3, 4], "result.ranks[0]"),
        (None, "result.ranks: required"),
    ],
)
def test_wrong_ranks_are_refused(ranks, message):
    with pytest.raises(InvalidAnswer) as info:
        TT.validate_result(config(), DATA, {"ranks": ranks})
    assert message in info.value.message


def test_form_posts_one_rank_per_original_response():
    form = FormData([("shown_order", "2,0,3,1"), ("rank_0", "2"), ("rank_1", "1"), ("rank_2", "4"), ("rank_3", "3")])
    raw = TT.result_from_form(config(), form)
    assert TT.validate_result(config(), DATA, raw) == {"ranks": [2, 1, 4, 3], "shown_order": [2, 0, 3, 1]}
    with pytest.raises(InvalidAnswer, match="rank every response"):
        TT.result_from_form(config(), FormData([("shown_order", "0,1,2,3"), ("rank_0", "1")]))


def test_between_two_and_nine_responses():
    assert "has 1 items" in TT.check_data(config(), {"prompt": "x", "responses": ["a"]})
    assert "has 10 items" in TT.check_data(config(), {"prompt": "x", "responses": ["a"] * 10})
