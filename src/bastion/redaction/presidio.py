"""Optional named-entity detector backed by Microsoft Presidio.

Deterministic detectors and client dictionaries catch what has a shape or a
name on a list; people and places nobody listed need a statistical model.
Presidio is an optional extra (``presidio-analyzer`` plus a spaCy model), not a
dependency: it is imported only when a policy asks for it (``redaction.ner``),
and a missing install is a configuration error that says what to install.

Its scores become match confidences unchanged, so a project's ``review_below``
threshold decides which uncertain names hold an item for owner review.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .detectors import Match
from ..domain.errors import InvalidConfig

# Presidio's entity names -> the entity types (and so pseudonym labels) we use.
PRESIDIO_TYPES: dict[str, str] = {
    "PERSON": "person",
    "LOCATION": "location",
    "NRP": "group",
    "ORGANIZATION": "organization",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "DATE_TIME": "date",
    "URL": "url",
}


class PresidioDetector:
    """A :class:`~bastion.redaction.detectors.Detector` over a Presidio ``AnalyzerEngine``.

    ``analyzer`` may be passed in (an engine configured by the caller); by
    default one is built on first use of this class, which needs the optional
    ``presidio-analyzer`` package.
    """

    name = "presidio"

    def __init__(
        self,
        entities: Iterable[str] = ("PERSON", "LOCATION", "NRP"),
        *,
        language: str = "en",
        min_score: float = 0.4,
        analyzer: Any = None,
    ) -> None:
        self._entities = tuple(entities)
        self._language = language
        self._min_score = min_score
        self.entity_types = frozenset(PRESIDIO_TYPES.get(e, e.lower()) for e in self._entities)
        if analyzer is None:
            analyzer = _default_analyzer()
        self._analyzer = analyzer

    def detect(self, text: str) -> list[Match]:
        results = self._analyzer.analyze(text=text, entities=list(self._entities), language=self._language)
        found = []
        for result in results:
            score = float(result.score)
            if score < self._min_score or not 0 <= result.start < result.end <= len(text):
                continue
            entity_type = PRESIDIO_TYPES.get(result.entity_type, str(result.entity_type).lower())
            found.append(
                Match(result.start, result.end, entity_type, text[result.start : result.end], score, self.name)
            )
        return found


def _default_analyzer() -> Any:
    try:
        from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found]
    except ImportError as exc:
        raise InvalidConfig(
            "redaction.ner: the 'presidio' engine needs the optional package presidio-analyzer "
            "and a spaCy language model (pip install presidio-analyzer && python -m spacy download en_core_web_lg)",
            details={"path": "redaction.ner.engine", "missing": "presidio_analyzer"},
        ) from exc
    return AnalyzerEngine()
