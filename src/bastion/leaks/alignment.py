"""Robust alignment of a leaked excerpt against a canonical item.

A leak rarely arrives intact: it went through a web page and a sanitiser (tags
stripped, entities decoded, whitespace collapsed), a Unicode normaliser (NFKC,
zero-width characters removed), perhaps OCR (a few wrong characters), and it is
often only part of the item. Both texts are *folded* the same way before
comparison: NFKC per character, format characters (zero-width, soft hyphen)
dropped, accents dropped, lower case, typographic apostrophes made straight,
whitespace runs collapsed to one space. The fold keeps a map back to the raw
text, so a slot at raw offsets in the canonical text is found in folded text.

What the fold keeps on purpose: typographic double quotes and dashes. They are
variant slots, and folding them away would erase the evidence being read.

Alignment is done on tokens (words and single punctuation marks) with
``difflib.SequenceMatcher`` (no junk heuristic): a damaged word simply fails to
match and the words around it still anchor the alignment.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

_TAG = re.compile(r"<[^<>]{0,500}>")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_APOSTROPHES = {"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"}


@dataclass(frozen=True)
class Folded:
    """A folded text and, for each folded character, the raw offset it came from."""

    text: str
    raw_index: tuple[int, ...]
    raw_length: int

    def position(self, raw_offset: int) -> int:
        """The folded index of the first folded character at or after ``raw_offset``."""
        return bisect.bisect_left(self.raw_index, raw_offset)


def fold(text: str) -> Folded:
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for composed in unicodedata.normalize("NFKC", ch):
            for c in unicodedata.normalize("NFD", composed):
                category = unicodedata.category(c)
                if category in ("Cf", "Mn", "Cc") and not c.isspace():
                    continue
                if c.isspace():
                    if out and out[-1] == " ":
                        continue
                    c = " "
                else:
                    lowered = c.lower()
                    c = lowered if len(lowered) == 1 else c
                    c = _APOSTROPHES.get(c, c)
                out.append(c)
                index.append(i)
    return Folded("".join(out), tuple(index), len(text))


def fold_form(text: str) -> str:
    """Fold a short string (a slot's form) exactly as texts are folded."""
    return fold(text).text


def clean_excerpt(text: str) -> str:
    """Undo what a copy through a web page does: tags stripped, entities decoded."""
    return html.unescape(_TAG.sub(" ", text))


@dataclass(frozen=True)
class Tokens:
    values: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


def tokenize(folded: str) -> Tokens:
    found = list(_TOKEN.finditer(folded))
    return Tokens(tuple(m.group() for m in found), tuple(m.start() for m in found), tuple(m.end() for m in found))


@dataclass(frozen=True)
class Alignment:
    """Canonical token i matched excerpt token ``partner[i]`` (or -1), inside a block of ``block[i]`` tokens."""

    partner: tuple[int, ...]
    block: tuple[int, ...]
    matched: int

    @property
    def is_empty(self) -> bool:
        return self.matched == 0


def align(canonical: Tokens, excerpt: Tokens) -> Alignment:
    partner = [-1] * len(canonical.values)
    block = [0] * len(canonical.values)
    matcher = SequenceMatcher(None, canonical.values, excerpt.values, autojunk=False)
    matched = 0
    for a, b, size in matcher.get_matching_blocks():
        for offset in range(size):
            partner[a + offset] = b + offset
            block[a + offset] = size
        matched += size
    return Alignment(tuple(partner), tuple(block), matched)


def shingles(tokens: Tokens, width: int = 3) -> set[tuple[str, ...]]:
    """Word n-grams (punctuation dropped) used to find candidate items quickly."""
    words = [t for t in tokens.values if t[0].isalnum()]
    return {tuple(words[i : i + width]) for i in range(max(0, len(words) - width + 1))}
