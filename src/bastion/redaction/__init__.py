"""Redaction: annotators never see what they do not need to.

Pure functions and small classes, no storage and no web: detectors
(:mod:`.detectors`, :mod:`.credentials`), client dictionaries
(:mod:`.dictionary`), pseudonyms numbered per task
(:mod:`.pseudonyms`), offset maps and re-identification (:mod:`.offsets`), and
the project policy with :func:`redact_item` (:mod:`.policy`). The optional
Presidio detector lives in :mod:`.presidio` and is imported only on demand.
"""

from .detectors import Detector, EntityType, Match, builtin_detectors, detect, resolve_overlaps
from .dictionary import ClientDictionary
from .offsets import Edit, OffsetMap, apply_replacements, reidentify
from .policy import (
    Finding,
    NerSettings,
    RedactionPolicy,
    RedactionResult,
    Redactor,
    compile_policy,
    load_policy,
    redact_item,
)
from .pseudonyms import PSEUDONYM_PATTERN, Pseudonym, Pseudonymizer, label_for, normalise_value

__all__ = [
    "PSEUDONYM_PATTERN",
    "ClientDictionary",
    "Detector",
    "Edit",
    "EntityType",
    "Finding",
    "Match",
    "NerSettings",
    "OffsetMap",
    "Pseudonym",
    "Pseudonymizer",
    "RedactionPolicy",
    "RedactionResult",
    "Redactor",
    "apply_replacements",
    "builtin_detectors",
    "compile_policy",
    "detect",
    "label_for",
    "load_policy",
    "normalise_value",
    "redact_item",
    "reidentify",
    "resolve_overlaps",
]
