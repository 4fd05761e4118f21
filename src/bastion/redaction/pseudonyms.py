"""Typed pseudonyms, numbered per task: ``[PERSON_1]``, ``[CODENAME_1]``, ``[EMAIL_2]``.

Invariants:

* One value, one pseudonym, throughout a **task** (every field of its data, its
  predictions and its gold answer): the value is normalised for its type
  (case-folded e-mail and names, digits of a card, compact upper-case IBAN,
  canonical IP, the dictionary term a fuzzy or inflected match stands for), and
  the pair (label, normalised value) is numbered per label in order of first
  appearance by the task's own :class:`Pseudonymizer`.
* Nothing carries over from one task to another: a number says only "the first
  (second, …) value of this type in this task". So ``[CODENAME_1]`` in two tasks
  links them no more than the word "it" does.

The trap this avoids: numbers kept per project (one value, one pseudonym across
tasks) are an oracle. Whoever may import but not re-identify imports a guess
("Nightjar") and compares the pseudonym it gets with those of the stored tasks;
whoever sees two tasks learns that they name the same person; and the number a
new value gets counts the values already stored.

The mapping back (pseudonym -> original) is the task's own record, kept by the
caller (sealed: that is the storage layer's job) so an owner can re-identify.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass

from ..domain.errors import InvalidConfig

PSEUDONYM_PATTERN = re.compile(r"\[(?P<label>[A-Z][A-Z0-9_]*?)_(?P<number>[1-9]\d{0,8})\]")
"""Matches a pseudonym token in a text; ``label`` and ``number`` are its parts."""

MIN_SECRET_BYTES = 16

_LABELS: dict[str, str] = {
    "email": "EMAIL",
    "phone": "PHONE",
    "payment_card": "CARD",
    "iban": "IBAN",
    "ip_address": "IP",
    "url_credentials": "CREDENTIAL",
    "aws_access_key": "SECRET",
    "aws_secret_key": "SECRET",
    "gcp_api_key": "SECRET",
    "github_token": "SECRET",
    "slack_token": "SECRET",
    "slack_webhook": "SECRET",
    "generic_secret": "SECRET",
    "private_key": "PRIVATE_KEY",
    "jwt": "TOKEN",
}


def label_for(entity_type: str) -> str:
    """The pseudonym label of an entity type (a dictionary kind ``codename`` -> ``CODENAME``)."""
    known = _LABELS.get(str(entity_type))
    if known is not None:
        return known
    label = re.sub(r"[^A-Z0-9]+", "_", str(entity_type).upper()).strip("_")
    return label if label and label[0].isalpha() else f"X_{label}"


def normalise_value(label: str, value: str) -> str:
    """The form two spellings of one value share, so they share a pseudonym."""
    text = unicodedata.normalize("NFKC", value).strip()
    if label == "EMAIL":
        return text.casefold()
    if label == "PHONE":
        digits = "".join(ch for ch in text if ch.isdigit())
        if text.startswith("+"):
            return "+" + digits
        if len(digits) == 10 and digits[0] != "0":
            return "+1" + digits  # a North American national number
        if len(digits) == 11 and digits[0] == "1":
            return "+" + digits
        return digits
    if label == "CARD":
        return "".join(ch for ch in text if ch.isdigit())
    if label == "IBAN":
        return "".join(ch for ch in text if not ch.isspace()).upper()
    if label == "IP":
        try:
            return ipaddress.ip_address(text).compressed
        except ValueError:
            return text.casefold()
    if label in ("SECRET", "PRIVATE_KEY", "TOKEN", "CREDENTIAL"):
        return text
    # Names, codenames and other dictionary kinds: case, accents and spacing do not matter.
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.findall(r"[^\W_]+", folded))


def check_secret(secret: bytes) -> None:
    """Refuse a secret too short to key anything (leak tracing keys variants and canaries with one)."""
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
        raise InvalidConfig(f"the workspace secret must be at least {MIN_SECRET_BYTES} random bytes")


@dataclass(frozen=True, slots=True)
class Pseudonym:
    label: str
    number: int

    @property
    def token(self) -> str:
        return f"[{self.label}_{self.number}]"

    def __str__(self) -> str:
        return self.token


class Pseudonymizer:
    """Hands out the pseudonyms of one task; make a new one for every task."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}
        self._last: dict[str, int] = {}
        self._originals: dict[str, str] = {}

    def pseudonym_for(self, entity_type: str, value: str) -> Pseudonym:
        label = label_for(entity_type)
        key = (label, normalise_value(label, value))
        number = self._numbers.get(key)
        if number is None:
            number = self._last.get(label, 0) + 1
            self._last[label] = number
            self._numbers[key] = number
            self._originals[f"[{label}_{number}]"] = value
        return Pseudonym(label, number)

    def find_original(self, token: str) -> str | None:
        """The value first seen behind ``token`` in this task, or None."""
        return self._originals.get(token)

    def __len__(self) -> int:
        return len(self._numbers)
