"""Grading against gold answers, per kind of answer."""

import pytest

from bastion.tasktypes import _gold, installed


def test_choice_and_ties():
    assert _gold.choice({"preferred": 1}, {"preferred": 1}, "preferred") == 1.0
    assert _gold.choice({"preferred": 0}, {"preferred": 1}, "preferred") == 0.0
    assert _gold.choice({"preferred": "tie"}, {"preferred": 1}, "preferred") == 0.5


def test_ranks():
    assert _gold.ranks({"ranks": [1, 2, 3]}, {"ranks": [1, 2, 3]}) == 1.0
    assert _gold.ranks({"ranks": [3, 2, 1]}, {"ranks": [1, 2, 3]}) == 0.0
    assert 0.0 < _gold.ranks({"ranks": [2, 1, 3]}, {"ranks": [1, 2, 3]}) < 1.0


def test_spans_f1():
    gold = {"spans": [{"start": 0, "end": 4, "label": "ORG"}, {"start": 10, "end": 14, "label": "PER"}]}
    assert _gold.spans(gold, gold) == 1.0
    half = {"spans": [{"start": 0, "end": 4, "label": "ORG"}]}
    assert _gold.spans(half, gold) == pytest.approx(2 / 3)
    assert _gold.spans({"spans": []}, {"spans": []}) == 1.0


def test_rubric_distance():
    scales = {"accuracy": (1, 5), "safety": None}
    gold = {"scores": {"accuracy": 5, "safety": "pass"}}
    assert _gold.rubric(gold, gold, scales) == 1.0
    assert _gold.rubric({"scores": {"accuracy": 4, "safety": "pass"}}, gold, scales) == pytest.approx(1 - 0.25 / 2)
    assert _gold.rubric({"scores": {"accuracy": 1, "safety": "fail"}}, gold, scales) == 0.0


def test_boxes_iou():
    box = {"x": 10, "y": 10, "w": 20, "h": 20, "label": "car"}
    assert _gold.boxes({"boxes": [box]}, {"boxes": [box]}) == 1.0
    shifted = {**box, "x": 30}
    assert _gold.boxes({"boxes": [shifted]}, {"boxes": [box]}) == 0.0
    assert _gold.boxes({"boxes": [{**box, "label": "tree"}]}, {"boxes": [box]}) == 0.0


def test_every_type_grades_its_own_gold_as_right():
    types = installed()
    samples = {
        "classification": ({"type": "classification", "labels": ["a", "b"]}, {"text": "x"}, {"label": "a"}),
        "preference": (
            {"type": "preference"},
            {"conversation": [{"role": "user", "content": "q"}], "responses": ["a", "b"]},
            {"preferred": 1, "strength": "clear"},
        ),
        "ranking": (
            {"type": "ranking"},
            {"conversation": [{"role": "user", "content": "q"}], "responses": ["a", "b", "c"]},
            {"ranks": [2, 1, 3]},
        ),
    }
    for name, (raw, data, answer) in samples.items():
        tt = types.get(name)
        config = tt.parse_config(raw)
        result = tt.validate_result(config, data, answer)
        assert tt.gold_score(config, data, result, result) == 1.0, name


def test_spans_type_grades_by_f1_not_exact_match():
    spans_type = installed().get("spans")
    gold = {"spans": [{"start": 0, "end": 4, "label": "ORG"}, {"start": 10, "end": 14, "label": "PER"}]}
    half = {"spans": [{"start": 0, "end": 4, "label": "ORG"}]}
    assert spans_type.gold_score(None, {}, half, gold) == pytest.approx(2 / 3)
    assert spans_type.gold_score(None, {}, gold, gold) == 1.0


def test_image_label_and_boxes_both_count():
    box = {"x": 10, "y": 10, "w": 20, "h": 20, "label": "car"}
    gold = {"label": "street", "boxes": [box]}
    assert _gold.boxes({"label": "street", "boxes": [box]}, gold) == 1.0
    assert _gold.boxes({"label": "beach", "boxes": [box]}, gold) == 0.5
    assert _gold.boxes({"label": "street", "boxes": []}, gold) == 0.5
    assert _gold.boxes({"label": "beach"}, {"label": "street"}) == 0.0
