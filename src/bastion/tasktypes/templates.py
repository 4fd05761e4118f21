"""Ready configs for ``bastion project create --template TYPE``: one complete example per type.

They are the examples of docs/task-types.md (a test keeps the two equal), and
each parses with its type's config model, so a template is always a config
that works as it is — edit it from there.
"""

from __future__ import annotations

import copy
from typing import Any

from ..domain.errors import InvalidConfig

TEMPLATES: dict[str, dict[str, Any]] = {
    "classification": {
        "type": "classification",
        "field": "text",
        "labels": [
            {"value": "positive", "hotkey": "p", "description": "Pleased, grateful, recommends it"},
            {"value": "negative", "hotkey": "n", "description": "Unhappy, complains, warns others"},
            "neutral",
        ],
        "other": {"value": "other", "hotkey": "o", "description": "None of these: say what"},
        "multiple": False,
        "instructions": "Choose the sentiment of the **whole** message.",
    },
    "spans": {
        "type": "spans",
        "field": "text",
        "labels": [
            {"value": "PERSON", "hotkey": "p", "description": "People, by name"},
            {"value": "ORG", "hotkey": "o", "description": "Companies, agencies, institutions"},
            {"value": "LOCATION", "hotkey": "l", "description": "Cities, countries, places"},
            {"value": "DATE", "hotkey": "d"},
            {"value": "MONEY", "hotkey": "m"},
        ],
        "allow_overlap": False,
        "relations": ["works_for", "located_in"],
        "instructions": "Mark every entity. Select with the mouse or the arrow keys, then press its key.",
    },
    "preference": {
        "type": "preference",
        "responses_field": "responses",
        "allow_tie": True,
        "strength": True,
        "criteria": [
            {"value": "helpfulness", "description": "Does it solve the user's problem?"},
            {"value": "honesty", "description": "Is it accurate, and candid about uncertainty?"},
            {"value": "harmlessness", "description": "Does it avoid harm without refusing needlessly?"},
        ],
        "rationale": "optional",
        "randomize": True,
        "instructions": "Which response would you rather receive? Press **A** or **B** (**T** for a tie), "
                        "then **1**–**3** for how much better.",
    },
    "ranking": {
        "type": "ranking",
        "responses_field": "responses",
        "allow_ties": False,
        "randomize": True,
        "instructions": "Order the responses from best to worst: press their numbers, best first.",
    },
    "writing": {
        "type": "writing",
        "min_length": 100,
        "max_length": 20000,
        "checklist": [
            "Every fact is correct, and nothing is made up",
            "It answers every part of the request",
        ],
        "instructions": "Write the reply an expert would give. Improve the draft when there is one.",
    },
    "rubric": {
        "type": "rubric",
        "response_field": "response",
        "scale": {"min": 1, "max": 5},
        "criteria": [
            {"name": "accuracy", "description": "Facts, numbers and code are correct"},
            {"name": "helpfulness", "description": "It does what the user needed"},
            {"name": "clarity", "description": "Well organised and easy to follow", "comment": "off"},
            {"name": "safety", "scale": ["pass", "fail"], "comment": "required"},
        ],
        "instructions": "Grade the response on each criterion; explain a safety grade.",
    },
    "image": {
        "type": "image",
        "field": "image",
        "box_labels": ["car", "house", "tree", "sign"],
        "image_labels": [{"value": "day", "hotkey": "y"}, {"value": "night", "hotkey": "t"}],
        "multiple": False,
        "instructions": "Draw a tight box around every object and label it; then say whether it is day or night.",
    },
}


def template_config(name: str) -> dict[str, Any]:
    """A copy of the ready config for ``name``."""
    try:
        return copy.deepcopy(TEMPLATES[name])
    except KeyError:
        raise InvalidConfig(f"--template: no template {name!r} (one of: {', '.join(TEMPLATES)})") from None
