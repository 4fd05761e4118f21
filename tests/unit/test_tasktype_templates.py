"""Every template parses, and docs/task-types.md shows each one as its complete example."""

import json
import re
from pathlib import Path

import pytest

from bastion.domain.errors import InvalidAnswer
from bastion.tasktypes import installed
from bastion.tasktypes.templates import TEMPLATES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "task-types.md").read_text()


def test_there_is_a_template_for_every_built_in_type():
    assert set(TEMPLATES) == set(installed().names())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_docs_example_is_the_template(name):
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, re.S)]
    examples = [b for b in blocks if isinstance(b, dict) and b.get("type") == name]
    assert TEMPLATES[name] in examples
    installed().parse_config(TEMPLATES[name])


def test_classification_other_needs_its_text():
    tt = installed().get("classification")
    c = tt.parse_config(TEMPLATES["classification"])
    assert tt.validate_result(c, {}, {"label": "other", "other_text": " sarcasm "}) == {
        "label": "other",
        "other_text": "sarcasm",
    }
    with pytest.raises(InvalidAnswer, match="result.other_text: say what"):
        tt.validate_result(c, {}, {"label": "other"})
    with pytest.raises(InvalidAnswer, match="only with the 'other' label"):
        tt.validate_result(c, {}, {"label": "positive", "other_text": "x"})


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_sample_item_fits_the_template(name):
    """The config editor previews each type on its sample item: one its own import check accepts
    (the image type's names a drawing served with its widget, not a stored file)."""
    tt = installed().get(name)
    config = tt.parse_config(TEMPLATES[name])
    data = tt.sample_data(config)
    if name != "image":
        assert tt.check_data(config, data) is None
    view = tt.preview_context(config, data)
    assert isinstance(view, dict)
    if name == "image":
        assert view["src"] == "/static/tasktypes/image/sample.svg"


def test_config_errors_carry_each_problem_with_its_path():
    from bastion.domain.errors import InvalidConfig, InvalidInput
    from bastion.domain.validation import problems_of

    bad = {
        "type": "classification",
        "labels": ["a", {"value": "b", "hotkey": "xy"}],
        "extra": 1,
    }
    with pytest.raises(InvalidConfig) as caught:
        installed().parse_config(bad)
    assert problems_of(caught.value) == [
        {"path": "labels[1].hotkey", "message": "String should have at most 1 character"},
        {"path": "extra", "message": "unknown key"},
    ]
    with pytest.raises(InvalidConfig) as caught:
        installed().parse_config({"type": "writing", "checklist": ["fine", " "]})
    assert problems_of(caught.value) == [{"path": "checklist[1]", "message": "empty item"}]
    with pytest.raises(InvalidConfig) as caught:
        installed().parse_config({"type": "classification", "labels": ["a", {"value": "b", "hotkey": "s"}]})
    assert problems_of(caught.value) == [{"path": "labels[1].hotkey", "message": "'s' is reserved by this widget"}]
    # An error without details is split at its leading path, or kept whole.
    assert problems_of(InvalidInput("type: unknown task type 'x'")) == [
        {"path": "type", "message": "unknown task type 'x'"}
    ]
    assert problems_of(InvalidInput("nothing to change")) == [{"path": "", "message": "nothing to change"}]
