"""Typed, consistent pseudonyms: ``[PERSON_3]``, ``[CODENAME_1]``, ``[EMAIL_2]``.

Invariants:

* One value, one pseudonym, throughout a project: the value is normalised for its
  type (case-folded e-mail and names, digits of a card, compact upper-case IBAN,
  canonical IP, the dictionary term a fuzzy or inflected match stands for) and
  the pair (label, normalised value) is looked up in the project's vault.
* The vault is indexed by a **keyed** hash: HMAC-SHA256 under a per-workspace
  secret. A bare SHA-256 of an e-mail address or a card number is reversible by
  brute force over the small space of plausible values; an HMAC is not without
  the secret, so a database dump of the index reveals nothing.
* Numbers are allocated per label, in order of first appearance, by the vault
  (which must do it atomically: two imports racing on the same value must get
  the same number; see :class:`Vault`).

The original value is stored by the caller's vault (encrypted at rest: that is
the storage layer's job) so an owner can re-identify a pseudonym later.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bastion.domain.errors import InvalidConfig

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


def keyed_hash(secret: bytes, label: str, normalised: str) -> str:
    """HMAC-SHA256 (hex) of the label and normalised value under the workspace secret.

    The message is domain-separated, so the same secret can key variant slots
    and canaries without any of their outputs colliding with a vault key.
    """
    check_secret(secret)
    message = b"bastion/redaction/pseudonym/v1\x1f" + label.encode("utf-8") + b"\x1f" + normalised.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def check_secret(secret: bytes) -> None:
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


@runtime_checkable
class Vault(Protocol):
    """Where a project keeps its pseudonym mapping (encrypted by the implementation).

    ``key`` is always :func:`keyed_hash` output, never a raw value.
    """

    def find_number(self, key: str) -> int | None:
        """The number already bound to ``key``, or None."""
        ...

    def allocate(self, key: str, label: str, original: str) -> int:
        """Bind ``key`` to the next free number for ``label`` and store ``original``.

        Must be atomic and idempotent: if ``key`` is already bound (for example by a
        concurrent import), return that number instead of allocating another.
        """
        ...

    def find_original(self, label: str, number: int) -> str | None:
        """The original value behind ``[label_number]``, for an owner re-identifying."""
        ...


class InMemoryVault:
    """A :class:`Vault` in a dict, for tests and one-off runs (nothing is encrypted)."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._next: dict[str, int] = {}
        self._originals: dict[tuple[str, int], str] = {}

    def find_number(self, key: str) -> int | None:
        return self._numbers.get(key)

    def allocate(self, key: str, label: str, original: str) -> int:
        existing = self._numbers.get(key)
        if existing is not None:
            return existing
        number = self._next.get(label, 0) + 1
        self._next[label] = number
        self._numbers[key] = number
        self._originals[(label, number)] = original
        return number

    def find_original(self, label: str, number: int) -> str | None:
        return self._originals.get((label, number))

    def __len__(self) -> int:
        return len(self._numbers)


class Pseudonymizer:
    """Hands out pseudonyms for one project: a vault plus the workspace secret."""

    def __init__(self, vault: Vault, secret: bytes) -> None:
        check_secret(secret)
        self._vault = vault
        self._secret = bytes(secret)

    def pseudonym_for(self, entity_type: str, value: str) -> Pseudonym:
        label = label_for(entity_type)
        key = keyed_hash(self._secret, label, normalise_value(label, value))
        number = self._vault.find_number(key)
        if number is None:
            number = self._vault.allocate(key, label, value)
        return Pseudonym(label, number)
