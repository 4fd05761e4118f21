"""Leak tracing: anything that leaks carries the fingerprint of whoever leaked it.

Pure functions and small classes, no storage and no web:

* :mod:`.variants` - keyed variant slots chosen per (person, task) with an HMAC
  of the workspace secret, and the offset map between the variant shown and
  the canonical text (labels are always stored on canonical text);
* :mod:`.trace` - locate a leaked excerpt's source item, read the slots, score
  every recipient, and answer "conclusive" only with a corrected p-value;
* :mod:`.canaries` - owner-approved synthetic items with a fictitious fact per
  recipient, which survive paraphrase;
* :mod:`.simulation` - generated items and attacks, for tests and benchmarks.
* :mod:`.cache` - parsed settings and found slots, remembered per runtime
  (``Runtime.leak_cache``; nothing module-global).
"""

from .canaries import CanaryFact, CanaryMatch, CanaryTemplate, canary_fact, match_canary, render_canary
from .trace import (
    DEFAULT_ALPHA,
    RecipientScore,
    SlotReading,
    SourceIndex,
    SourceItem,
    SourceMatch,
    TraceReport,
    trace_leak,
)
from .variants import (
    Region,
    Slot,
    SlotKind,
    Variant,
    VariantSettings,
    apply_bits,
    codeword,
    find_slots,
    load_variant_settings,
    render_variant,
)

__all__ = [
    "DEFAULT_ALPHA",
    "CanaryFact",
    "CanaryMatch",
    "CanaryTemplate",
    "RecipientScore",
    "Region",
    "Slot",
    "SlotKind",
    "SlotReading",
    "SourceIndex",
    "SourceItem",
    "SourceMatch",
    "TraceReport",
    "Variant",
    "VariantSettings",
    "apply_bits",
    "canary_fact",
    "codeword",
    "find_slots",
    "load_variant_settings",
    "match_canary",
    "render_canary",
    "render_variant",
    "trace_leak",
]
