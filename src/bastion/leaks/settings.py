"""A project's leak-tracing settings (``leak_tracing`` in its config), and which fields they cover.

::

    leak_tracing:
      variants: {enabled: true, kinds: [contraction, serial_comma, synonym, spelling, quotes, dash]}
      fields: ["prompt", "responses[]"]     # default: every string field of the data
      exclude_fields: ["code"]
      min_chars: 40                          # shorter strings (labels, roles, ids) are left alone
      canary_rate: 0.02                      # share of a person's leases that are canaries (0: none)
      overlay: true                          # the faint tiled person id and time on the labelling page

Variants are on by default (a project without the section gets them) and cover
every string of an item's ``data`` that is long enough to carry a slot. A
project whose text must stay byte-for-byte (legal text, code) sets
``variants: {enabled: false}``; canaries and the overlay still work.

Field paths use the redaction policy's syntax (``messages[].content``, ``meta.*``):
a path selects everything under it. Offsets and slot keys are per concrete path
(``messages[3].content``), the same at display time and at trace time — the
trap is computing them from a different selection at either end, which
would read the wrong bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .slots import VariantSettings
from ..domain.errors import InvalidConfig
from ..domain.fieldpaths import check_paths, replace_strings

MAX_CANARY_RATE = 0.2


class LeakTracingSettings(BaseModel):
    """``leak_tracing`` in a project config (``variants``: :class:`~bastion.leaks.slots.VariantSettings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: VariantSettings = VariantSettings()
    fields: tuple[str, ...] | None = None
    exclude_fields: tuple[str, ...] = ()
    min_chars: int = Field(40, ge=1, le=10_000)
    canary_rate: float = Field(0.0, ge=0.0, le=MAX_CANARY_RATE)
    overlay: bool = True

    @field_validator("fields", "exclude_fields")
    @classmethod
    def _check_paths(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return check_paths(value)

    @property
    def variant_settings(self) -> VariantSettings:
        return self.variants


DEFAULT_LEAK_TRACING = LeakTracingSettings()


def load_leak_tracing(raw: Mapping[str, Any] | None, *, path: str = "leak_tracing") -> LeakTracingSettings:
    """Validate the section; errors are :class:`InvalidConfig` naming the field path."""
    if raw is not None and not isinstance(raw, Mapping):
        raise InvalidConfig(f"{path}: must be an object", details=[{"path": path, "message": "must be an object"}])
    try:
        settings = LeakTracingSettings.model_validate(raw or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            problems.append({"path": where, "message": "unknown key" if err["type"] == "extra_forbidden" else message})
        raise InvalidConfig(
            "invalid leak tracing settings: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            details=problems,
        ) from exc
    return settings


def replace_fields(data: Any, replacements: Mapping[str, str]) -> Any:
    """A copy of ``data`` with the strings at the given concrete paths replaced (``data`` itself when none)."""
    return replace_strings(data, replacements) if replacements else data
