"""Tracing a leak back to the person who was shown it.

Given leaked text and the items that may have been its source (canonical text
and the people each was shown to):

    excerpt ──(a) locate──► source item ──(b) read slots──► observed forms
                                                                  │
    recipients ──(c) score: how many observed forms match each person's codeword
                                                                  │
                 (d) p-value: could an innocent match that well by chance?

(a) Candidate items are found by shared word trigrams, then aligned token by
token (:mod:`bastion.leaks.alignment`); the best item that covers at least half
of the excerpt is its source. Items with the same canonical text (tasks that
differ only in redacted values: pseudonyms are numbered per task) tie, and every
one of them is a source: each is read against its own recipients' codewords, so
the leak is traced to whichever of them it came from.

(b) For every slot of the item, the text between the nearest aligned words on
either side is compared with the two forms (edit distance, with the same
context on both); a clear winner is a reading, anything else (the slot is
outside the excerpt, damaged, or reworded) is no reading and is ignored.

(c, d) An innocent recipient's bits are independent, uniform and unknown to the
leaker, so the number of readings that match an innocent's codeword is
Binomial(n, 1/2) whatever the leaked text says. For each recipient the tail
``P(Bin(n, 1/2) >= k)`` is computed exactly and corrected for the number of
recipients compared (``1 - (1 - p)^N``, Šidák). A recipient is named a suspect
only when the corrected value is below ``alpha`` (default 1e-4); otherwise the
answer is "inconclusive", never a guess.

Evidence accumulates: several excerpts (of one or many items) are pooled before
scoring; a slot read twice with different results is dropped.

Collusion: people who compare their copies see where they differ. Where all
colluders' copies agree, the leak carries their common bit; where they differ,
they may pick either form or reword the place (no reading: ignored, never
counted against anyone). Each colluder therefore agrees with about
1/2 + 2^-c of the readings (c colluders) instead of 1/2 for an innocent; the
same exact test names them once enough slots are observed, and because it
bounds every innocent's false-accusation probability whatever the leak
contains, pooling more items never raises that bound. Several suspects in one
report are how collusion shows up. Paraphrase is different: rewording every
slot destroys the evidence altogether; canaries (:mod:`bastion.leaks.canaries`)
are the answer there.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from .alignment import Alignment, Folded, Tokens, align, clean_excerpt, fold, fold_form, shingles, tokenize
from .slots import DEFAULT_SETTINGS, Region, Slot, VariantSettings, find_slots
from .variants import slot_bit, slot_key_material
from ..domain.errors import InvalidInput
from ..redaction.editdistance import edit_distance

DEFAULT_ALPHA = 1e-4
MIN_COVERAGE = 0.5
_ANCHOR_REACH = 48  # folded characters between a slot and the aligned word that anchors it


@dataclass(frozen=True)
class SourceItem:
    """A text someone was shown: canonical text (after redaction), who saw it, what was protected."""

    task_id: str
    text: str
    recipients: tuple[str, ...]
    field_path: str = ""
    protected: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SourceMatch:
    excerpt_index: int
    task_id: str
    field_path: str
    coverage: float  # share of the excerpt's tokens aligned with the item
    runner_up: float  # coverage of the next best item (close to coverage: the source is ambiguous)


@dataclass(frozen=True)
class SlotReading:
    task_id: str
    field_path: str
    slot_key: str
    kind: str
    form: int  # 0 canonical form seen, 1 alternate form seen


@dataclass(frozen=True)
class RecipientScore:
    person_id: str
    observed: int  # readings from items this person was shown
    matched: int  # readings equal to this person's bit
    p_value: float  # P(an innocent matches >= matched of observed)
    corrected: float  # the same, corrected for the number of recipients compared


@dataclass(frozen=True)
class TraceReport:
    verdict: Literal["conclusive", "inconclusive", "no_source"]
    sources: tuple[SourceMatch, ...]
    readings: tuple[SlotReading, ...]
    scores: tuple[RecipientScore, ...]  # best first
    suspects: tuple[str, ...]  # recipients whose corrected p-value is below alpha, best first
    alpha: float

    @property
    def top(self) -> RecipientScore | None:
        return self.scores[0] if self.scores else None

    @property
    def is_top_unique(self) -> bool:
        """True when the best score is strictly better than the second."""
        if len(self.scores) < 2:
            return bool(self.scores)
        first, second = self.scores[0], self.scores[1]
        return (first.p_value, -first.matched) != (second.p_value, -second.matched)


@dataclass
class _Prepared:
    item: SourceItem
    folded: Folded
    tokens: Tokens
    slots: tuple[Slot, ...]
    # Every slot region in folded coordinates, in text order: (start, end, canonical form, alternate form).
    regions: list[tuple[int, int, str, str]] = field(default_factory=list)
    region_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.regions:
            for slot in self.slots:
                for region in slot.regions:
                    self.regions.append(
                        (
                            self.folded.position(region.start),
                            self.folded.position(region.end),
                            fold_form(region.canonical),
                            fold_form(region.alternate),
                        )
                    )
            self.regions.sort()
            self.region_starts = [r[0] for r in self.regions]


class SourceIndex:
    """Candidate items, indexed once; reuse it for every trace against the same items."""

    def __init__(self, items: Iterable[SourceItem], *, settings: VariantSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self.items: list[SourceItem] = list(items)
        self._prepared: dict[int, _Prepared] = {}
        self._by_shingle: dict[tuple[str, ...], set[int]] = defaultdict(set)
        self._by_task: dict[tuple[str, str], int] = {}
        for position, item in enumerate(self.items):
            key = (item.task_id, item.field_path)
            if key in self._by_task:
                raise InvalidInput(f"task {item.task_id!r} field {item.field_path!r} is listed twice")
            self._by_task[key] = position
            for shingle in shingles(tokenize(fold(item.text).text)):
                self._by_shingle[shingle].add(position)

    def with_recipients(self, recipients: Mapping[str, Sequence[str]]) -> SourceIndex:
        """A view sharing this index, with the recipients of some tasks replaced."""
        view = object.__new__(SourceIndex)
        view.settings = self.settings
        view.items = [
            replace(item, recipients=tuple(recipients[item.task_id])) if item.task_id in recipients else item
            for item in self.items
        ]
        view._prepared = self._prepared
        view._by_shingle = self._by_shingle
        view._by_task = self._by_task
        return view

    def prepared(self, position: int) -> _Prepared:
        ready = self._prepared.get(position)
        if ready is None:
            item = self.items[position]
            folded = fold(item.text)
            slots = tuple(find_slots(item.text, protected=item.protected, settings=self.settings))
            ready = _Prepared(item, folded, tokenize(folded.text), slots)
            self._prepared[position] = ready
        if ready.item is not self.items[position]:
            ready = replace(ready, item=self.items[position])
        return ready

    def candidates(self, excerpt: Tokens, limit: int = 3) -> list[int]:
        """The ``limit`` items sharing most trigrams with the excerpt, and every item tied with the last."""
        counts: dict[int, int] = defaultdict(int)
        for shingle in shingles(excerpt):
            for position in self._by_shingle.get(shingle, ()):
                counts[position] += 1
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        if len(ranked) > limit:
            cut = ranked[limit - 1][1]
            ranked = [(position, count) for position, count in ranked if count >= cut]
        return [position for position, count in ranked if count >= 2]


def trace_leak(
    excerpts: str | Sequence[str],
    items: SourceIndex | Sequence[SourceItem],
    secret: bytes,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_coverage: float = MIN_COVERAGE,
) -> TraceReport:
    """Who leaked ``excerpts``? See the module docstring for the method and its guarantees."""
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must be between 0 and 1")
    index = items if isinstance(items, SourceIndex) else SourceIndex(items)
    texts = [excerpts] if isinstance(excerpts, str) else list(excerpts)
    key = slot_key_material(secret)

    sources: list[SourceMatch] = []
    raw_readings: dict[tuple[int, int, str], set[int]] = defaultdict(set)  # (item, slot start, slot key)
    slot_kinds: dict[str, str] = {}
    for excerpt_index, excerpt in enumerate(texts):
        folded = fold(clean_excerpt(excerpt))
        tokens = tokenize(folded.text)
        for position, alignment, coverage, runner_up in _locate(index, tokens, min_coverage):
            ready = index.prepared(position)
            sources.append(SourceMatch(excerpt_index, ready.item.task_id, ready.item.field_path, coverage, runner_up))
            for slot in ready.slots:
                form = read_slot(ready, slot, alignment, folded.text, tokens)
                if form is not None:
                    raw_readings[(position, slot.start, slot.key)].add(form)
                    slot_kinds[slot.key] = slot.kind.value

    if not sources:
        return TraceReport("no_source", (), (), (), (), alpha)

    readings = [
        SlotReading(
            index.items[p].task_id, index.items[p].field_path, slot_key, slot_kinds[slot_key], next(iter(forms))
        )
        for (p, _, slot_key), forms in sorted(raw_readings.items())
        if len(forms) == 1  # read differently in two excerpts: ambiguous, dropped
    ]
    scores = score_recipients(index, readings, key)
    suspects = tuple(s.person_id for s in scores if s.corrected <= alpha)
    verdict: Literal["conclusive", "inconclusive"] = "conclusive" if suspects else "inconclusive"
    return TraceReport(verdict, tuple(sources), tuple(readings), tuple(scores), suspects, alpha)


def _locate(index: SourceIndex, tokens: Tokens, min_coverage: float) -> list[tuple[int, Alignment, float, float]]:
    """The excerpt's source: the best-covering item, or every item tied for best; with the runner-up's coverage.

    An innocent's bits are independent of the leak in every tied item alike, so
    reading each against its own recipients keeps the test exact.
    """
    if not tokens.values:
        return []
    aligned: list[tuple[int, Alignment, float]] = []
    by_text: dict[str, Alignment] = {}  # items with the same text align the same way: align once
    for position in index.candidates(tokens):
        ready = index.prepared(position)
        alignment = by_text.get(ready.folded.text)
        if alignment is None:
            alignment = by_text[ready.folded.text] = align(ready.tokens, tokens)
        aligned.append((position, alignment, alignment.matched / len(tokens.values)))
    if not aligned:
        return []
    best = max(coverage for _, _, coverage in aligned)
    if best < min_coverage:
        return []
    tied = [entry for entry in aligned if entry[2] == best]
    others = [coverage for _, _, coverage in aligned if coverage < best]
    runner_up = best if len(tied) > 1 else max(others, default=0.0)
    return [(position, alignment, coverage, runner_up) for position, alignment, coverage in tied]


def read_slot(ready: _Prepared, slot: Slot, alignment: Alignment, excerpt: str, excerpt_tokens: Tokens) -> int | None:
    """Which form of ``slot`` the excerpt shows: 0, 1, or None when it cannot tell."""
    forms = set()
    for region in slot.regions:
        form = _read_region(ready, region, alignment, excerpt, excerpt_tokens)
        if form is not None:
            forms.add(form)
    return forms.pop() if len(forms) == 1 else None


def _read_region(
    ready: _Prepared, region: Region, alignment: Alignment, excerpt: str, excerpt_tokens: Tokens
) -> int | None:
    folded = ready.folded
    start = folded.position(region.start)
    end = folded.position(region.end)
    tokens = ready.tokens
    left = _anchor(tokens, alignment, start, before=True)
    right = _anchor(tokens, alignment, end, before=False)
    # At the very start or end of the item there is no word to anchor on: the
    # excerpt's own start or end serves, if the item also starts or ends there.
    if left is None and _last_token_ending_by(tokens, start) < 0 and right is not None:
        left_end, seen_start = 0, 0
    elif left is not None:
        left_end, seen_start = tokens.ends[left], excerpt_tokens.ends[alignment.partner[left]]
    else:
        return None
    if right is None and _first_token_starting_from(tokens, end) >= len(tokens.values) and left is not None:
        right_start, seen_end = len(folded.text), len(excerpt)
    elif right is not None:
        right_start, seen_end = tokens.starts[right], excerpt_tokens.starts[alignment.partner[right]]
    else:
        return None
    seen = excerpt[seen_start:seen_end]
    own = (fold_form(region.canonical), fold_form(region.alternate))
    befores = _contexts(ready, left_end, start)
    afters = _contexts(ready, end, right_start)
    longest = max(len(b) for b in befores) + max(len(f) for f in own) + max(len(a) for a in afters)
    if len(seen) > longest + 12:
        return None  # the anchors are far apart in the excerpt: something else is in between
    limit = longest // 3 + 2
    distances = [min(edit_distance(seen, b + form + a, limit) for b in befores for a in afters) for form in own]
    if distances[0] == distances[1] or min(distances) >= limit:
        return None
    return 0 if distances[0] < distances[1] else 1


def _contexts(ready: _Prepared, start: int, end: int) -> list[str]:
    """The folded canonical text between two positions, with each neighbouring slot in either form."""
    text = ready.folded.text
    first = bisect.bisect_left(ready.region_starts, start)
    inside = []
    for region in ready.regions[first:]:
        if region[0] >= end:
            break
        if region[1] <= end:
            inside.append(region)
    if not inside or len(inside) > 3:
        return [text[start:end]]
    out = [""]
    cursor = start
    for region_start, region_end, canonical, alternate in inside:
        gap = text[cursor:region_start]
        out = [prefix + gap + form for prefix in out for form in (canonical, alternate)]
        cursor = region_end
    return [prefix + text[cursor:end] for prefix in out]


def _anchor(tokens: Tokens, alignment: Alignment, position: int, *, before: bool) -> int | None:
    """The nearest reliably aligned canonical token wholly before (or after) a folded position.

    A lone punctuation mark matched on its own is too easily a coincidence; a
    word, or anything inside a longer matched run, is trusted.
    """
    step = -1 if before else 1
    i = _last_token_ending_by(tokens, position) if before else _first_token_starting_from(tokens, position)
    while 0 <= i < len(tokens.values):
        distance = position - tokens.ends[i] if before else tokens.starts[i] - position
        if distance > _ANCHOR_REACH:
            return None
        if alignment.partner[i] >= 0 and (alignment.block[i] >= 2 or tokens.values[i][0].isalnum()):
            return i
        i += step
    return None


def _last_token_ending_by(tokens: Tokens, position: int) -> int:
    return bisect.bisect_right(tokens.ends, position) - 1


def _first_token_starting_from(tokens: Tokens, position: int) -> int:
    return bisect.bisect_left(tokens.starts, position)


def score_recipients(index: SourceIndex, readings: Sequence[SlotReading], key: bytes) -> list[RecipientScore]:
    """Every recipient of an item with readings, with their match counts and p-values, best first."""
    by_item: dict[tuple[str, str], list[SlotReading]] = defaultdict(list)
    for reading in readings:
        by_item[(reading.task_id, reading.field_path)].append(reading)
    observed: dict[str, int] = defaultdict(int)
    matched: dict[str, int] = defaultdict(int)
    for (task_id, field_path), item_readings in by_item.items():
        item = index.items[index._by_task[(task_id, field_path)]]
        for person in dict.fromkeys(item.recipients):
            observed[person] += len(item_readings)
            matched[person] += sum(
                1 for r in item_readings if slot_bit(key, person, task_id, r.slot_key, field_path) == r.form
            )
    compared = len(observed)
    scores = []
    for person, n in observed.items():
        p = binomial_tail(n, matched[person])
        scores.append(RecipientScore(person, n, matched[person], p, sidak(p, compared)))
    scores.sort(key=lambda s: (s.p_value, -s.matched, s.person_id))
    return scores


def binomial_tail(n: int, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exact."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n


def sidak(p: float, comparisons: int) -> float:
    """Probability that at least one of ``comparisons`` independent innocents does as well."""
    if p >= 1.0 or comparisons <= 0:
        return min(1.0, p)
    return -math.expm1(comparisons * math.log1p(-p))
