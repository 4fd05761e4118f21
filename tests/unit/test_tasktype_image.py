import pytest
from starlette.datastructures import FormData

from bastion.domain.errors import InvalidAnswer, InvalidConfig
from bastion.tasktypes import installed

TT = installed().get("image")
REF = "fil_" + "0" * 32
DATA = {"image": REF, "width": 320, "height": 240}


def config(**extra):
    return TT.parse_config({"type": "image", "box_labels": ["car", "tree"], **extra})


def test_boxes_are_rounded_and_checked_against_the_image():
    out = TT.validate_result(config(), DATA, {"boxes": [{"x": 10.004, "y": 20, "w": 30.5, "h": 40, "label": "car"}]})
    assert out == {"boxes": [{"x": 10, "y": 20, "w": 30.5, "h": 40, "label": "car"}]}


@pytest.mark.parametrize(
    "box,message",
    [
        (
            {"x": 300, "y": 0, "w": 30, "h": 10, "label": "car"},
            "result.boxes[0]: x + w = 330 is past the image's width (320)",
        ),
        ({"x": 0, "y": 200, "w": 30, "h": 50, "label": "car"}, "past the image's height"),
        ({"x": -1, "y": 0, "w": 30, "h": 10, "label": "car"}, "starts outside the image"),
        ({"x": 0, "y": 0, "w": 0, "h": 10, "label": "car"}, "w and h must be more than 0"),
        ({"x": 0, "y": 0, "w": 5, "h": 10, "label": "boat"}, "result.boxes[0].label: 'boat' is not a box label"),
        ({"x": "0", "y": 0, "w": 5, "h": 10, "label": "car"}, "result.boxes[0].x: required, a number"),
        ({"x": float("nan"), "y": 0, "w": 5, "h": 10, "label": "car"}, "result.boxes[0].x"),
    ],
)
def test_bad_boxes(box, message):
    with pytest.raises(InvalidAnswer) as info:
        TT.validate_result(config(), DATA, {"boxes": [box]})
    assert message in info.value.message


def test_image_labels_and_form():
    c = config(image_labels=["day", "night"])
    assert [label.hotkey for label in c.box_labels + c.image_labels] == ["1", "2", "3", "4"]
    form = FormData([("result", '{"boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "tree"}]}'), ("label", "night")])
    assert TT.validate_result(c, DATA, TT.result_from_form(c, form)) == {
        "boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "tree"}],
        "label": "night",
    }
    with pytest.raises(InvalidAnswer, match="choose an image label"):
        TT.result_from_form(c, FormData([("result", '{"boxes": []}')]))


def test_references_must_be_stored_files_never_urls():
    assert "is not a stored file" in TT.check_data(config(), {"image": "http://169.254.169.254/latest"})
    assert "is not a stored file" in TT.check_data(config(), {"image": "images/cat.png"})
    assert TT.check_data(config(), DATA) is None
    assert "data.width" in TT.check_data(config(), {"image": REF, "width": -3})


def test_config_needs_something_to_label_and_free_keys():
    with pytest.raises(InvalidConfig, match="box_labels: give box_labels"):
        TT.parse_config({"type": "image"})
    with pytest.raises(InvalidConfig, match=r"box_labels\[0\].hotkey: 'n' is reserved"):
        TT.parse_config({"type": "image", "box_labels": [{"value": "car", "hotkey": "n"}]})
    with pytest.raises(InvalidConfig, match=r"image_labels\[0\].hotkey: duplicate key"):
        TT.parse_config(
            {
                "type": "image",
                "box_labels": [{"value": "car", "hotkey": "c"}],
                "image_labels": [{"value": "city", "hotkey": "c"}],
            }
        )


def test_predictions_may_be_partial():
    c = config(image_labels=["day", "night"])
    box = {"x": 1, "y": 2, "w": 3, "h": 4, "label": "car"}
    assert TT.validate_prediction(c, DATA, {"boxes": [box]}) == {"boxes": [box]}
    assert TT.validate_prediction(c, DATA, {"boxes": [], "label": "day"}) == {"boxes": [], "label": "day"}
    with pytest.raises(InvalidAnswer, match="predictions: result.boxes\\[0\\].label"):
        TT.validate_prediction(c, DATA, {"boxes": [dict(box, label="boat")]})
    with pytest.raises(InvalidAnswer, match="predictions: result.label"):
        TT.validate_prediction(c, DATA, {"boxes": [], "label": "dusk"})
