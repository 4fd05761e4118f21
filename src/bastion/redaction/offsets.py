"""Offset maps between two versions of a text, and re-identification.

A map records the *edits* that turn a source text into a target text: redaction
(original -> redacted, each value replaced by its pseudonym) and leak-tracing
variants (canonical -> the variant one person sees) both produce one.

    source:  "Mail jane@example.com today"        edit (5, 21) -> (5, 14)
    target:  "Mail [EMAIL_1] today"

Invariants (checked when a map is built):

* edits are sorted, do not overlap, and are non-empty on **both** sides; no pure
  insertions or deletions. That is what makes positions outside edits map back
  and forth exactly: every source position that is not strictly inside an edit
  has exactly one target position, and vice versa.
* a span boundary strictly inside an edit is widened to the edit's boundary: a
  label that covers part of ``[EMAIL_1]`` maps to the whole original address,
  and a label that covers part of a changed phrase covers the whole phrase.

So: ``to_source(to_target(span)) == span`` whenever neither boundary of ``span``
falls strictly inside an edit (spans inside unchanged text shift exactly).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from .pseudonyms import PSEUDONYM_PATTERN, Pseudonymizer
from ..domain.errors import InvalidInput

Side = Literal["start", "end"]


@dataclass(frozen=True, slots=True)
class Edit:
    source_start: int
    source_end: int
    target_start: int
    target_end: int


class OffsetMap:
    """Maps positions and spans between a source text and a target text."""

    __slots__ = ("source_length", "target_length", "edits", "_source_starts", "_target_starts")

    def __init__(self, source_length: int, target_length: int, edits: Sequence[Edit] = ()) -> None:
        self.source_length = source_length
        self.target_length = target_length
        self.edits = tuple(edits)
        previous_source = previous_target = 0
        for edit in self.edits:
            if edit.source_start >= edit.source_end or edit.target_start >= edit.target_end:
                raise InvalidInput("an offset edit must be non-empty on both sides", details=edit)
            if edit.source_start < previous_source or edit.target_start < previous_target:
                raise InvalidInput("offset edits must be sorted and must not overlap", details=edit)
            if edit.source_start - previous_source != edit.target_start - previous_target:
                raise InvalidInput("unchanged text between edits must have the same length on both sides", details=edit)
            previous_source, previous_target = edit.source_end, edit.target_end
        if source_length - previous_source != target_length - previous_target:
            raise InvalidInput("the text after the last edit must have the same length on both sides")
        self._source_starts = [e.source_start for e in self.edits]
        self._target_starts = [e.target_start for e in self.edits]

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        return cls(length, length)

    @property
    def is_identity(self) -> bool:
        return not self.edits

    # ------------------------------------------------------------------ positions

    def position_to_target(self, position: int, side: Side = "start") -> int:
        return self._map(position, side, forward=True)

    def position_to_source(self, position: int, side: Side = "start") -> int:
        return self._map(position, side, forward=False)

    def _map(self, position: int, side: Side, *, forward: bool) -> int:
        length = self.source_length if forward else self.target_length
        if not 0 <= position <= length:
            raise InvalidInput(f"offset {position} is outside the text (length {length})")
        starts = self._source_starts if forward else self._target_starts
        index = bisect.bisect_left(starts, position) - 1  # last edit starting strictly before position
        if index < 0:
            return position
        edit = self.edits[index]
        here_start, here_end, there_start, there_end = (
            (edit.source_start, edit.source_end, edit.target_start, edit.target_end)
            if forward
            else (edit.target_start, edit.target_end, edit.source_start, edit.source_end)
        )
        if position < here_end:
            return there_start if side == "start" else there_end
        return there_end + (position - here_end)

    # ------------------------------------------------------------------ spans

    def to_target(self, start: int, end: int) -> tuple[int, int]:
        """A source span on the target text (boundaries inside an edit widen to it)."""
        _check_span(start, end)
        return self._map(start, "start", forward=True), self._map(end, "end", forward=True)

    def to_source(self, start: int, end: int) -> tuple[int, int]:
        """A target span on the source text (boundaries inside an edit widen to it)."""
        _check_span(start, end)
        return self._map(start, "start", forward=False), self._map(end, "end", forward=False)

    # Redaction reads better with these names: the source is the original text.
    to_redacted = to_target
    to_original = to_source

    def is_inside_edit(self, position: int, *, in_source: bool = True) -> bool:
        """True when ``position`` falls strictly inside an edit (and so cannot map exactly)."""
        starts = self._source_starts if in_source else self._target_starts
        index = bisect.bisect_left(starts, position) - 1
        if index < 0:
            return False
        edit = self.edits[index]
        return position < (edit.source_end if in_source else edit.target_end)

    # ------------------------------------------------------------------ storage

    def to_json(self) -> dict[str, object]:
        return {
            "source_length": self.source_length,
            "target_length": self.target_length,
            "edits": [[e.source_start, e.source_end, e.target_start, e.target_end] for e in self.edits],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> OffsetMap:
        try:
            edits = [Edit(*map(int, raw)) for raw in data["edits"]]  # type: ignore[attr-defined]
            return cls(int(data["source_length"]), int(data["target_length"]), edits)  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("malformed offset map") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OffsetMap) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.source_length, self.target_length, self.edits))

    def __repr__(self) -> str:
        return f"OffsetMap(source_length={self.source_length}, target_length={self.target_length}, edits={len(self.edits)})"


def _check_span(start: int, end: int) -> None:
    if start > end:
        raise InvalidInput(f"span start {start} is after its end {end}")


def apply_replacements(text: str, replacements: Iterable[tuple[int, int, str]]) -> tuple[str, OffsetMap]:
    """Replace ``text[start:end]`` by each new string; return the new text and its map.

    Replacements must not overlap; one whose new string equals the old one is
    skipped (it is not an edit).
    """
    pieces: list[str] = []
    edits: list[Edit] = []
    cursor = 0
    target = 0
    for start, end, new in sorted(replacements, key=lambda r: (r[0], r[1])):
        if start < cursor:
            raise InvalidInput(f"replacements overlap at offset {start}")
        if not 0 <= start < end <= len(text) or not new:
            raise InvalidInput(f"a replacement must cover a non-empty span and insert a non-empty string (at {start})")
        if text[start:end] == new:
            continue
        pieces.append(text[cursor:start])
        target += start - cursor
        edits.append(Edit(start, end, target, target + len(new)))
        pieces.append(new)
        target += len(new)
        cursor = end
    pieces.append(text[cursor:])
    result = "".join(pieces)
    return result, OffsetMap(len(text), len(result), edits)


class _Identified(Protocol):
    pseudonym: str
    original: str


def reidentify(text: str, source: Pseudonymizer | Iterable[_Identified]) -> str:
    """Replace every pseudonym token in ``text`` by the value it stands for.

    ``source`` is the task's :class:`Pseudonymizer` or the findings of its
    redaction (objects with ``pseudonym`` and ``original``): pseudonyms are
    numbered per task, so a token means something only in its own task. Tokens
    the source does not know are left as they are. Owner-only: the result is
    the confidential text.

    Trap: a text that already contained a literal ``[PERSON_1]`` before redaction
    is indistinguishable from a pseudonym here; map spans with the offset map,
    not by re-parsing tokens, when exactness matters.
    """
    if isinstance(source, Pseudonymizer):
        lookup = source.find_original
    else:
        known: dict[str, str] = {}
        for finding in source:
            known.setdefault(finding.pseudonym, finding.original)
        lookup = known.get  # type: ignore[assignment]  # dict.get is overloaded; this is its one-argument form

    def replace(match: re.Match[str]) -> str:
        original = lookup(match.group(0))
        return match.group(0) if original is None else original

    return PSEUDONYM_PATTERN.sub(replace, text)
