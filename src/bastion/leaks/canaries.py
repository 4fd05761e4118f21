"""Canary items: a unique, fictitious fact per recipient, recoverable after paraphrase.

Variant slots live in the wording, so paraphrasing erases them. A canary lives
in the *content*: an owner-approved synthetic item (it must look like the
project's real items, and carry no real data) with placeholders that are filled,
per recipient, with a fictitious combination derived from HMAC(secret, canary,
person): a person's name, a figure, a date and a place.

    template  "The {place} pilot reached {figure} weekly users by {date}, said {name}."
    person A  "The Eastmere pilot reached 4,817 weekly users by 12 March, said Ines Quellbrook."
    person B  "The Tarnhollow pilot reached 2,094 weekly users by 3 October, said Arlo Penwarden."

A leak is matched on the facts, not the words: the figure with or without
thousands separators, the date in any common order and spelling, the family
name and the place as words. Each recipient's ``p_value`` bounds the chance
that some other recipient's facts would match as well by accident (the product
of the facts' odds: 1 in 1,600 family names, 9,000 figures, 336 dates, 750
places, times the number of recipients); a recipient is identified below
``MAX_P_VALUE``. One fact alone never identifies anyone among many recipients
(9,000 figures shared by 1,000 people collide); two or three usually do.

Invariants: nothing is stored (facts are recomputed from the secret);
templates must be approved by an owner before they can be rendered. Names and
places are assembled from invented parts; a part-built name may happen to
exist, but the combination with the other facts is fictitious by construction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.errors import InvalidConfig
from ..domain.fieldpaths import replace_strings, walk_strings
from ..redaction.pseudonyms import check_secret

PLACEHOLDERS = ("name", "figure", "date", "place")
MAX_P_VALUE = 1e-3  # identified when another recipient would match this well less often than this

_GIVEN = [
    "Arlo",
    "Bryn",
    "Calla",
    "Dace",
    "Elowen",
    "Fenna",
    "Garin",
    "Hollis",
    "Ines",
    "Jorah",
    "Kestra",
    "Linnea",
    "Maelis",
    "Nerys",
    "Odell",
    "Perrin",
    "Quill",
    "Rosalind",
    "Sorrel",
    "Tamsin",
    "Ulric",
    "Vesna",
    "Wrenna",
    "Xavi",
    "Yorick",
    "Zelda",
    "Anouk",
    "Bastian",
    "Corin",
    "Delphine",
    "Emrys",
    "Faye",
    "Gideon",
    "Hesper",
    "Isolde",
    "Jarvis",
    "Kaia",
    "Lorcan",
    "Mireille",
    "Niamh",
    "Osric",
    "Philippa",
    "Rowan",
    "Saoirse",
    "Thaddeus",
    "Una",
    "Valen",
    "Wilhelmina",
]
# Family names and places are built from two parts: 1,600 family names and 750 places.
_FAMILY_HEADS = [
    "Quell",
    "Pen",
    "Ash",
    "Brindle",
    "Carrow",
    "Dun",
    "Elver",
    "Fallow",
    "Glen",
    "Harrow",
    "Inch",
    "Kettle",
    "Lark",
    "Marrow",
    "Nettle",
    "Oak",
    "Pell",
    "Quarr",
    "Raven",
    "Salt",
    "Thistle",
    "Under",
    "Whit",
    "Yarrow",
    "Aber",
    "Black",
    "Cold",
    "Dew",
    "Esk",
    "Fox",
    "Grey",
    "Hollo",
    "Ivy",
    "Juniper",
    "Knight",
    "Low",
    "Moor",
    "North",
    "Orms",
    "Rook",
]
_FAMILY_TAILS = [
    "brook",
    "warden",
    "combe",
    "moor",
    "gate",
    "merrow",
    "stone",
    "mere",
    "haven",
    "by",
    "well",
    "spur",
    "wick",
    "fold",
    "hurst",
    "ington",
    "worth",
    "marsh",
    "wood",
    "hay",
    "tongue",
    "ridge",
    "cott",
    "leigh",
    "dale",
    "thorpe",
    "field",
    "ford",
    "ham",
    "ley",
    "stow",
    "bury",
    "shaw",
    "croft",
    "holt",
    "den",
    "wold",
    "hope",
    "cliffe",
    "more",
]
_FAMILY = [head + tail for head in _FAMILY_HEADS for tail in _FAMILY_TAILS]
_PLACE_HEADS = [
    "East",
    "Tarn",
    "Nor",
    "Bracken",
    "Calder",
    "Dun",
    "Elm",
    "Farrow",
    "Gorse",
    "Heath",
    "Iron",
    "Kings",
    "Lath",
    "Merrow",
    "North",
    "Oxen",
    "Pels",
    "Quarry",
    "Red",
    "Stone",
    "Thorn",
    "Up",
    "Vex",
    "Wendle",
    "Yelver",
    "Ash",
    "Briar",
    "Cold",
    "Dorr",
    "Evers",
]
_PLACE_TAILS = [
    "mere",
    "hollow",
    "wick",
    "fold",
    "mouth",
    "haven",
    "stead",
    "dale",
    "brook",
    "combe",
    "bridge",
    "bury",
    "gate",
    "fleet",
    "holme",
    "worth",
    "ton",
    "cross",
    "well",
    "ford",
    "cliffe",
    "stream",
    "ington",
    "sley",
    "by",
]
_PLACES = [head + tail for head in _PLACE_HEADS for tail in _PLACE_TAILS]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_PATTERN = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY_PATTERN = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_DATES = (
    re.compile(rf"(?i)\b{_DAY_PATTERN}(?:\s+of)?\s+{_MONTH_PATTERN}(?![a-z])"),
    re.compile(rf"(?i)\b{_MONTH_PATTERN}\s+(?:the\s+)?{_DAY_PATTERN}\b"),
)
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[,.'’\u202f\u00a0 ]\d{3})+(?![\d])|(?<![\d.,])\d+(?![\d])")


@dataclass(frozen=True)
class CanaryTemplate:
    """An owner-approved synthetic item with ``{name}``, ``{figure}``, ``{date}``, ``{place}``."""

    canary_id: str
    text: str
    approved_by: str | None = None

    def check(self) -> None:
        if not self.approved_by:
            raise InvalidConfig(f"canary {self.canary_id!r} has not been approved by a project owner")
        fields = set(re.findall(r"\{(\w+)\}", self.text))
        missing = [p for p in PLACEHOLDERS if p not in fields]
        unknown = sorted(fields - set(PLACEHOLDERS))
        if missing or unknown:
            raise InvalidConfig(
                f"canary {self.canary_id!r} must use each of {{name}}, {{figure}}, {{date}}, {{place}} "
                f"(missing: {missing}, unknown: {unknown})"
            )


@dataclass(frozen=True)
class CanaryFact:
    given_name: str
    family_name: str
    figure: int
    month: int  # 1-12
    day: int  # 1-28
    place: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def date(self) -> str:
        return f"{self.day} {_MONTHS[self.month - 1].capitalize()}"

    def formatted(self) -> dict[str, str]:
        return {"name": self.name, "figure": f"{self.figure:,}", "date": self.date, "place": self.place}


@dataclass(frozen=True)
class CanaryMatch:
    person_id: str
    facts: tuple[str, ...]  # which of name/figure/date/place were found
    p_value: float  # chance that some other recipient's facts would match as many

    @property
    def is_identified(self) -> bool:
        return self.p_value <= MAX_P_VALUE


def canary_fact(secret: bytes, canary_id: str, person_id: str) -> CanaryFact:
    check_secret(secret)
    digest = hmac.new(
        secret, f"bastion/leaks/canary/v1\x1f{canary_id}\x1f{person_id}".encode(), hashlib.sha256
    ).digest()

    def pick(offset: int, modulus: int) -> int:
        return int.from_bytes(digest[offset : offset + 4], "big") % modulus

    return CanaryFact(
        given_name=_GIVEN[pick(0, len(_GIVEN))],
        family_name=_FAMILY[pick(4, len(_FAMILY))],
        figure=1000 + pick(8, 9000),
        month=1 + pick(12, 12),
        day=1 + pick(16, 28),
        place=_PLACES[pick(20, len(_PLACES))],
    )


def render_canary(template: CanaryTemplate, secret: bytes, person_id: str) -> str:
    """The canary item as ``person_id`` is shown it."""
    template.check()
    return template.text.format(**canary_fact(secret, template.canary_id, person_id).formatted())


_PLACEHOLDER = re.compile(r"\{(name|figure|date|place)\}")


def render_canary_data(data: Any, facts: Mapping[str, str]) -> Any:
    """Every string of a canary's task data with its placeholders filled with one recipient's facts."""
    return replace_strings(
        data,
        {path: _PLACEHOLDER.sub(lambda m: facts[m.group(1)], text) for path, _segments, text in walk_strings(data)},
    )


def extract_facts(text: str) -> tuple[set[int], set[tuple[int, int]], set[str]]:
    """Figures, (month, day) dates and lower-case words present in a leaked text."""
    figures = {
        int(re.sub(r"\D", "", m.group())) for m in _NUMBER.finditer(text) if len(re.sub(r"\D", "", m.group())) <= 9
    }
    dates = set()
    for pattern in _DATES:
        for m in pattern.finditer(text):
            month = _month_number(m.group("month"))
            day = int(m.group("day"))
            if month and 1 <= day <= 31:
                dates.add((month, day))
    words = set(re.findall(r"[^\W\d_]+", text.casefold()))
    return figures, dates, words


def match_canary(
    leaked_text: str,
    canary_id: str,
    recipients: Iterable[str],
    secret: bytes,
) -> list[CanaryMatch]:
    """Recipients whose canary facts appear in ``leaked_text``, best first (only those with a fact)."""
    figures, dates, words = extract_facts(leaked_text)
    people = list(dict.fromkeys(recipients))
    found = []
    for person in people:
        fact = canary_fact(secret, canary_id, person)
        facts = []
        if fact.family_name.casefold() in words:
            facts.append("name")
        if fact.figure in figures:
            facts.append("figure")
        if (fact.month, fact.day) in dates:
            facts.append("date")
        if fact.place.casefold() in words:
            facts.append("place")
        if facts:
            found.append(CanaryMatch(person, tuple(facts), _chance(facts, len(people))))
    found.sort(key=lambda m: (m.p_value, -len(m.facts), m.person_id))
    return found


def _chance(facts: list[str], recipients: int) -> float:
    """Upper bound on the chance that one of the other recipients matches these facts by accident."""
    space = {"name": len(set(_FAMILY)), "figure": 9000, "date": 12 * 28, "place": len(set(_PLACES))}
    probability = 1.0
    for fact in facts:
        probability /= space[fact]
    return min(1.0, probability * max(0, recipients - 1))


def _month_number(text: str) -> int:
    prefix = text.casefold().rstrip(".")[:3]
    for number, month in enumerate(_MONTHS, start=1):
        if month.startswith(prefix):
            return number
    return 0
