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
