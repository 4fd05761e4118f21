"""Keyed variant slots: each person sees a slightly different, equally correct text.

A *slot* is a place in the canonical text where two meaning-preserving forms
exist: ``do not`` / ``don't``, a serial comma or none, ``toward`` /
``towards``, ``organise`` / ``organize``, straight or typographic double
quotes, an em dash or a spaced hyphen (:mod:`bastion.leaks.slots` finds them,
and lists what they never touch). For each (person, task) a keyed PRF
(HMAC-SHA256 under the workspace secret) picks one form per slot; nothing is
stored, the choice is recomputed from the secret when a leak is traced.

    canonical   We do not ship on Fridays, Mondays, and holidays.
    person A    We don't ship on Fridays, Mondays, and holidays.     bits 1 0
    person B    We do not ship on Fridays, Mondays and holidays.     bits 0 1

Invariants:

* Labels are stored on the **canonical** text. :class:`Variant` carries an
  :class:`~bastion.redaction.offsets.OffsetMap` (canonical -> shown) used in both
  directions; a slot never overlaps a protected range (a span a label or a
  question depends on), so those spans map exactly, and any span boundary
  outside a slot round-trips exactly.
* Slots never touch numbers, names, code, quoted text, URLs, e-mail addresses
  or pseudonym tokens such as ``[PERSON_3]``.
* Each slot's bit is derived from its own key (kind and canonical position), so
  bits are independent: the statistics in :mod:`bastion.leaks.trace` rely on it.
  A slot whose position changes (the canonical text was edited) simply gets a new,
  independent bit.

Traps: enumerating slots must give the same result at display time and at trace
time, so pass the same ``protected`` ranges and the same :class:`VariantSettings`
to both. Paraphrasing destroys variant slots (see :mod:`bastion.leaks.canaries`
for what survives it). Projects can switch variants off or restrict the kinds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .slots import DEFAULT_SETTINGS, Region, Slot, SlotKind, VariantSettings, find_slots, load_variant_settings
from ..redaction.offsets import OffsetMap, apply_replacements
from ..redaction.pseudonyms import check_secret

__all__ = [
    "DEFAULT_SETTINGS",
    "Region",
    "Slot",
    "SlotKind",
    "Variant",
    "VariantSettings",
    "apply_bits",
    "codeword",
    "find_slots",
    "load_variant_settings",
    "render_variant",
    "slot_bit",
    "slot_key_material",
]


@dataclass(frozen=True)
class Variant:
    """The text one person is shown, and how to map spans back to the canonical text."""

    text: str
    offsets: OffsetMap  # source = canonical, target = this variant
    slots: tuple[Slot, ...]
    bits: tuple[int, ...]  # 1 = the alternate form was shown in that slot

    def to_canonical(self, start: int, end: int) -> tuple[int, int]:
        return self.offsets.to_source(start, end)

    def to_variant(self, start: int, end: int) -> tuple[int, int]:
        return self.offsets.to_target(start, end)


# --------------------------------------------------------------------------- keyed choices

_DOMAIN = b"bastion/leaks/variant-slots/v1"


def slot_key_material(secret: bytes) -> bytes:
    """The per-workspace key variant bits are derived from (domain-separated from other uses)."""
    check_secret(secret)
    return hmac.new(secret, _DOMAIN, hashlib.sha256).digest()


def slot_bit(key: bytes, person_id: str, task_id: str, slot_key: str, field_path: str = "") -> int:
    """The form (0 canonical, 1 alternate) ``person_id`` sees in one slot of one task."""
    message = "\x1f".join((task_id, field_path, person_id, slot_key)).encode("utf-8")
    return hmac.digest(key, message, "sha256")[0] & 1


def codeword(
    secret: bytes, person_id: str, task_id: str, slots: Sequence[Slot], field_path: str = ""
) -> tuple[int, ...]:
    key = slot_key_material(secret)
    return tuple(slot_bit(key, person_id, task_id, s.key, field_path) for s in slots)


def render_variant(
    canonical: str,
    *,
    secret: bytes,
    person_id: str,
    task_id: str,
    field_path: str = "",
    protected: Iterable[tuple[int, int]] = (),
    settings: VariantSettings = DEFAULT_SETTINGS,
) -> Variant:
    """The variant of ``canonical`` shown to ``person_id`` for ``task_id``."""
    slots = tuple(find_slots(canonical, protected=protected, settings=settings))
    bits = codeword(secret, person_id, task_id, slots, field_path)
    return apply_bits(canonical, slots, bits)


def apply_bits(canonical: str, slots: Sequence[Slot], bits: Sequence[int]) -> Variant:
    """Render ``canonical`` with the given choice per slot (1 = alternate form)."""
    replacements = [
        (r.start, r.end, r.alternate) for slot, bit in zip(slots, bits, strict=True) if bit for r in slot.regions
    ]
    text, offsets = apply_replacements(canonical, replacements)
    return Variant(text=text, offsets=offsets, slots=tuple(slots), bits=tuple(bits))
