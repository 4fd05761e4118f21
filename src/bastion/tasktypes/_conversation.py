"""Prompts and conversations: what the chat-style types (preference, ranking, writing, rubric) show.

A task's prompt lives in one ``data`` field (``prompt_field`` in the config;
by default ``conversation`` if the task has it, else ``prompt``). It is either a
string — one user turn — or a conversation: a list of ``{"role", "content"}``
turns with roles ``system``, ``user`` or ``assistant``. Content is untrusted
Markdown; widgets render it through the sanitising ``markdown`` filter only.

``messages(...)`` gives the prompt as TRL's conversational form (a list of
role/content dicts), ``prompt_text(...)`` as its standard form (a string);
the latter exists only for a single user turn — flattening a conversation
into one string needs the model's chat template, which is the trainer's job.
"""

from __future__ import annotations

from typing import Any

from ..domain.errors import InvalidInput

ROLES = ("system", "user", "assistant")
MAX_TURNS = 500


def find_prompt_field(data: dict, configured: str | None) -> str:
    if configured:
        return configured
    return "conversation" if "conversation" in data else "prompt"


def check_prompt(data: dict, configured: str | None) -> str | None:
    """Why the task's prompt is unusable, naming the field; None when fine."""
    key = find_prompt_field(data, configured)
    value = data.get(key)
    if value is None:
        where = f"data.{key}" if configured else "data.conversation (or data.prompt)"
        return f"{where}: missing (a prompt string or a list of chat turns)"
    if isinstance(value, str):
        return None if value.strip() else f"data.{key}: empty"
    if not isinstance(value, list) or not value:
        return f"data.{key}: must be a string or a non-empty list of {{role, content}} turns"
    if len(value) > MAX_TURNS:
        return f"data.{key}: more than {MAX_TURNS} turns"
    for i, turn in enumerate(value):
        if not isinstance(turn, dict):
            return f"data.{key}[{i}]: must be an object {{role, content}}"
        extra = set(turn) - {"role", "content", "name"}
        if extra:
            return f"data.{key}[{i}].{sorted(extra)[0]}: unknown key (expected role, content)"
        if turn.get("role") not in ROLES:
            return f"data.{key}[{i}].role: must be one of {', '.join(ROLES)}"
        if not isinstance(turn.get("content"), str):
            return f"data.{key}[{i}].content: must be a string"
    return None


def turns(data: dict, configured: str | None) -> list[dict[str, str]]:
    """The prompt as chat turns (a string becomes one user turn)."""
    value = data.get(find_prompt_field(data, configured))
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, list):
        return [{"role": t["role"], "content": t["content"]} for t in value if isinstance(t, dict)]
    return []


def is_conversation(data: dict, configured: str | None) -> bool:
    return isinstance(data.get(find_prompt_field(data, configured)), list)


def messages(data: dict, configured: str | None) -> list[dict[str, str]]:
    return turns(data, configured)


def prompt_text(data: dict, configured: str | None, where: str) -> str:
    """The prompt as one string; a conversation of more than one user turn has none."""
    value = data.get(find_prompt_field(data, configured))
    if isinstance(value, str):
        return value
    t = turns(data, configured)
    if len(t) == 1 and t[0]["role"] == "user":
        return t[0]["content"]
    raise InvalidInput(
        f"{where}: a conversation of {len(t)} turns has no standard (string) form; "
        "export the conversational form (--chat conversational)"
    )


def check_string_list(value: Any, key: str, *, low: int, high: int) -> str | None:
    if not isinstance(value, list):
        return f"data.{key}: must be a list of {low}–{high} strings"
    if not low <= len(value) <= high:
        return f"data.{key}: has {len(value)} items, expected {low}–{high}"
    for i, v in enumerate(value):
        if not isinstance(v, str):
            return f"data.{key}[{i}]: must be a string"
    return None


# The chat-style types' sample item for the config editor's preview (``TaskType.sample_data``).
SAMPLE_PROMPT = "How long should I boil an egg for a soft, runny yolk?"
SAMPLE_RESPONSES = (
    "About **six minutes** in gently boiling water, then a minute in cold water to stop the cooking.",
    "Boil it for ten to twelve minutes; the yolk will be firm and easy to slice.",
    "It depends on the egg's size: five minutes for a small one, seven for a large one.",
)


def sample_prompt(configured: str | None) -> dict[str, Any]:
    """A one-turn prompt under the configured field (or ``prompt``)."""
    return {configured or "prompt": SAMPLE_PROMPT}
