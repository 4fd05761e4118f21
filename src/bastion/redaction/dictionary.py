"""Client dictionaries: codenames, unreleased products, people and partners.

A dictionary maps a *kind* (``codename``, ``person``, ``product``, ...) to the
terms a client wants hidden. :class:`ClientDictionary` finds them in a text:

* case-insensitively and accent-insensitively (``FALCON``, ``Fálcon``);
* across inflections: plural and possessive always (``falcons``, ``Falcon's`` ->
  the span ``Falcon``), derived forms (``-ed``, ``-ing``, ``-er``, ``-ian``,
  ``-ish``) for terms of five letters or more; a hyphenated compound keeps its
  other half visible (``Falcon-based`` -> ``[CODENAME_1]-based``);
* multi-word terms across any whitespace, hyphens or underscores, and written as
  one word (``Project Nightjar``, ``project-nightjar``, ``ProjectNightjar``);
* with small misspellings: one edit (insert, delete, substitute or swap two
  neighbours) for terms of 5-8 letters, two for 9 letters or more, none below
  five letters, where a slip would hit ordinary words.

Speed, and the trap it avoids: a regex per term scanned over the whole text is
O(terms x text) and unusable for thousands of terms over 50,000 characters. The
text is tokenised once; each distinct token is looked up in a hash of normalised
forms (exact) and in a deletion-neighbourhood index (SymSpell: every term form
with up to 1-2 characters deleted, so a lookup only generates the query's own
deletions). Multi-word terms are indexed by each of their tokens and verified in
place, so a misspelling in any word of the term is still found.

False positives: a fuzzy candidate that is itself an ordinary English word
(``hero`` near ``Heron``) or a project's allowed word is never reported;
tokens with digits are never fuzzy-matched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations

from .common_words import COMMON_WORDS
from .detectors import Match, resolve_overlaps
from .editdistance import edit_distance

_TOKEN = re.compile(r"[^\W_]+")
_FLEXIBLE_GAP = re.compile(r"[\s\-\u2010\u2011\u2012\u2013_/]{1,4}")
_PLURAL_SUFFIXES = ("ies", "es", "s")
_DERIVED_SUFFIXES = ("ers", "er", "ing", "ed", "ians", "ian", "ish", "ism", "ist")
_CONFIDENCE_EXACT = 0.95
_CONFIDENCE_INFLECTED = 0.9
_CONFIDENCE_BY_DISTANCE = {1: 0.8, 2: 0.7}


def normalise_token(token: str) -> str:
    """Case-folded, compatibility-normalised, accents removed: the form terms are compared in."""
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def fuzzy_budget(letters: int) -> int:
    """Edits a term of ``letters`` letters tolerates: 0 below 5, 1 for 5-8, 2 from 9."""
    if letters >= 9:
        return 2
    if letters >= 5:
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class Term:
    kind: str
    text: str
    tokens: tuple[str, ...]
    joined: str

    @property
    def budget(self) -> int:
        return fuzzy_budget(len(self.joined))


@dataclass(slots=True)
class _Hit:
    term: Term
    distance: int
    inflected: bool


@dataclass
class _Index:
    exact: dict[str, list[Term]] = field(default_factory=dict)
    deletions: dict[str, set[str]] = field(default_factory=dict)
    multi_by_token: dict[str, list[tuple[Term, int]]] = field(default_factory=dict)


class ClientDictionary:
    """Compiled client terms; build once per policy, call :meth:`find` per text."""

    def __init__(
        self,
        terms: Mapping[str, Iterable[str]],
        *,
        fuzzy: bool = True,
        allow_words: Iterable[str] = (),
    ) -> None:
        self.fuzzy = fuzzy
        self._allow = {normalise_token(w) for w in allow_words} | COMMON_WORDS
        self._index = _Index()
        self._cache: dict[str, tuple[_Hit, ...]] = {}
        self._multi_cache: dict[str, tuple[tuple[Term, int], ...]] = {}
        self.terms: list[Term] = []
        seen: set[tuple[str, ...]] = set()
        for kind, values in terms.items():
            for value in values:
                tokens = tuple(normalise_token(t) for t in _TOKEN.findall(value))
                if not tokens or tokens in seen:
                    continue
                seen.add(tokens)
                term = Term(kind=kind, text=value.strip(), tokens=tokens, joined="".join(tokens))
                self.terms.append(term)
                self._add(term)

    @property
    def entity_types(self) -> frozenset[str]:
        return frozenset(t.kind for t in self.terms)

    def _add(self, term: Term) -> None:
        index = self._index
        index.exact.setdefault(term.joined, []).append(term)
        if term.budget and self.fuzzy:
            for deleted in _deletions(term.joined, term.budget):
                index.deletions.setdefault(deleted, set()).add(term.joined)
        if len(term.tokens) > 1:
            for position, token in enumerate(term.tokens):
                index.multi_by_token.setdefault(token, []).append((term, position))
                if self.fuzzy and fuzzy_budget(len(token)):
                    for deleted in _deletions(token, fuzzy_budget(len(token))):
                        index.deletions.setdefault(deleted, set()).add(token)

    # ------------------------------------------------------------------ lookup

    def find(self, text: str) -> list[Match]:
        """Every dictionary term in ``text``, non-overlapping, in text order."""
        tokens = [(m.start(), m.end(), normalise_token(m.group())) for m in _TOKEN.finditer(text)]
        matches: list[Match] = []
        tried_multi: set[tuple[int, str]] = set()
        for i, (start, end, token) in enumerate(tokens):
            # The exact index holds every term's joined form, so a single token
            # also finds a multi-word term written as one word ("ProjectNightjar").
            for hit in self._lookup(token):
                matches.append(self._match(text, start, end, hit))
            # ...and a one-word term split in two ("Blue-whistle", "blue whistle").
            if i + 1 < len(tokens) and self._may_join(text, tokens[i], tokens[i + 1]):
                for hit in self._lookup_exact(token + tokens[i + 1][2]):
                    matches.append(self._match(text, start, tokens[i + 1][1], hit))
            for term, position in self._multi_candidates(token):
                first = i - position
                key = (first, term.text)
                if first < 0 or key in tried_multi:
                    continue
                tried_multi.add(key)
                found = self._verify_multi(text, tokens, first, term)
                if found is not None:
                    matches.append(found)
        return resolve_overlaps(matches)

    @staticmethod
    def _may_join(text: str, left: tuple[int, int, str], right: tuple[int, int, str]) -> bool:
        """Two tokens may spell one term across a hyphen or underscore, or a space between capitals.

        "a blue whistle" in prose is not the codename "Bluewhistle"; "Blue Whistle" is.
        """
        gap = text[left[1] : right[0]]
        if not _FLEXIBLE_GAP.fullmatch(gap):
            return False
        if not gap.isspace():
            return True
        return text[left[0]].isupper() and text[right[0]].isupper()

    def _match(self, text: str, start: int, end: int, hit: _Hit) -> Match:
        if hit.distance:
            confidence = _CONFIDENCE_BY_DISTANCE[hit.distance]
        else:
            confidence = _CONFIDENCE_INFLECTED if hit.inflected else _CONFIDENCE_EXACT
        return Match(start, end, hit.term.kind, text[start:end], confidence, "dictionary", hit.term.text)

    def _lookup_exact(self, token: str) -> list[_Hit]:
        hits: list[_Hit] = []
        for form, inflected in _forms(token):
            for term in self._index.exact.get(form, ()):
                if inflected and not _inflection_allowed(token, term):
                    continue
                hits.append(_Hit(term, 0, inflected))
            if hits:
                break
        return hits

    def _lookup(self, token: str) -> tuple[_Hit, ...]:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        hits = self._lookup_exact(token)
        if not hits and self.fuzzy and self._may_be_fuzzy(token):
            best: dict[str, _Hit] = {}
            for form, inflected in _forms(token):
                if form in self._allow:
                    continue
                for joined, distance in self._fuzzy(form):
                    for term in self._index.exact.get(joined, ()):
                        if distance <= term.budget and (term.text not in best or best[term.text].distance > distance):
                            best[term.text] = _Hit(term, distance, inflected)
            hits = list(best.values())
        result = tuple(hits)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[token] = result
        return result

    def _may_be_fuzzy(self, token: str) -> bool:
        return len(token) >= 4 and token.isalpha() and token not in self._allow

    def _fuzzy(self, form: str) -> list[tuple[str, int]]:
        """Indexed forms within 1-2 edits of ``form`` (candidates via shared deletions)."""
        if len(form) < 4:
            return []
        reach = 2 if len(form) >= 7 else 1
        candidates: set[str] = set()
        for deleted in _deletions(form, reach):
            candidates |= self._index.deletions.get(deleted, set())
        out = []
        for candidate in candidates:
            budget = fuzzy_budget(len(candidate))
            if budget == 0:
                continue
            distance = edit_distance(form, candidate, budget)
            if 0 < distance <= budget:
                out.append((candidate, distance))
        return out

    def _multi_candidates(self, token: str) -> tuple[tuple[Term, int], ...]:
        # Cached per token like _lookup: the fuzzy neighbourhood is the costly part, and
        # ordinary words recur in every text.
        cached = self._multi_cache.get(token)
        if cached is not None:
            return cached
        index = self._index.multi_by_token
        found = list(index.get(token, ()))
        for form, _ in _forms(token):
            if form != token:
                found.extend(index.get(form, ()))
        if self.fuzzy and self._may_be_fuzzy(token):
            for joined, _distance in self._fuzzy(token):
                found.extend(index.get(joined, ()))
        result = tuple(found)
        if len(self._multi_cache) > 200_000:
            self._multi_cache.clear()
        self._multi_cache[token] = result
        return result

    def _verify_multi(self, text: str, tokens: list[tuple[int, int, str]], first: int, term: Term) -> Match | None:
        count = len(term.tokens)
        if first + count > len(tokens):
            return None
        window = tokens[first : first + count]
        for (_, left_end, _), (right_start, _, _) in zip(window, window[1:], strict=False):
            if not _FLEXIBLE_GAP.fullmatch(text, left_end, right_start):
                return None
        words = [w[2] for w in window]
        best: _Hit | None = None
        for form, inflected in _forms(words[-1]):
            joined = "".join(words[:-1]) + form
            distance = edit_distance(joined, term.joined, term.budget)
            if distance <= term.budget and (best is None or distance < best.distance):
                best = _Hit(term, distance, inflected)
        if best is None:
            return None
        if best.distance and all(w in self._allow or w in term.tokens for w in words):
            return None  # "red hero" is ordinary prose, not a misspelt "Red Heron"
        return self._match(text, window[0][0], window[-1][1], best)


def _forms(token: str) -> list[tuple[str, bool]]:
    """The token, then the same token with an inflectional suffix removed."""
    forms = [(token, False)]
    for suffix in _PLURAL_SUFFIXES + _DERIVED_SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)]
            forms.append((stem, True))
            if suffix == "ies":
                forms.append((stem + "y", True))
            if suffix in ("ed", "er", "ers", "ing") and len(stem) >= 4 and stem[-1] == stem[-2]:
                forms.append((stem[:-1], True))  # "Falconned" is rare, "Orbitted" a typo: allow it
    return forms


def _inflection_allowed(token: str, term: Term) -> bool:
    suffix = token[len(term.joined) :] if token.startswith(term.joined) else ""
    if suffix in ("s", "es", "") or token.endswith("ies"):
        return True
    return len(term.joined) >= 5


def _deletions(word: str, reach: int) -> set[str]:
    out = {word}
    for count in range(1, reach + 1):
        if len(word) - count < 3:
            break
        for positions in combinations(range(len(word)), count):
            out.add("".join(ch for i, ch in enumerate(word) if i not in positions))
    return out
