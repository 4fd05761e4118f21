"""Deterministic detectors: personal data and secrets found by shape and checksum.

A detector is any object with a ``name``, the ``entity_types`` it can report and a
``detect(text) -> list[Match]`` method (the :class:`Detector` protocol). The
built-in ones are pure regex-and-checksum code; an optional named-entity detector
(``bastion.redaction.presidio``) plugs in through the same protocol.

Confidence is graded on evidence, not on taste:

    0.99  a checksum or a decode proved it (Luhn + issuer prefix, IBAN mod-97, JWT header)
    0.95  a vendor-specific shape nothing else has (AKIA..., ghp_..., xoxb-..., e-mail)
    0.85  a shape plus a context word (AWS secret key after "aws_secret", password=...)
    ~0.6  weak evidence (a seven-digit local number after "call")
    <0.5  shape only, validation failed (an undecodable "eyJ...": held for review)

Traps:

* Patterns run over texts of 50,000+ characters: every quantifier is bounded and
  no pattern nests unbounded repetition, so there is no catastrophic backtracking.
* Several detectors can claim the same characters (a JWT after "token:" is also a
  generic secret). :func:`resolve_overlaps` keeps the most confident, then the
  longest, so callers never redact a span twice.
* Look-alikes are rejected on purpose: dates, version strings and order numbers
  never reach the phone or IP detectors' output, and card numbers need a valid
  issuer prefix as well as the Luhn digit (a random 16-digit number passes Luhn
  one time in ten).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from .checksums import IBAN_LENGTHS, card_brand, iban_is_valid, luhn_is_valid


class EntityType(StrEnum):
    """Entity types the built-in detectors report (dictionary kinds are free-form strings)."""

    EMAIL = "email"
    PHONE = "phone"
    PAYMENT_CARD = "payment_card"
    IBAN = "iban"
    IP_ADDRESS = "ip_address"
    URL_CREDENTIALS = "url_credentials"
    AWS_ACCESS_KEY = "aws_access_key"
    AWS_SECRET_KEY = "aws_secret_key"
    GCP_API_KEY = "gcp_api_key"
    GITHUB_TOKEN = "github_token"
    SLACK_TOKEN = "slack_token"
    SLACK_WEBHOOK = "slack_webhook"
    GENERIC_SECRET = "generic_secret"
    PRIVATE_KEY = "private_key"
    JWT = "jwt"


@dataclass(frozen=True, slots=True)
class Match:
    """One finding in a text: ``text == source[start:end]``."""

    start: int
    end: int
    entity_type: str
    text: str
    confidence: float
    detector: str = ""
    canonical: str | None = None  # the dictionary term a fuzzy/inflected match stands for

    def __post_init__(self) -> None:
        if type(self.entity_type) is not str:
            object.__setattr__(self, "entity_type", str(self.entity_type))  # EntityType -> plain "email"

    def overlaps(self, other: Match) -> bool:
        return self.start < other.end and other.start < self.end


@runtime_checkable
class Detector(Protocol):
    """What the redaction engine needs from a detector."""

    name: str
    entity_types: frozenset[str]

    def detect(self, text: str) -> list[Match]: ...


def resolve_overlaps(matches: Iterable[Match]) -> list[Match]:
    """Keep a non-overlapping subset: most confident first, then longest, then leftmost.

    Returned in text order.
    """
    ranked = sorted(matches, key=lambda m: (-m.confidence, -(m.end - m.start), m.start))
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Match] = []
    for match in ranked:
        if match.end <= match.start:
            continue
        index = bisect.bisect_left(starts, match.start)
        if index > 0 and ends[index - 1] > match.start:
            continue
        if index < len(starts) and starts[index] < match.end:
            continue
        starts.insert(index, match.start)
        ends.insert(index, match.end)
        kept.append(match)
    kept.sort(key=lambda m: m.start)
    return kept


# --------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w\-]|\.[A-Za-z])"
)
# "icon@2x.png" and "name@host.js" are asset names, not mailboxes.
_FILE_EXTENSIONS = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "bmp",
        "ico",
        "css",
        "js",
        "mjs",
        "ts",
        "tsx",
        "jsx",
        "json",
        "html",
        "htm",
        "txt",
        "md",
        "pdf",
        "yaml",
        "yml",
        "toml",
        "lock",
        "py",
        "rb",
    ]
)


class EmailDetector:
    name = "email"
    entity_types = frozenset({EntityType.EMAIL.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _EMAIL.finditer(text):
            value = m.group()
            if value.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS:
                continue
            if _inside_url_authority(text, m.start()):
                continue  # "https://user:pw@host" is the URL-credentials detector's
            found.append(Match(m.start(), m.end(), EntityType.EMAIL, value, 0.95, self.name))
        return found


def _inside_url_authority(text: str, position: int) -> bool:
    run_start = position
    floor = max(0, position - 300)
    while run_start > floor and not text[run_start - 1].isspace():
        run_start -= 1
    return "://" in text[run_start:position]


# --------------------------------------------------------------------------- phone

_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,6}(?![\w\-]|\.\d)")
_PHONE_NANP = re.compile(
    r"(?<![\w+.\-/])(?:1[ .\-]?)?(?:\((?P<area1>\d{3})\)[ ]?|(?P<area2>\d{3})[ .\-])"
    r"(?P<exchange>\d{3})[ .\-]\d{4}(?![\w\-]|\.\d)"
)
_PHONE_TRUNK = re.compile(r"(?<![\w+.\-/])0\d{1,4}(?:[ .\-]\d{2,8}){1,4}(?![\w\-]|\.\d)")
_PHONE_LOCAL = re.compile(r"(?<![\w.\-/])[2-9]\d{2}-\d{4}(?![\w\-]|\.\d)")
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|call|mobile|cell|fax|ext|dial|ring|text|whatsapp|sms|number)\b"
)
_DATE_LIKE = re.compile(r"^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}$")


class PhoneDetector:
    """International (+CC ...), North American and trunk-prefixed national numbers.

    A bare run of digits is never a phone number here: the formats need a leading
    ``+``, a trunk ``0`` or the NANP 3-3-4 grouping with separators, which keeps
    order numbers, years and amounts out. Date shapes are rejected explicitly.
    """

    name = "phone"
    entity_types = frozenset({EntityType.PHONE.value})

    def detect(self, text: str) -> list[Match]:
        found: list[Match] = []
        for m in _PHONE_INTERNATIONAL.finditer(text):
            digits = _digits(m.group())
            if 8 <= len(digits) <= 15:
                found.append(self._match(m, 0.9))
        for m in _PHONE_NANP.finditer(text):
            area = m.group("area1") or m.group("area2")
            exchange = m.group("exchange")
            if area[0] in "01" or exchange[0] in "01":
                continue
            found.append(self._match(m, 0.9))
        for m in _PHONE_TRUNK.finditer(text):
            value = m.group()
            digits = _digits(value)
            if not 9 <= len(digits) <= 12 or _DATE_LIKE.match(value):
                continue
            if "." in value and value.count(".") == 3 and " " not in value:
                continue  # dotted quads belong to the IP detector
            found.append(self._match(m, 0.85))
        for m in _PHONE_LOCAL.finditer(text):
            window = text[max(0, m.start() - 32) : m.start()]
            if _PHONE_CONTEXT.search(window):
                found.append(self._match(m, 0.6))
        return found

    def _match(self, m: re.Match[str], confidence: float) -> Match:
        return Match(m.start(), m.end(), EntityType.PHONE, m.group(), confidence, self.name)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


# --------------------------------------------------------------------------- payment cards

_CARD = re.compile(r"(?<![\w\-.])\d(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)")
_CARD_GROUPINGS = {
    (4, 4, 4, 4),
    (4, 6, 5),
    (4, 6, 4),
    (4, 4, 4, 4, 3),
    (4, 4, 4, 3),
    (4, 4, 4, 1),
    (4, 4, 4, 4, 2),
    (4, 4, 4, 4, 1),
}


class PaymentCardDetector:
    """Card numbers: Luhn-valid, a known issuer prefix, and a plausible grouping."""

    name = "payment_card"
    entity_types = frozenset({EntityType.PAYMENT_CARD.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _CARD.finditer(text):
            value = m.group()
            separators = {ch for ch in value if not ch.isdigit()}
            if len(separators) > 1:
                continue
            if separators:
                groups = tuple(len(part) for part in re.split(r"[ \-]", value))
                if groups not in _CARD_GROUPINGS:
                    continue
            digits = _digits(value)
            if card_brand(digits) is None or not luhn_is_valid(digits):
                continue
            found.append(Match(m.start(), m.end(), EntityType.PAYMENT_CARD, value, 0.99, self.name))
        return found


# --------------------------------------------------------------------------- IBAN

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")


class IbanDetector:
    """IBANs, compact or printed in groups of four, validated by length and mod-97."""

    name = "iban"
    entity_types = frozenset({EntityType.IBAN.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _IBAN.finditer(text):
            raw = m.group()
            expected = IBAN_LENGTHS.get(raw[:2])
            if expected is None:
                continue
            # The pattern is greedy and may have swallowed a following word: cut
            # the candidate at the country's length, counting only characters.
            kept, end = 0, 0
            for index, char in enumerate(raw):
                if char != " ":
                    kept += 1
                if kept == expected:
                    end = index + 1
                    break
            if not end:
                continue
            value = raw[:end]
            after = m.start() + end
            if after < len(text) and text[after].isalnum():
                continue
            if " " in value and any(len(g) != 4 for g in value.split(" ")[:-1]):
                continue
            if iban_is_valid(value.replace(" ", "")):
                found.append(Match(m.start(), after, EntityType.IBAN, value, 0.99, self.name))
        return found


# --------------------------------------------------------------------------- IP addresses

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\w)")
_VERSION_CONTEXT = re.compile(r"(?i)(?:\bv|\bversion\s*|\bver\.?\s*|\brelease\s*|\bbuild\s*)$")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f.]{0,15}){2,8}(?![\w:])")


class IpAddressDetector:
    """IPv4 dotted quads (not version strings) and IPv6 addresses (validated by ``ipaddress``)."""

    name = "ip_address"
    entity_types = frozenset({EntityType.IP_ADDRESS.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _IPV4.finditer(text):
            if _VERSION_CONTEXT.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            found.append(Match(m.start(), m.end(), EntityType.IP_ADDRESS, m.group(), 0.9, self.name))
        for m in _IPV6_CANDIDATE.finditer(text):
            value = m.group().rstrip(".")
            if value.endswith(":") and not value.endswith("::"):
                value = value.rstrip(":")
            groups = [g for g in re.split(r"[:.]", value) if g]
            if len(groups) < 3:
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            found.append(Match(m.start(), m.start() + len(value), EntityType.IP_ADDRESS, value, 0.9, self.name))
        return found


# --------------------------------------------------------------------------- registry


def builtin_detectors() -> list[Detector]:
    """Every built-in detector, in a fixed order."""
    from .credentials import credential_detectors

    return [
        EmailDetector(),
        PhoneDetector(),
        PaymentCardDetector(),
        IbanDetector(),
        IpAddressDetector(),
        *credential_detectors(),
    ]


def detect(
    text: str, detectors: Sequence[Detector] | None = None, *, types: Iterable[str] | None = None
) -> list[Match]:
    """Run detectors over ``text`` and return non-overlapping matches in text order.

    ``types`` keeps only matches of those entity types (default: all).
    """
    chosen = builtin_detectors() if detectors is None else list(detectors)
    wanted = None if types is None else frozenset(str(t) for t in types)
    matches: list[Match] = []
    for detector in chosen:
        if wanted is not None and not (detector.entity_types & wanted):
            continue
        for match in detector.detect(text):
            if wanted is None or match.entity_type in wanted:
                matches.append(match)
    return resolve_overlaps(matches)
