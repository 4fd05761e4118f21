"""Secret detectors: API keys, tokens, private keys, JWTs and credentials in URLs.

Vendor formats with a fixed prefix (``AKIA``, ``AIza``, ``ghp_``, ``xoxb-``) are
matched on shape alone; they are specific enough. Free-form secrets (an AWS secret
key, a password, a hex API key) have no shape of their own, so they are reported
only next to a context word (key, token, secret, password, ...) and, for the
generic case, only when the value is random-looking (Shannon entropy over its own
characters, with letters and digits mixed).

Decision on URLs with embedded credentials: the **userinfo** part
(``user:password`` in ``https://user:password@db.example.com/x``) is the
finding; the scheme, host and path stay visible because annotators often need
them (which service, which endpoint) and they are not secret. A token used as the
whole userinfo (``https://<token>@host``) is redacted the same way.

Private keys in PEM armour are matched from ``-----BEGIN ... PRIVATE KEY-----`` to
the matching END line, whether the line breaks are real or written as ``\\n``
inside a JSON string (service-account key files); a block cut off before its END
line is still redacted up to where its base64 body stops.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from .checksums import shannon_entropy
from .detectors import Detector, EntityType, Match


class _PrefixDetector:
    """A secret recognised by a vendor-specific prefix and alphabet."""

    def __init__(self, name: str, entity_type: EntityType, pattern: str, confidence: float) -> None:
        self.name = name
        self.entity_types = frozenset({entity_type.value})
        self._entity_type = entity_type
        self._pattern = re.compile(pattern)
        self._confidence = confidence

    def detect(self, text: str) -> list[Match]:
        return [
            Match(m.start(), m.end(), self._entity_type, m.group(), self._confidence, self.name)
            for m in self._pattern.finditer(text)
        ]


_AWS_ACCESS_KEY = (
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])"
)
_GCP_API_KEY = r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"
_GITHUB_TOKEN = r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{60,240})(?![A-Za-z0-9_])"
_SLACK_TOKEN = (
    r"(?<![A-Za-z0-9\-])(?:xox[abposrec]-(?:[A-Za-z0-9]{1,64}-){1,5}[A-Za-z0-9]{4,64}"
    r"|xapp-\d-[A-Z0-9]{8,20}-\d{6,20}-[A-Za-z0-9]{20,80})(?![A-Za-z0-9\-])"
)
_SLACK_WEBHOOK = r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_]{6,24}/[A-Za-z0-9_]{6,24}(?:/[A-Za-z0-9_]{6,64}){1,2}"


# --------------------------------------------------------------------------- context-dependent

_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_SECRET_CONTEXT = re.compile(r"(?i)(?:aws|secret|amazon)")


class AwsSecretKeyDetector:
    """40-character AWS secret access keys, only near "aws"/"secret" (they have no prefix)."""

    name = "aws_secret_key"
    entity_types = frozenset({EntityType.AWS_SECRET_KEY.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _AWS_SECRET.finditer(text):
            value = m.group()
            if not (
                any(c.isupper() for c in value)
                and any(c.islower() for c in value)
                and any(c.isdigit() or c in "/+" for c in value)
            ):
                continue
            if not _AWS_SECRET_CONTEXT.search(text[max(0, m.start() - 80) : m.start()]):
                continue
            found.append(Match(m.start(), m.end(), EntityType.AWS_SECRET_KEY, value, 0.9, self.name))
        return found


_CONTEXT_WORD = (
    r"(?:api[_\-\s]?key|apikey|access[_\-\s]?key|secret[_\-\s]?key|client[_\-\s]?secret|private[_\-\s]?key"
    r"|auth[_\-\s]?token|access[_\-\s]?token|refresh[_\-\s]?token|secret|token|password|passwd|passphrase|pwd"
    r"|credentials?|key)"
)
_GENERIC_SECRET = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(?P<word>{_CONTEXT_WORD})[A-Za-z0-9_\-.]{{0,24}}?['\"]?\s{{0,3}}"
    r"(?::=|=>|[:=]|\bis\b|\bwas\b)\s{0,3}['\"`]?(?P<value>[^\s'\"`,;<>()\[\]{}]{6,200})"
)
_BEARER = re.compile(r"(?i)\bbearer\s+(?P<value>[A-Za-z0-9._~+/\-]{20,500}=*)")
_PASSWORD_WORDS = frozenset({"password", "passwd", "passphrase", "pwd"})


class GenericSecretDetector:
    """Random-looking values right after a context word: ``api_key = "..."``, ``password: ...``.

    Passwords need 6+ characters mixing letters with digits or symbols; other
    secrets need 16+ characters, letters and digits, and an entropy of at least
    3 bits per character (natural words and identifiers like ``created_at`` stay
    below it; 32 hex digits sit near 3.7, base64 keys above 4).
    """

    name = "generic_secret"
    entity_types = frozenset({EntityType.GENERIC_SECRET.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _GENERIC_SECRET.finditer(text):
            word = re.sub(r"[_\-\s]", "", m.group("word").lower())
            value = m.group("value").rstrip(".")
            confidence = self._grade(word, value)
            if confidence:
                start = m.start("value")
                found.append(Match(start, start + len(value), EntityType.GENERIC_SECRET, value, confidence, self.name))
        for m in _BEARER.finditer(text):
            value = m.group("value")
            if shannon_entropy(value) >= 3.0:
                found.append(Match(m.start("value"), m.end("value"), EntityType.GENERIC_SECRET, value, 0.9, self.name))
        return found

    @staticmethod
    def _grade(word: str, value: str) -> float:
        if "://" in value or value.startswith(("/", "$", "{", "%", "<")):
            return 0.0  # a URL, path or template placeholder, not a literal secret
        has_letter = any(c.isalpha() for c in value)
        has_digit = any(c.isdigit() for c in value)
        has_symbol = any(not c.isalnum() for c in value)
        if word in _PASSWORD_WORDS:
            if len(value) >= 6 and has_letter and (has_digit or has_symbol) and not value.isdigit():
                return 0.85
            return 0.0
        if (
            len(value) >= 16
            and has_letter
            and has_digit
            and shannon_entropy(value) >= 3.0
            and not _is_identifier(value)
        ):
            return 0.85
        return 0.0


def _is_identifier(value: str) -> bool:
    """``created_at_timestamp_v2``, ``user-profile.v10``: words joined by separators, not random."""
    parts = [p for p in re.split(r"[_\-.:/]", value) if p]
    return len(parts) > 1 and all(
        (p.isalpha() and (p.islower() or p.istitle() or p.isupper())) or len(p) <= 3 for p in parts
    )


_PEM_BEGIN = re.compile(r"-----BEGIN (?P<label>(?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----")
_PEM_LINE = re.compile(
    r"(?:\r?\n|\\r\\n|\\n)[ \t]*(?:[A-Za-z0-9+/]{8,}={0,2}|={0,2}[A-Za-z0-9+/]{1,7}={0,2}|[A-Za-z][A-Za-z\-]{2,20}: [A-Za-z0-9,\-]{1,80})(?=[ \t]*(?:\r?\n|\\r|\\n|$|\"))"
)


class PrivateKeyDetector:
    """PEM/PGP private-key blocks, with real or ``\\n``-escaped line breaks."""

    name = "private_key"
    entity_types = frozenset({EntityType.PRIVATE_KEY.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        position = 0
        while True:
            m = _PEM_BEGIN.search(text, position)
            if m is None:
                break
            label = m.group("label")
            end_marker = re.compile(rf"-----END {re.escape(label)}PRIVATE KEY(?: BLOCK)?-----")
            end = end_marker.search(text, m.end(), m.end() + 20_000)
            if end is not None:
                stop, confidence = end.end(), 0.99
            else:
                # Cut off before its END line: take the base64 lines that follow.
                stop = m.end()
                while (line := _PEM_LINE.match(text, stop)) is not None:
                    stop = line.end()
                confidence = 0.9
            found.append(Match(m.start(), stop, EntityType.PRIVATE_KEY, text[m.start() : stop], confidence, self.name))
            position = stop
        return found


_JWT = re.compile(
    r"(?<![A-Za-z0-9_\-.])eyJ[A-Za-z0-9_\-]{4,2000}\.[A-Za-z0-9_\-]{4,8000}\.[A-Za-z0-9_\-]{0,2000}(?![A-Za-z0-9_\-])"
)


class JwtDetector:
    """JSON Web Tokens: a header that decodes to a JSON object naming its ``alg``.

    The shape alone (``eyJ...``.``...``.``...``) is reported at low confidence so
    that the item is held for review rather than shown or silently passed.
    """

    name = "jwt"
    entity_types = frozenset({EntityType.JWT.value})

    def detect(self, text: str) -> list[Match]:
        found = []
        for m in _JWT.finditer(text):
            header = _b64url_json(m.group().split(".", 1)[0])
            confidence = 0.99 if isinstance(header, dict) and "alg" in header else 0.45
            found.append(Match(m.start(), m.end(), EntityType.JWT, m.group(), confidence, self.name))
        return found


def _b64url_json(segment: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


_URL_USERINFO = re.compile(
    r"(?i)\b[a-z][a-z0-9+.\-]{1,15}://(?P<userinfo>[^\s/?#@:\"'<>]{0,128}:[^\s/?#@\"'<>]{1,256}|[A-Za-z0-9_\-.~]{16,256})@(?=[A-Za-z0-9\[])"
)


class UrlCredentialsDetector:
    """The ``user:password`` (or bare token) part of ``scheme://user:password@host``."""

    name = "url_credentials"
    entity_types = frozenset({EntityType.URL_CREDENTIALS.value})

    def detect(self, text: str) -> list[Match]:
        return [
            Match(
                m.start("userinfo"), m.end("userinfo"), EntityType.URL_CREDENTIALS, m.group("userinfo"), 0.95, self.name
            )
            for m in _URL_USERINFO.finditer(text)
        ]


def credential_detectors() -> list[Detector]:
    """The built-in secret detectors, in a fixed order."""
    return [
        UrlCredentialsDetector(),
        _PrefixDetector("aws_access_key", EntityType.AWS_ACCESS_KEY, _AWS_ACCESS_KEY, 0.95),
        AwsSecretKeyDetector(),
        _PrefixDetector("gcp_api_key", EntityType.GCP_API_KEY, _GCP_API_KEY, 0.95),
        _PrefixDetector("github_token", EntityType.GITHUB_TOKEN, _GITHUB_TOKEN, 0.95),
        _PrefixDetector("slack_token", EntityType.SLACK_TOKEN, _SLACK_TOKEN, 0.95),
        _PrefixDetector("slack_webhook", EntityType.SLACK_WEBHOOK, _SLACK_WEBHOOK, 0.97),
        GenericSecretDetector(),
        PrivateKeyDetector(),
        JwtDetector(),
    ]
