"""The redaction policy of a project, and redacting one item with it.

The policy lives in a project's config under ``redaction``::

    redaction:
      detectors: [email, phone, payment_card, iban, ip_address, jwt, ...]   # default: all
      dictionaries:
        codename: [Falcon, Project Nightjar]
        person: [Dana Whitlock]
      allow_words: [heroic]          # never fuzzy-matched
      allow_values: [support@example.com]   # never redacted
      review_below: 0.5              # a finding less confident than this holds the item
      fields: ["prompt", "messages[].content"]   # default: every string field
      exclude_fields: ["meta.source_id"]

:func:`redact_item` walks the item's data (nested dicts and lists, such as a
conversation ``[{"role", "content"}, ...]``), replaces every finding in every
selected string by its pseudonym, and returns the redacted copy with one offset
map per changed field and the findings (owner-only: they hold the originals).
One item is one task: its pseudonyms are numbered afresh (``.pseudonyms``), and
a caller that redacts the task's predictions and gold answer too passes the
same :class:`Pseudonymizer` so they share the numbers.

Held items: every finding is redacted, whatever its confidence; a finding below
``review_below`` additionally marks the item **held**, so an owner looks at it
before any annotator does (an undecodable token-shaped string may be a secret
the detectors could not prove).

Field paths: dotted keys, ``[]`` for "any element of a list", ``*`` for "any
key". A path selects everything under it (``messages`` selects
``messages[3].content``). Offsets are reported per concrete path
(``messages[3].content``).
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .detectors import Detector, EntityType, Match, builtin_detectors, resolve_overlaps
from .dictionary import ClientDictionary
from .offsets import OffsetMap, apply_replacements
from .pseudonyms import Pseudonymizer
from ..domain.errors import InvalidConfig
from ..domain.fieldpaths import check_paths, replace_strings, selected, walk_strings

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class NerSettings(BaseModel):
    """An optional named-entity detector (Presidio) for names the dictionaries do not list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["presidio"] = "presidio"
    entities: tuple[str, ...] = ("PERSON", "LOCATION", "NRP")
    language: str = "en"
    min_score: float = Field(0.4, ge=0.0, le=1.0)


def _check_kind(kind: str) -> str:
    if not _KIND.match(kind):
        raise ValueError(f"dictionary kind {kind!r} must be lower-case letters, digits and underscores")
    if kind in {t.value for t in EntityType}:
        raise ValueError(f"dictionary kind {kind!r} is a built-in detector type")
    return kind


def _check_term(term: str) -> str:
    if not any(ch.isalnum() for ch in term):
        raise ValueError(f"dictionary term {term!r} has no letters or digits")
    return term


DictionaryKind = Annotated[str, AfterValidator(_check_kind)]
DictionaryTerm = Annotated[str, AfterValidator(_check_term)]


class RedactionPolicy(BaseModel):
    """What a project hides from annotators (``redaction`` in the project config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    detectors: tuple[EntityType, ...] = tuple(EntityType)
    dictionaries: dict[DictionaryKind, tuple[DictionaryTerm, ...]] = Field(default_factory=dict)
    fuzzy: bool = True
    allow_words: tuple[str, ...] = ()
    allow_values: tuple[str, ...] = ()
    review_below: float = Field(0.5, ge=0.0, le=1.0)
    fields: tuple[str, ...] | None = None
    exclude_fields: tuple[str, ...] = ()
    ner: NerSettings | None = None

    @field_validator("fields", "exclude_fields")
    @classmethod
    def _check_paths(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return check_paths(value)

    @model_validator(mode="after")
    def _check_detectors_unique(self) -> RedactionPolicy:
        if len(set(self.detectors)) != len(self.detectors):
            raise ValueError("detectors lists a type twice")
        return self


def load_policy(raw: Mapping[str, Any] | None, *, path: str = "redaction") -> RedactionPolicy:
    """Validate a policy from a project config; errors name the field path.

    Raises :class:`InvalidConfig` with ``details`` = ``[{"path", "message"}, ...]``.
    """
    try:
        return RedactionPolicy.model_validate(raw or {})
    except ValidationError as exc:
        problems = [{"path": _error_path(path, err["loc"]), "message": err["msg"]} for err in exc.errors()]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InvalidConfig(f"invalid redaction policy: {summary}", details=problems) from exc


def _error_path(prefix: str, loc: Sequence[int | str]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"  # pydantic's marker for "the dict key itself was invalid"
        else:
            out += f".{part}"
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted value. Owner-only: ``original`` is the confidential text."""

    field: str
    entity_type: str
    pseudonym: str
    original: str
    start: int  # in the original field text
    end: int
    redacted_start: int  # in the redacted field text
    redacted_end: int
    confidence: float
    detector: str


@dataclass
class RedactionResult:
    data: Any
    offsets: dict[str, OffsetMap] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    held: bool = False
    held_reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        return "; ".join(self.held_reasons) if self.held_reasons else None


# --------------------------------------------------------------------------- engine


class Redactor:
    """A policy compiled once (detectors chosen, dictionary indexed); reuse it across items."""

    def __init__(self, policy: RedactionPolicy, detectors: Sequence[Detector] | None = None) -> None:
        """``detectors`` replaces the built-in set (tests, custom detectors); all their matches count."""
        self.policy = policy
        wanted = frozenset(t.value for t in policy.detectors)
        # (detector, the entity types kept from it; None keeps everything it reports)
        self._detectors: list[tuple[Detector, frozenset[str] | None]] = []
        if detectors is None:
            self._detectors = [(d, wanted) for d in builtin_detectors() if d.entity_types & wanted]
            if policy.ner is not None:
                from .presidio import PresidioDetector

                ner = PresidioDetector(
                    entities=policy.ner.entities, language=policy.ner.language, min_score=policy.ner.min_score
                )
                self._detectors.append((ner, None))
        else:
            self._detectors = [(d, None) for d in detectors]
        self.dictionary = ClientDictionary(
            {kind: list(terms) for kind, terms in policy.dictionaries.items()},
            fuzzy=policy.fuzzy,
            allow_words=policy.allow_words,
        )
        self._allow_values = {v.casefold() for v in policy.allow_values}

    @property
    def detectors(self) -> list[Detector]:
        return [d for d, _ in self._detectors]

    def find(self, text: str) -> list[Match]:
        """Every finding in ``text`` under this policy, non-overlapping, in text order."""
        matches: list[Match] = []
        for detector, kept in self._detectors:
            matches.extend(m for m in detector.detect(text) if kept is None or m.entity_type in kept)
        matches.extend(self.dictionary.find(text))
        return [m for m in resolve_overlaps(matches) if m.text.casefold() not in self._allow_values]

    def redact_text(
        self, text: str, pseudonyms: Pseudonymizer, field_path: str = ""
    ) -> tuple[str, OffsetMap, list[Finding]]:
        matches = self.find(text)
        tokens = [pseudonyms.pseudonym_for(m.entity_type, m.canonical or m.text).token for m in matches]
        redacted, offsets = apply_replacements(
            text, [(m.start, m.end, token) for m, token in zip(matches, tokens, strict=True)]
        )
        findings = []
        for match, token in zip(matches, tokens, strict=True):
            start, end = offsets.to_target(match.start, match.end)
            findings.append(
                Finding(
                    field=field_path,
                    entity_type=str(match.entity_type),
                    pseudonym=token,
                    original=match.text,
                    start=match.start,
                    end=match.end,
                    redacted_start=start,
                    redacted_end=end,
                    confidence=match.confidence,
                    detector=match.detector,
                )
            )
        return redacted, offsets, findings

    def redact_item(self, data: Mapping[str, Any], pseudonyms: Pseudonymizer | None = None) -> RedactionResult:
        """Redact one task's data; ``pseudonyms`` numbers its values (a new one when not given)."""
        if not self.policy.enabled:
            return RedactionResult(data=copy.deepcopy(dict(data)))
        pseudonyms = Pseudonymizer() if pseudonyms is None else pseudonyms
        result = RedactionResult(data=None)

        replacements: dict[str, str] = {}
        for concrete, segments, value in walk_strings(data):
            if self._selected(segments):
                redacted, offsets, findings = self.redact_text(value, pseudonyms, concrete)
                if findings:
                    result.offsets[concrete] = offsets
                    result.findings.extend(findings)
                    replacements[concrete] = redacted
        result.data = replace_strings(data, replacements)
        for finding in result.findings:
            if finding.confidence < self.policy.review_below:
                result.held = True
                result.held_reasons.append(
                    f"low-confidence {finding.entity_type} in {finding.field} "
                    f"({finding.confidence:.2f} < {self.policy.review_below:.2f})"
                )
        return result

    def _selected(self, segments: tuple[str, ...]) -> bool:
        return selected(self.policy.fields, self.policy.exclude_fields, segments)


_COMPILED: OrderedDict[str, Redactor] = OrderedDict()
_COMPILED_MAX = 32


def compile_policy(policy: RedactionPolicy) -> Redactor:
    """The compiled form of ``policy``, cached (building a big dictionary index takes a while)."""
    key = policy.model_dump_json()
    redactor = _COMPILED.get(key)
    if redactor is None:
        redactor = Redactor(policy)
        _COMPILED[key] = redactor
        if len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(key)
    return redactor


def redact_item(
    data: Mapping[str, Any],
    policy: RedactionPolicy | Redactor,
    pseudonyms: Pseudonymizer | None = None,
) -> RedactionResult:
    """Redact one item's data under ``policy``; see the module docstring for the rules."""
    redactor = policy if isinstance(policy, Redactor) else compile_policy(policy)
    return redactor.redact_item(data, pseudonyms)
