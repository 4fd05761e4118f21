"""Check digits and randomness measures that turn a pattern match into evidence.

A regex alone says "this looks like a card number"; a check digit says "this is
one". Detectors use these to grade their confidence: a validated match is near
certain, a shape-only match is not.
"""

from __future__ import annotations

import math
from collections import Counter

# ISO 13616 registry: country code -> total IBAN length.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip


def luhn_is_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn mod-10 check."""
    if not digits or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_is_valid(compact: str) -> bool:
    """True when ``compact`` (upper case, no spaces) has its country's length and passes mod-97."""
    if len(compact) < 5 or not compact.isalnum() or not compact.isascii():
        return False
    country = compact[:2]
    if IBAN_LENGTHS.get(country) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    remainder = 0
    for char in rearranged:
        if char.isdigit():
            remainder = (remainder * 10 + ord(char) - 48) % 97
        elif "A" <= char <= "Z":
            remainder = (remainder * 100 + ord(char) - 55) % 97
        else:
            return False
    return remainder == 1


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution."""
    if not value:
        return 0.0
    counts = Counter(value)
    length = len(value)
    return -sum(count / length * math.log2(count / length) for count in counts.values())


def card_brand(digits: str) -> str | None:
    """The card scheme an issuer prefix belongs to, or None when no scheme uses it."""
    length = len(digits)
    two = int(digits[:2]) if length >= 2 else -1
    three = int(digits[:3]) if length >= 3 else -1
    four = int(digits[:4]) if length >= 4 else -1
    six = int(digits[:6]) if length >= 6 else -1
    if digits.startswith("4") and length in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and length == 16:
        return "mastercard"
    if two in (34, 37) and length == 15:
        return "amex"
    if (four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925) and 16 <= length <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= length <= 19:
        return "jcb"
    if (two in (36, 38, 39) or 300 <= three <= 305 or four == 3095) and 14 <= length <= 19:
        return "diners"
    if two == 62 and 16 <= length <= 19:
        return "unionpay"
    if four in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763) and 12 <= length <= 19:
        return "maestro"
    return None
