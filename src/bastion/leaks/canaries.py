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
name and the place as words. A recipient is identified when at least two of
the four facts match (one alone can collide: 9,000 figures shared by 1,000
people); the chance that another recipient's facts show up by accident is
reported as ``p_value``.

Invariants: nothing is stored (facts are recomputed from the secret);
templates must be approved by an owner before they can be rendered; the name
and place lists are invented words, so a fact never points at a real person.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bastion.domain.errors import InvalidConfig
from bastion.redaction.pseudonyms import check_secret

PLACEHOLDERS = ("name", "figure", "date", "place")
MIN_FACTS = 2

_GIVEN = (
    "Arlo Bryn Calla Dace Elowen Fenna Garin Hollis Ines Jorah Kestra Linnea Maelis Nerys Odell Perrin Quill "
    "Rosalind Sorrel Tamsin Ulric Vesna Wrenna Xavi Yorick Zelda Anouk Bastian Corin Delphine Emrys Faye Gideon "
    "Hesper Isolde Jarvis Kaia Lorcan Mireille Niamh Osric Philippa Rowan Saoirse Thaddeus Una Valen Wilhelmina"
).split()
_FAMILY = (
    "Quellbrook Penwarden Ashcombe Brindlemoor Carrowgate Dunmerrow Elverstone Fallowmere Glenhaven Harrowby "
    "Inchbrook Jessamyn Kettlewell Larkspur Marrowick Nettlefold Oakhurst Pellinore Quarrington Ravensworth "
    "Saltmarsh Thistlewood Underhay Vantongeren Whitmarsh Yarrowby Zennor Abernethy Blackwater Coldharbour "
    "Dewhurst Eskdale Foxhollow Greyhaven Hollowell Ivybridge Juniperhill Knightwood Lowther Moorcroft "
    "Northcott Ormsby Pendragon Quenby Rookwood Stormcliffe Tidewell Umberleigh Vellacott Windermere"
).split()
_PLACES = (
    "Eastmere Tarnhollow Norwick Brackenfold Caldermouth Dunhaven Elmstead Farrowdale Gorsebrook Heathcombe "
    "Ironbridge Kingsmere Lathbury Merrowgate Northfleet Oxenholme Pelsworth Quarrydale Redmarley Stonecross "
    "Thornbury Upwell Vexford Wendlebury Yelverton Ashwold Briarcliff Coldstream Dorrington Eversleigh"
).split()
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
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
        return len(self.facts) >= MIN_FACTS


def canary_fact(secret: bytes, canary_id: str, person_id: str) -> CanaryFact:
    check_secret(secret)
    digest = hmac.new(secret, f"bastion/leaks/canary/v1\x1f{canary_id}\x1f{person_id}".encode(), hashlib.sha256).digest()

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


def extract_facts(text: str) -> tuple[set[int], set[tuple[int, int]], set[str]]:
    """Figures, (month, day) dates and lower-case words present in a leaked text."""
    figures = {int(re.sub(r"\D", "", m.group())) for m in _NUMBER.finditer(text) if len(re.sub(r"\D", "", m.group())) <= 9}
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
    found.sort(key=lambda m: (-len(m.facts), m.p_value, m.person_id))
    return found


def _chance(facts: list[str], recipients: int) -> float:
    """Upper bound on the chance that one of the other recipients matches these facts by accident."""
    space = {"name": len(_FAMILY), "figure": 9000, "date": 12 * 28, "place": len(_PLACES)}
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
