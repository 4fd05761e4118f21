"""Slots: the places in a text where two meaning-preserving forms exist.

:func:`find_slots` lists them for a canonical text; :mod:`bastion.leaks.variants`
decides which form each person sees. The finders are deliberately
conservative: a missed opportunity costs a little evidence, a wrong rewrite
changes what an annotator reads.

What a slot never touches: numbers ("10" vs "ten" is left out entirely:
measurements, dates and lists of figures make it unsafe), names and titles (a
capitalised word changes only at the start of a sentence, and not when the
next word is capitalised too), code (fenced, indented or in backticks), quoted
text (the marks may change style, never what is between them), URLs, e-mail
addresses, HTML tags, pseudonym tokens such as ``[PERSON_3]``, and any range
the caller protects (a span a label or a question depends on; an empty range
protects the point it marks).

Kinds, each a binary choice read back by :mod:`bastion.leaks.trace`:

    contraction   do not / don't, they are / they're (only where both are correct)
    serial_comma  "a, b, and c" / "a, b and c"
    synonym       toward / towards, for example / for instance, Moreover, / Furthermore, ...
    spelling      organise / organize, colour / color, centre / center, modelling / modeling
    quotes        "straight" / “typographic” (both marks are one slot)
    dash          an em dash / a spaced hyphen
    intro_comma   "Usually, the job ..." / "Usually the job ..."
    that          "we think that the ..." / "we think the ..."

Trap: the same text, protected ranges and settings must give the same slots at
display time and at trace time; keep the protected ranges with the item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..domain.errors import InvalidConfig
from ..redaction.pseudonyms import PSEUDONYM_PATTERN


class SlotKind(StrEnum):
    CONTRACTION = "contraction"
    SERIAL_COMMA = "serial_comma"
    SYNONYM = "synonym"
    SPELLING = "spelling"
    QUOTES = "quotes"
    DASH = "dash"
    INTRO_COMMA = "intro_comma"
    THAT = "that"


class VariantSettings(BaseModel):
    """A project's choice (``leak_tracing.variants`` in its config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    kinds: frozenset[SlotKind] = frozenset(SlotKind)


DEFAULT_SETTINGS = VariantSettings()


def load_variant_settings(raw: Mapping[str, Any] | None, *, path: str = "leak_tracing.variants") -> VariantSettings:
    """Validate a project's variant settings; errors are :class:`InvalidConfig` naming the field path."""
    try:
        return VariantSettings.model_validate(raw or {})
    except ValidationError as exc:
        problems = [
            {
                "path": path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]),
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InvalidConfig(f"invalid variant settings: {summary}", details=problems) from exc


@dataclass(frozen=True, slots=True)
class Region:
    """One changed place: ``canonical`` is the text at [start, end), ``alternate`` replaces it."""

    start: int
    end: int
    canonical: str
    alternate: str


@dataclass(frozen=True, slots=True)
class Slot:
    """A binary choice; most have one region, a pair of quote marks has two (one bit for both)."""

    kind: SlotKind
    regions: tuple[Region, ...]

    @property
    def start(self) -> int:
        return self.regions[0].start

    @property
    def end(self) -> int:
        return self.regions[-1].end

    @property
    def key(self) -> str:
        return f"{self.kind.value}@{self.start}"


# --------------------------------------------------------------------------- where slots may not go

_FENCED_CODE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)")
_INLINE_CODE = re.compile(r"`[^`\n]{0,500}`")
_INDENTED_CODE = re.compile(r"(?m)(?:^(?:    |\t)[^\n]*(?:\n|$))+")
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.\-]{1,15}://|www\.)[^\s<>\"]+")
_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_HTML_TAG = re.compile(r"<[^<>\n]{1,300}>")
_QUOTED = re.compile(r"\"[^\"\n]{1,600}\"|“[^“”\n]{1,600}”|‘[^‘’\n]{1,600}’(?![A-Za-z])|«[^«»\n]{1,600}»")


def excluded_ranges(text: str) -> list[tuple[int, int]]:
    """Ranges no slot may overlap: code, URLs, e-mail addresses, tags, pseudonyms, quoted text."""
    ranges: list[tuple[int, int]] = []
    for pattern in (_FENCED_CODE, _INLINE_CODE, _INDENTED_CODE, _URL, _EMAIL, _HTML_TAG, PSEUDONYM_PATTERN):
        ranges.extend(m.span() for m in pattern.finditer(text))
    for m in _QUOTED.finditer(text):
        ranges.append((m.start() + 1, m.end() - 1))  # the marks stay available to the quotes slot
    return ranges


# --------------------------------------------------------------------------- slot finders

_APOSTROPHE = "['’]"
_NEGATIONS = [
    ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("is not", "isn't"),
    ("are not", "aren't"), ("was not", "wasn't"), ("were not", "weren't"), ("cannot", "can't"),
    ("will not", "won't"), ("would not", "wouldn't"), ("could not", "couldn't"), ("should not", "shouldn't"),
    ("has not", "hasn't"), ("have not", "haven't"), ("had not", "hadn't"), ("must not", "mustn't"),
]  # fmt: skip
# Contracted in one direction only: "it's" may stand for "it has", so it is never expanded.
_PRONOUN_FORWARD = [
    ("it is", "it's"), ("that is", "that's"), ("there is", "there's"), ("what is", "what's"), ("here is", "here's"),
    ("who is", "who's"),
]  # fmt: skip
# "we have" contracts only before a past participle ("we've seen", not "we've a car").
_PERFECT = [("we have", "we've"), ("they have", "they've"), ("you have", "you've"), ("i have", "i've")]
_PARTICIPLE_AFTER = re.compile(
    r" (?:[a-z]{3,}(?<!e)ed|been|done|made|said|seen|taken|given|written|known|shown|grown|found|built|sent|spent"
    r"|brought|bought|thought|taught|caught|left|lost|kept|met|paid|told|won|begun|chosen|spoken|broken|driven"
    r"|eaten|fallen|forgotten|got|gotten|had|heard|held|hidden|led|meant|sold|stood|understood|become|come|gone)\b"
)
_PRONOUN_BOTH = [
    ("we are", "we're"), ("they are", "they're"), ("you are", "you're"), ("i am", "i'm"),
    ("we will", "we'll"), ("they will", "they'll"), ("you will", "you'll"), ("i will", "i'll"), ("it will", "it'll"),
]  # fmt: skip
_PRONOUNS_AFTER = re.compile(r"\s+(?:it|he|she|they|we|you|i|there|that|this|one)\b", re.IGNORECASE)
_NEXT_IS_WORD = re.compile(r" [a-z]")


def _phrase_pattern(phrase: str) -> str:
    return r"\s".join(re.escape(word).replace("'", _APOSTROPHE) for word in phrase.split(" "))


def _contraction_table() -> tuple[dict[str, tuple[str, str]], re.Pattern[str]]:
    table: dict[str, tuple[str, str]] = {}  # lower form -> (alternate, role)
    for expanded, contracted in _NEGATIONS:
        table[expanded] = (contracted, "expand-neg")
        table[contracted] = (expanded, "contract-neg")
    for expanded, contracted in _PRONOUN_FORWARD:
        table[expanded] = (contracted, "expand-pron")
    for expanded, contracted in _PRONOUN_BOTH:
        table[expanded] = (contracted, "expand-pron")
        table[contracted] = (expanded, "contract-pron")
    for expanded, contracted in _PERFECT:
        table[expanded] = (contracted, "expand-perfect")
        table[contracted] = (expanded, "contract-pron")
    pattern = re.compile(
        r"(?<![\w'’])(?:" + "|".join(_phrase_pattern(p) for p in sorted(table, key=len, reverse=True)) + r")(?![\w'’])",
        re.IGNORECASE,
    )
    return table, pattern


# Built once: slots are found every time a new item is shown, on the labelling hot path.
_CONTRACTIONS, _CONTRACTION_PATTERN = _contraction_table()


def _contraction_slots(text: str, apostrophe: str) -> list[Slot]:
    table, pattern = _CONTRACTIONS, _CONTRACTION_PATTERN
    slots = []
    for m in pattern.finditer(text):
        found = m.group()
        key = re.sub(r"\s", " ", found.lower().replace("’", "'"))
        alternate, role = table[key]
        if found.isupper() and len(found) > 2:
            continue  # shouting: "DO NOT" is emphasis, keep it
        after = text[m.end() : m.end() + 12]
        if role == "expand-pron" and not _NEXT_IS_WORD.match(after):
            continue  # "as they are." cannot become "as they're."
        if role == "expand-perfect" and not _PARTICIPLE_AFTER.match(text[m.end() : m.end() + 24]):
            continue
        if role == "contract-neg" and _PRONOUNS_AFTER.match(after):
            continue  # "isn't it?" / "don't you think" cannot be expanded in place
        if "\n" in found:
            continue
        alternate = _match_case(found, alternate.replace("'", apostrophe))
        if key.startswith("i ") or key.startswith("i'"):
            alternate = "I" + alternate[1:]
        slots.append(Slot(SlotKind.CONTRACTION, (Region(m.start(), m.end(), found, alternate),)))
    return slots


_CONJUNCTION = re.compile(r"(?P<comma>,?) (?P<conj>and|or) (?=[A-Za-z\[“\"])")
_CLAUSE_BREAK = re.compile(r"[.;:!?()\n\"“”]")


def _serial_comma_slots(text: str) -> list[Slot]:
    """ ", and" <-> " and" at the end of a list of three or more items."""
    slots = []
    for m in _CONJUNCTION.finditer(text):
        head = text[max(0, m.start() - 160) : m.start()]
        breaks = list(_CLAUSE_BREAK.finditer(head))
        sentence = head[breaks[-1].end() :] if breaks else head
        if "," not in sentence:
            continue
        last_item = sentence.rsplit(",", 1)[1]
        words = last_item.split()
        if not 1 <= len(words) <= 4 or any(ch.isdigit() for ch in last_item) or not last_item.startswith(" "):
            continue
        if not sentence[: sentence.rfind(",")].strip():
            continue
        if m.start() > 0 and not (text[m.start() - 1].isalpha() or text[m.start() - 1] in "]’'\"”"):
            continue
        canonical = m.group(0)[: m.end("conj") - m.start()]
        alternate = canonical[1:] if m.group("comma") else "," + canonical
        slots.append(Slot(SlotKind.SERIAL_COMMA, (Region(m.start(), m.end("conj"), canonical, alternate),)))
    return slots


# (form, alternate, condition): "start" = only at the start of a sentence, "conj" = only as a conjunction.
_SYNONYMS: list[tuple[str, str, str]] = [
    ("among", "amongst", ""), ("amongst", "among", ""), ("toward", "towards", ""), ("towards", "toward", ""),
    ("afterward", "afterwards", ""), ("afterwards", "afterward", ""), ("for example", "for instance", ""),
    ("for instance", "for example", ""), ("perhaps", "maybe", ""), ("maybe", "perhaps", "adverb"),
    ("although", "though", ""), ("though", "although", "conj"), ("whilst", "while", ""), ("while", "whilst", "conj"),
    ("each other", "one another", ""), ("one another", "each other", ""), ("a lot of", "lots of", ""),
    ("lots of", "a lot of", ""), ("in order to", "to", ""), ("email", "e-mail", ""), ("e-mail", "email", ""),
    ("emails", "e-mails", ""), ("e-mails", "emails", ""), ("website", "web site", ""), ("web site", "website", ""),
    ("websites", "web sites", ""), ("web sites", "websites", ""), ("dataset", "data set", ""), ("data set", "dataset", ""),
    ("datasets", "data sets", ""), ("data sets", "datasets", ""), ("percent", "per cent", ""), ("per cent", "percent", ""),
    ("gray", "grey", ""), ("grey", "gray", ""),
    ("in addition,", "additionally,", "start"), ("additionally,", "in addition,", "start"),
    ("moreover,", "furthermore,", "start"), ("furthermore,", "moreover,", "start"),
    ("therefore,", "thus,", "start"), ("thus,", "therefore,", "start"),
    ("in short,", "in brief,", "start"), ("in brief,", "in short,", "start"),
    ("in the meantime,", "meanwhile,", "start"), ("meanwhile,", "in the meantime,", "start"),
    ("first,", "firstly,", "start"), ("firstly,", "first,", "start"),
    ("roughly", "approximately", "quantity"), ("approximately", "roughly", "quantity"),
    ("on its own", "by itself", ""), ("by itself", "on its own", ""),
]  # fmt: skip
_SYNONYM_TABLE = {form: (alternate, condition) for form, alternate, condition in _SYNONYMS}
_SYNONYM_PATTERN = re.compile(
    r"(?<![\w\-'’])(?:"
    + "|".join(re.escape(f).replace(r"\ ", r" ") for f in sorted(_SYNONYM_TABLE, key=len, reverse=True))
    + r")(?![\w\-'’])",
    re.IGNORECASE,
)


def _synonym_slots(text: str) -> list[Slot]:
    slots = []
    for m in _SYNONYM_PATTERN.finditer(text):
        found = m.group()
        alternate, condition = _SYNONYM_TABLE[found.lower()]
        at_start = _is_sentence_start(text, m.start())
        if found[0].isupper() and (not at_start or _next_word_is_capitalised(text, m.end())):
            continue  # a title or a name ("Toward Safer Systems"), not prose
        if found.isupper() and len(found) > 1:
            continue
        before = text[max(0, m.start() - 6) : m.start()].lower()
        clause_follows = re.match(r" [a-z]", text[m.end() : m.end() + 2]) is not None
        if condition == "start" and not at_start:
            continue
        if condition == "conj" and not ((at_start or before.endswith(", ")) and clause_follows):
            continue  # "a while", "as though", "..., though." are not the conjunction
        if condition == "adverb" and (before.endswith(("a ", "the ")) or not (at_start or clause_follows)):
            continue  # "a maybe" is a noun
        if found.lower() == "although" and re.search(r"(?:even|as) $", before):
            continue
        if condition == "quantity" and not re.match(
            r" (?:\d|a |an |half|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred)",
            text[m.end() : m.end() + 9],
        ):
            continue  # "treated roughly" is not a quantity
        slots.append(Slot(SlotKind.SYNONYM, (Region(m.start(), m.end(), found, _match_case(found, alternate)),)))
    return slots


_IZE_STEMS = (
    "organi|recogni|reali|optimi|minimi|maximi|summari|prioriti|emphasi|utili|categori|standardi|characteri|finali"
    "|normali|speciali|authori|stabili|visuali|customi|apologi|critici|memori|moderni|generali|initiali|synchroni"
    "|randomi|personali|centrali|locali|capitali|penali|formali|digiti|moneti|operationali|contextuali|analy"
)
_SPELLING_IZE = re.compile(rf"(?i)\b(?:{_IZE_STEMS})(?P<letter>[sz])(?:e|es|ed|ing|ation|ations|er|ers|able)\b")
_SPELLING_OUR = re.compile(
    r"(?i)\b(?:col|behavi|fav|hon|lab|neighb|flav|hum|rum|harb|endeav)(?P<vowel>ou|o)r(?:s|ed|ing|ful|able|ite|ites|ers)?\b"
)
_SPELLING_RE = re.compile(r"(?i)\b(?:cent|theat|fib)(?P<ending>re|er)s?\b")
_SPELLING_LL = re.compile(r"(?i)\b(?:mode|labe|trave|cance|signa|fue|leve|channe)(?P<ell>ll|l)(?:ed|ing|er|ers)\b")
_SPELLING_GEMENT = re.compile(r"(?i)\b(?:judg|acknowledg)(?P<e>e|)ment(?:s)?\b")


def _spelling_slots(text: str) -> list[Slot]:
    slots = []
    for m in _SPELLING_IZE.finditer(text):
        if m.group().lower() == "analyses":
            continue  # also the plural of "analysis"
        letter = m.group("letter")
        swapped = {"s": "z", "z": "s", "S": "Z", "Z": "S"}[letter]
        slots.append(_spelling(text, m, m.start("letter"), m.end("letter"), letter, swapped))
    for m in _SPELLING_OUR.finditer(text):
        vowel = m.group("vowel")
        slots.append(
            _spelling(text, m, m.start("vowel"), m.end("vowel"), vowel, "o" if vowel.lower() == "ou" else "ou")
        )
    for m in _SPELLING_RE.finditer(text):
        ending = m.group("ending")
        slots.append(_spelling(text, m, m.start("ending"), m.end("ending"), ending, ending[::-1]))
    for m in _SPELLING_LL.finditer(text):
        ell = m.group("ell")
        slots.append(_spelling(text, m, m.start("ell"), m.end("ell"), ell, ell[0] if len(ell) == 2 else ell * 2))
    for m in _SPELLING_GEMENT.finditer(text):
        start = m.start("e") - 1  # the region includes the "g" so it is never empty
        current = text[start : m.end("e")]
        swapped = current[0] if len(current) == 2 else current + "e"
        slots.append(_spelling(text, m, start, m.end("e"), current, swapped))
    return [s for s in slots if s is not None]


def _spelling(text: str, m: re.Match[str], start: int, end: int, current: str, alternate: str) -> Slot | None:
    word = m.group()
    if word[0].isupper() and (not _is_sentence_start(text, m.start()) or _next_word_is_capitalised(text, m.end())):
        return None  # "World Health Organization", "Labor Day": a name
    if word.isupper():
        return None
    return Slot(SlotKind.SPELLING, (Region(start, end, current, alternate),))


_STRAIGHT_QUOTES = re.compile(r"(?<![\w\"])\"(?=[^\s\"])[^\"\n]{1,600}(?<=[^\s\"])\"(?![\w\"])")
_CURLY_QUOTES = re.compile(r"“(?=\S)[^“”\n]{1,600}(?<=\S)”")


def _quote_slots(text: str) -> list[Slot]:
    slots = []
    for m in _STRAIGHT_QUOTES.finditer(text):
        slots.append(
            Slot(SlotKind.QUOTES, (Region(m.start(), m.start() + 1, '"', "“"), Region(m.end() - 1, m.end(), '"', "”")))
        )
    for m in _CURLY_QUOTES.finditer(text):
        slots.append(
            Slot(SlotKind.QUOTES, (Region(m.start(), m.start() + 1, "“", '"'), Region(m.end() - 1, m.end(), "”", '"')))
        )
    return slots


_DASH = re.compile(r"(?<=[A-Za-z,)\]’'\"”])(?P<dash> — | – | - |—)(?=[A-Za-z\[(“\"])")
_DASH_ALTERNATE = {" — ": " - ", " – ": "—", " - ": "—", "—": " - "}


def _dash_slots(text: str) -> list[Slot]:
    slots = []
    for m in _DASH.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if not text[line_start : m.start()].strip():
            continue  # a bullet, not a dash
        dash = m.group("dash")
        slots.append(Slot(SlotKind.DASH, (Region(m.start(), m.end(), dash, _DASH_ALTERNATE[dash]),)))
    return slots


_INTRO_ADVERBS_REMOVABLE = [
    "currently",
    "recently",
    "unfortunately",
    "fortunately",
    "typically",
    "usually",
    "sometimes",
    "meanwhile",
    "otherwise",
    "ideally",
    "historically",
    "eventually",
    "originally",
    "occasionally",
    "generally",
    "normally",
    "clearly",
    "honestly",
    "surprisingly",
    "interestingly",
    "importantly",
    "similarly",
    "admittedly",
    "finally",
    "then",
    "overall",
    "today",
    "later",
    "instead",
    "still",
    "now",
]
# A comma is only ever *added* after words that cannot be adjectives ("Overall results", "Later versions").
_INTRO_ADVERBS_ADDABLE = frozenset(
    w for w in _INTRO_ADVERBS_REMOVABLE if w.endswith("ly") or w in ("meanwhile", "otherwise", "sometimes", "then")
)
_INTRO = re.compile(
    r"\b(?P<word>"
    + "|".join(w.capitalize() for w in _INTRO_ADVERBS_REMOVABLE)
    + r")(?P<comma>,?) (?=(?P<next>[a-z]+)\b)"
)


def _intro_comma_slots(text: str) -> list[Slot]:
    """ "Usually, the job ..." <-> "Usually the job ..." at the start of a sentence."""
    slots = []
    for m in _INTRO.finditer(text):
        if not _is_sentence_start(text, m.start()):
            continue
        word = m.group("word")
        if m.group("comma"):
            slots.append(Slot(SlotKind.INTRO_COMMA, (Region(m.start(), m.end("comma"), word + ",", word),)))
        elif word.lower() in _INTRO_ADVERBS_ADDABLE and m.group("next") not in ("of", "that", "to", "than", "as"):
            slots.append(Slot(SlotKind.INTRO_COMMA, (Region(m.start(), m.end("word"), word, word + ","),)))
    return slots


_THAT = re.compile(
    r"\b(?P<verb>think|thought|believe|believed|hope|hoped|suspect|guess|say|says|said|know|knew|feel|felt)"
    r" that(?= (?:the|a|an|we|they|it|he|she|i|you|this|these|those|there|our|their|his|her|its|my|your|nobody|everyone)\b)"
)


def _that_slots(text: str) -> list[Slot]:
    """ "we think that the plan ..." <-> "we think the plan ...": the complementiser is optional."""
    return [
        Slot(SlotKind.THAT, (Region(m.start(), m.end(), m.group(), m.group("verb")),)) for m in _THAT.finditer(text)
    ]


# --------------------------------------------------------------------------- assembling


def find_slots(
    text: str,
    *,
    protected: Iterable[tuple[int, int]] = (),
    settings: VariantSettings = DEFAULT_SETTINGS,
) -> list[Slot]:
    """Every usable slot in ``text``, in text order, none overlapping another or a forbidden range."""
    if not settings.enabled:
        return []
    apostrophe = "’" if text.count("’") > text.count("'") else "'"
    finders = {
        SlotKind.CONTRACTION: lambda: _contraction_slots(text, apostrophe),
        SlotKind.SERIAL_COMMA: lambda: _serial_comma_slots(text),
        SlotKind.SYNONYM: lambda: _synonym_slots(text),
        SlotKind.SPELLING: lambda: _spelling_slots(text),
        SlotKind.QUOTES: lambda: _quote_slots(text),
        SlotKind.DASH: lambda: _dash_slots(text),
        SlotKind.INTRO_COMMA: lambda: _intro_comma_slots(text),
        SlotKind.THAT: lambda: _that_slots(text),
    }
    candidates: list[Slot] = []
    for kind in SlotKind:  # a fixed order, so ties resolve the same way every time
        if kind in settings.kinds:
            candidates.extend(finders[kind]())
    blocked = _Intervals([*excluded_ranges(text), *((a, b) for a, b in protected if b >= a)])
    taken = _Intervals([])
    chosen = []
    for slot in sorted(candidates, key=lambda s: (s.start, s.end)):
        if any(
            r.canonical == r.alternate or not r.alternate or text[r.start : r.end] != r.canonical for r in slot.regions
        ):
            continue
        if any(_has_digit(r.alternate) for r in slot.regions):
            continue
        if any(blocked.overlaps(r.start, r.end) or taken.overlaps(r.start, r.end) for r in slot.regions):
            continue
        for region in slot.regions:
            taken.add(region.start, region.end)
        chosen.append(slot)
    return chosen


class _Intervals:
    """A handful of half-open ranges; a linear scan is plenty for the few hundred an item has."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        self.spans = list(spans)

    def overlaps(self, start: int, end: int) -> bool:
        # An empty range is a point (a zero-width label): it blocks a region that strictly contains it.
        return any((a < end and start < b) or (a == b and start < a < end) for a, b in self.spans)

    def add(self, start: int, end: int) -> None:
        self.spans.append((start, end))


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


def _match_case(source: str, replacement: str) -> str:
    if source[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _next_word_is_capitalised(text: str, position: int) -> bool:
    following = re.match(r"[ \t]+([^\W\d_])", text[position : position + 8])
    return following is not None and following.group(1).isupper()


def _is_sentence_start(text: str, position: int) -> bool:
    index = position - 1
    while index >= 0 and text[index] in " \t\"“‘'(*_#>-":
        index -= 1
    return index < 0 or text[index] in ".!?:\n"
