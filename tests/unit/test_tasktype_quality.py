"""What each built-in task type says about its answers: the measures, the methods that fit, and their results."""

from __future__ import annotations

import pytest

from bastion.domain.errors import InvalidInput
from bastion.services.quality import ProjectAnnotation, aggregate, aggregation_methods, agreement_of
from bastion.tasktypes import installed
from bastion.tasktypes.templates import template_config


def rows(results: dict[tuple[str, str], dict]) -> list[ProjectAnnotation]:
    """(task, user) -> result, as the annotations the service reads."""
    return [
        ProjectAnnotation(f"ann_{task}_{user}", "prj_q", task, user, result, None, None, 0, "none", False, None)
        for (task, user), result in results.items()
    ]


def test_every_type_declares_what_fits() -> None:
    assert {tt.name: list(tt.aggregation_methods) for tt in installed()} == {
        "chat": [],
        "classification": ["ds", "mv", "onecoin", "glad", "mace"],
        "image": ["ds", "mv", "onecoin", "glad", "mace"],
        "preference": ["ds", "mv", "onecoin", "glad", "mace"],
        "ranking": ["bt"],
        "rubric": [],
        "spans": [],
        "writing": [],
    }
    assert aggregation_methods("ranking") == ["bt"]
    assert [tt.name for tt in installed() if not tt.agreement_measures] == ["writing"]


@pytest.mark.parametrize(
    ("type_name", "method", "fits"),
    [("ranking", "mv", "bt"), ("writing", "ds", "none"), ("classification", "bt", "ds, mv, onecoin, glad, mace")],
)
def test_a_method_that_does_not_fit_is_refused(type_name, method, fits) -> None:
    with pytest.raises(
        InvalidInput,
        match=rf"^aggregate: '{method}' does not fit {type_name} projects "
        rf"\(methods that fit: {fits}\)$",
    ):
        aggregate(type_name, template_config(type_name), [], method)


def test_preference_answers_keep_their_type() -> None:
    config = template_config("preference")
    answers = {("t1", "a"): 1, ("t1", "b"): 1, ("t1", "c"): 0, ("t2", "a"): "tie", ("t2", "b"): "tie", ("t2", "c"): 0}
    results = {
        key: {"preferred": choice, "strength": "clear"} if choice != "tie" else {"preferred": "tie"}
        for key, choice in answers.items()
    }
    out = aggregate("preference", config, rows(results), "mv")
    assert out["t1"]["label"] == 1 and out["t2"]["label"] == "tie"
    report = agreement_of(
        "preference",
        config,
        [{"task": t, "user": u, "result": r, "is_gold": False, "review": "none"} for (t, u), r in results.items()],
    )
    assert report["kind"] == "categorical" and {row["label"] for row in report["per_label"]} == {0, 1, "tie"}


def test_rankings_aggregate_by_bradley_terry() -> None:
    results = {("t1", "a"): {"ranks": [1, 2, 3]}, ("t1", "b"): {"ranks": [1, 3, 2]}, ("t1", "c"): {"ranks": [2, 1, 3]}}
    out = aggregate("ranking", template_config("ranking"), rows(results), "bt")
    assert out["t1"]["order"][0] == 0 and out["t1"]["n"] == 3 and out["t1"]["method"] == "bt"


def test_image_boxes_alone_are_neither_compared_nor_aggregated() -> None:
    config = {"type": "image", "box_labels": ["car"]}
    results = {("t1", "a"): {"boxes": []}, ("t1", "b"): {"boxes": []}}
    assert (
        agreement_of(
            "image",
            config,
            [{"task": t, "user": u, "result": r, "is_gold": False, "review": "none"} for (t, u), r in results.items()],
        )["kind"]
        == "none"
    )
    assert aggregate("image", config, rows(results), "ds") == {}


def test_gold_and_rejected_answers_are_left_out_of_agreement() -> None:
    config = template_config("classification")
    answers = [
        {"task": "t1", "user": "a", "result": {"label": "positive"}, "is_gold": False, "review": "none"},
        {"task": "t1", "user": "b", "result": {"label": "negative"}, "is_gold": False, "review": "rejected"},
        {"task": "t1", "user": "c", "result": {"label": "negative"}, "is_gold": True, "review": "none"},
    ]
    assert agreement_of("classification", config, answers)["n_ratings"] == 1


def test_chat_agreement_compares_the_choices_turn_by_turn() -> None:
    from bastion.tasktypes.base import Rating

    tt = installed().get("chat")
    config = tt.parse_config({"type": "chat", "models": [{"endpoint": "mep_0a"}, {"endpoint": "mep_0b"}]})

    def chat(*picks):
        return {"turns": [{"choice": {"preferred": p}} if p is not None else {} for p in picks]}

    ratings = [
        Rating("t1", "u1", chat(0, 1, "tie")),
        Rating("t1", "u2", chat(0, 0)),  # the same at turn 1, not at turn 2; no turn 3
        Rating("t2", "u1", chat(1)),
        Rating("t2", "u2", chat(None)),  # turn 1 not judged: nothing to compare
        Rating("t3", "u1", chat(1)),  # alone on its task
    ]
    report = tt.agreement(config, ratings)
    assert report["turn_choice_agreement"] == 0.5 and report["n_turn_pairs"] == 2 and report["n_tasks"] == 1
    assert tt.task_agreement(config, [chat(0, 1), chat(0, 1)]) == 1.0
    assert tt.task_agreement(config, [chat(0)]) is None
    assert tt.agreement(config, ratings[2:])["turn_choice_agreement"] is None
