"""OpenAI-compatible chat completions: the request Bastion sends and the answers it accepts (pure).

Concept. ``POST {base_url}/chat/completions`` with ``{"model", "messages", "stream", …}``
answers either one JSON object (``choices[0].message.content``, ``finish_reason``,
``usage``) or, with ``stream: true``, Server-Sent Events: ``data: {…}`` lines carrying
``choices[0].delta.content`` pieces, a last chunk with the ``finish_reason`` (and, asked
with ``stream_options.include_usage``, one with ``usage``), then ``data: [DONE]``.

What is checked here: the messages (roles, text content), the extra parameters (a fixed
list), and the answers' shapes — an answer that does not have them is a ``RemoteError``
naming what was missing, never a crash. ``messages_digest`` is what the audit log keeps of
a request's messages: a SHA-256 of their canonical JSON, never the text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import InvalidInput, RemoteError

ROLES = ("system", "user", "assistant", "tool", "developer")
MAX_MESSAGES = 500
MAX_MODEL = 200
# Parameters passed through to the endpoint, by the type each must have.
PARAMS: dict[str, tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "max_tokens": (int,),
    "max_completion_tokens": (int,),
    "presence_penalty": (int, float),
    "frequency_penalty": (int, float),
    "seed": (int,),
    "stop": (str, list),
    "response_format": (dict,),
    "user": (str,),
}


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer: its text, why it stopped, the model that answered, the token counts."""

    text: str
    finish_reason: str | None
    model: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Delta:
    """One streamed piece: text (may be empty), and on the last pieces the finish reason or usage."""

    text: str
    finish_reason: str | None = None
    model: str | None = None
    usage: Usage | None = None


def check_messages(messages: Any) -> list[dict[str, str]]:
    """The messages as the endpoint gets them (``role`` and ``content`` only), or InvalidInput naming the bad one."""
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("messages must be a non-empty list of {role, content} objects")
    if len(messages) > MAX_MESSAGES:
        raise InvalidInput(f"at most {MAX_MESSAGES} messages, not {len(messages)}")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) - {"role", "content", "name"}:
            raise InvalidInput(f"messages[{i}] must be an object with role and content (and optionally name)")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InvalidInput(f"messages[{i}].role must be one of {', '.join(ROLES)}, not {role!r}")
        if not isinstance(content, str):
            raise InvalidInput(f"messages[{i}].content must be text")
        one = {"role": role, "content": content}
        if "name" in message:
            if not isinstance(message["name"], str) or not message["name"]:
                raise InvalidInput(f"messages[{i}].name must be non-empty text")
            one["name"] = message["name"]
        out.append(one)
    return out


def check_params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInput("params must be an object")
    for key, value in params.items():
        kinds = PARAMS.get(key)
        if kinds is None:
            raise InvalidInput(f"parameter {key!r} is not passed to model endpoints (allowed: {', '.join(PARAMS)})")
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise InvalidInput(f"parameter {key!r} has the wrong type")
    return dict(params)


def check_model(model: Any) -> str:
    if not isinstance(model, str) or not model.strip() or len(model) > MAX_MODEL:
        raise InvalidInput(f"a model name is 1 to {MAX_MODEL} characters")
    if any(ord(c) < 32 for c in model):
        raise InvalidInput("a model name holds no control characters")
    return model.strip()


def messages_digest(messages: list[dict[str, str]]) -> str:
    """SHA-256 (hex) of the messages' canonical JSON: what the audit log records instead of the text."""
    return hashlib.sha256(orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)).hexdigest()


def request_body(model: str, messages: list[dict[str, str]], params: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {**params, "model": model, "messages": messages, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RemoteError(f"the endpoint's answer has a bad {where}: {value!r}")
    return value


def parse_usage(value: Any) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RemoteError("the endpoint's answer has a usage that is not an object")
    return Usage(
        _count(value.get("prompt_tokens"), "usage.prompt_tokens"),
        _count(value.get("completion_tokens"), "usage.completion_tokens"),
    )


def _first_choice(data: Any, *, streamed: bool) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        raise RemoteError("the endpoint's answer is not a JSON object")
    if "error" in data and "choices" not in data:
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise RemoteError(f"the endpoint reported an error: {str(message)[:300]}")
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise RemoteError("the endpoint's answer has no choices list")
    if not choices:
        if streamed:
            return None  # the usage chunk carries no choice
        raise RemoteError("the endpoint's answer has an empty choices list")
    if not isinstance(choices[0], dict):
        raise RemoteError("the endpoint's answer has a choice that is not an object")
    return choices[0]


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RemoteError(f"the endpoint's answer has a {where} that is not text")
    return value


def _reason(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RemoteError("the endpoint's answer has a finish_reason that is not text")
    return value


def parse_completion(raw: bytes, requested_model: str) -> Completion:
    """A whole (non-streamed) answer, or RemoteError naming what is wrong with it."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RemoteError(f"the endpoint's answer is not JSON ({exc})") from exc
    choice = _first_choice(data, streamed=False)
    assert choice is not None
    message = choice.get("message")
    if not isinstance(message, dict):
        raise RemoteError("the endpoint's answer has no choices[0].message")
    model = data.get("model") if isinstance(data.get("model"), str) else requested_model
    return Completion(
        _text(message.get("content"), "message content"),
        _reason(choice.get("finish_reason")),
        model,
        parse_usage(data.get("usage")) or Usage(),
    )


def parse_event_line(line: str) -> Delta | None | bool:
    """One line of the event stream: a ``Delta``, ``None`` for lines without data (comments, blank
    lines, ``event:``/``id:`` fields), ``True`` for ``data: [DONE]``; RemoteError for a bad one."""
    if not line or line.startswith(":") or not line.startswith("data:"):
        if line and not line.startswith((":", "event:", "id:", "retry:")):
            raise RemoteError(f"the endpoint's event stream has a line that is not an event field: {line[:80]!r}")
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return True
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise RemoteError(f"the endpoint's event stream holds data that is not JSON ({exc})") from exc
    choice = _first_choice(data, streamed=True)
    usage = parse_usage(data.get("usage"))
    model = data.get("model") if isinstance(data.get("model"), str) else None
    if choice is None:
        return Delta("", None, model, usage)
    delta = choice.get("delta") or {}
    if not isinstance(delta, dict):
        raise RemoteError("the endpoint's event stream has a choices[0].delta that is not an object")
    return Delta(_text(delta.get("content"), "delta content"), _reason(choice.get("finish_reason")), model, usage)
