"""Label lists shared by the types that label with keys (classification, spans, image).

A label is a string or ``{"value", "hotkey"?, "description"?}``. Hotkeys are
single characters compared case-insensitively; labels without one get 1…9,
then 0, in order, skipping keys already taken. Each widget reserves the keys
it uses for itself (S skips everywhere; Enter and Space submit or toggle), and
a config that claims one is refused with the path of the offending label.

The trap: YAML reads ``yes``/``no``/``on``/``off`` as booleans, so a label list
written in YAML can arrive with ``True`` in it; say so instead of "not a string".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_HOTKEYS = "1234567890"
ALWAYS_RESERVED = frozenset({"s", "\n", " "})


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=200)
    hotkey: str | None = Field(default=None, min_length=1, max_length=1)
    description: str = Field(default="", max_length=2000)


def labels_as_objects(value: Any, key: str = "labels") -> Any:
    """Accept plain strings for labels (a pydantic ``mode="before"`` helper)."""
    if not isinstance(value, list):
        return value
    out = []
    for i, v in enumerate(value):
        if isinstance(v, str):
            out.append({"value": v})
        elif isinstance(v, dict):
            out.append(v)
        else:
            hint = " (YAML reads yes/no/on/off as booleans: quote them)" if isinstance(v, bool) else ""
            raise ValueError(f"{key}[{i}]: must be a string or an object {{value, hotkey, description}}{hint}")
    return out


def check_labels(
    labels: list[Label],
    key: str = "labels",
    reserved: frozenset[str] = frozenset(),
    taken: dict[str, str] | None = None,
) -> None:
    """Refuse duplicate values and keys, reserved keys; give the rest default keys.

    ``taken`` maps keys already used elsewhere in the config to where (so two
    label lists of one config cannot share a key).
    """
    reserved = ALWAYS_RESERVED | reserved
    seen: set[str] = set()
    for i, label in enumerate(labels):
        if label.value in seen:
            raise ValueError(f"{key}[{i}].value: duplicate label {label.value!r}")
        seen.add(label.value)
    keys: dict[str, str] = dict(taken or {})
    for i, label in enumerate(labels):
        if label.hotkey is None:
            continue
        k = label.hotkey.lower()
        if k in reserved:
            raise ValueError(f"{key}[{i}].hotkey: {label.hotkey!r} is reserved by this widget")
        if k in keys:
            raise ValueError(f"{key}[{i}].hotkey: duplicate key {label.hotkey!r}")
        keys[k] = f"{key}[{i}]"
    free = (k for k in DEFAULT_HOTKEYS if k not in keys and k not in reserved)
    for i, label in enumerate(labels):
        if label.hotkey is None:
            label.hotkey = next(free, None)
            if label.hotkey:
                keys[label.hotkey] = f"{key}[{i}]"
    if taken is not None:
        taken.update(keys)
