"""Audit entries and their canonical encoding, the Merkle leaf data.

Concept
    One entry records one action in one workspace. An exported log is JSON
    Lines, one entry per line, in ``seq`` order, and each line is exactly the
    entry's canonical encoding followed by ``\\n``::

        {"action":"task.shown","actor":"usr_…","at":"2026-11-27T21:45:54.123456Z","details":{},"id":"aud_…","seq":0,"target":"tsk_…","v":2,"workspace":"ws_…"}

    The leaf data of entry ``seq`` is the canonical JSON of the *whole* entry
    object. Because ``seq`` and ``workspace`` are inside the leaf, an entry
    cannot be moved to another position or another workspace without changing
    its leaf hash.

Two encodings, told apart by the entry itself
    * **Format 2 (every entry written now)** carries ``"v": 2`` and is encoded
      with RFC 8785, the JSON Canonicalization Scheme (JCS): members sorted by
      their names' UTF-16 code units, strings escaped as ECMAScript's
      ``JSON.stringify`` does, numbers spelled as ECMAScript's
      ``Number.prototype.toString`` (``1e+21``, ``0.000001``, ``4.5``, ``1`` for
      ``1.0``). A client re-creates it in any language from the parsed line
      (docs/verify-audit.mjs does it in Node.js with no dependencies).
    * **Format 1 (legacy)**: entries written before JCS have no ``v`` field and
      stay exactly as they were hashed: keys sorted by code point, no spaces,
      UTF-8, what ``orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)`` produces
      (floats in orjson's own spelling). They verify exactly as before.

    The marker is inside the hashed bytes, so turning an entry of one format
    into the other changes its leaf: a verifier cannot be talked into the
    wrong encoding. A log may hold legacy entries followed by format-2 ones
    (the change needs no migration and no record of where it happened).

Invariants
    * Eight fields, plus ``v`` in format 2: ``seq`` (int >= 0), ``id``
      (``aud_…``), ``at`` (UTC, ``2026-11-27T21:45:54.123456Z`` and no other
      spelling), ``workspace`` (``ws_…``), ``actor`` (``usr_…`` or ``system``,
      any non-empty string), ``action`` (dotted lowercase, ``task.shown``),
      ``target`` (string or null), ``details`` (a JSON object) and ``v``
      (exactly the integer 2, or absent).
    * Only JSON values are accepted, by exact type: ``dict`` with ``str`` keys,
      ``list``, ``str``, ``int``, finite ``float``, ``bool``, ``None``.
      Anything else is rejected, never converted. Integers must fit the
      encoding's number model: in format 2 an IEEE double holds them exactly
      (±(2**53 − 1), I-JSON); legacy entries allowed 64 bits.

The trap
    orjson serialises much more than JSON can give back: ``NaN`` becomes
    ``null``, datetimes, UUIDs, enums, dataclasses and tuples become strings or
    arrays. A leaf built from such a value can never be recomputed from the
    exported line, so that entry would fail verification forever. Validate
    before hashing, and never hash ``json.dumps`` output or ``str(obj)``: their
    spacing and escaping differ from the canonical form. And in format 2 a
    number is a double: a verifier that re-encodes a parsed integer literal
    past 2**53 as an integer (Python's ``int``) instead of as the double it
    denotes disagrees with every JavaScript client; :func:`canonical_bytes`
    reads parsed lines the way JCS does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785

from ._time import format_timestamp, is_canonical_timestamp, parse_timestamp
from .errors import InvalidAuditEntry
from .merkle import hash_leaf

__all__ = [
    "ENTRY_FIELDS",
    "FORMAT_FIELD",
    "JCS_FORMAT",
    "LEGACY_FORMAT",
    "AuditEntry",
    "canonical_bytes",
    "entry_line",
    "find_entry_problem",
    "format_timestamp",
    "leaf_bytes",
    "leaf_hash",
    "parse_entry_line",
    "parse_timestamp",
]

ENTRY_FIELDS = ("seq", "id", "at", "workspace", "actor", "action", "target", "details")
FORMAT_FIELD = "v"
LEGACY_FORMAT = 1  # no "v" field: orjson's sorted-keys encoding
JCS_FORMAT = 2  # "v": 2: RFC 8785
_FIELD_SET = frozenset(ENTRY_FIELDS)
_JCS_FIELD_SET = _FIELD_SET | {FORMAT_FIELD}

_ID = re.compile(r"aud_[A-Za-z0-9_-]+")
# The workspace id ends the checkpoint origin (``deployment/ws_…``), so it
# must not contain a slash, a space or a plus.
_WORKSPACE = re.compile(r"ws_[A-Za-z0-9_-]+")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# Integer ranges per format: legacy entries took 64 bits; an RFC 8785 number
# is an IEEE double, exact for integers up to 2**53 - 1 (I-JSON).
_INT_RANGE = {LEGACY_FORMAT: (-(2**63), 2**64 - 1), JCS_FORMAT: (-(2**53) + 1, 2**53 - 1)}
_MAX_DEPTH = 64
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _json_problem(value: Any, path: str, depth: int, ints: tuple[int, int]) -> str | None:
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return None
    if kind is int:
        if ints[0] <= value <= ints[1]:
            return None
        if ints[1] < 2**64 - 1:
            return (
                f"{path}: integer {value} is outside ±(2**53 - 1), which a JSON number (an IEEE"
                " double) holds exactly; record it as a string"
            )
        return f"{path}: integer {value} is outside the 64-bit range"
    if kind is float:
        return None if math.isfinite(value) else f"{path}: {value} is not a JSON number"
    if depth >= _MAX_DEPTH:
        return f"{path}: nested deeper than {_MAX_DEPTH} levels"
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{path}: key {key!r} is not a string"
            problem = _json_problem(item, f"{path}.{key}", depth + 1, ints)
            if problem:
                return problem
        return None
    if kind is list:
        for position, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{position}]", depth + 1, ints)
            if problem:
                return problem
        return None
    return f"{path}: {kind.__name__} is not a JSON value (convert it to str, int, float, bool, None, list or dict)"


def _format_of(obj: Mapping[str, Any]) -> int:
    return JCS_FORMAT if FORMAT_FIELD in obj else LEGACY_FORMAT


def find_entry_problem(obj: Any, *, deep: bool = True) -> str | None:
    """Return why ``obj`` is not a well-formed entry dict, or ``None`` when it is.

    ``deep=False`` skips the walk through ``details``; only use it for objects
    that came out of a JSON parser, which cannot hold non-JSON values.
    """
    if type(obj) is not dict:
        return f"an entry is a JSON object, got {type(obj).__name__}"
    fmt = _format_of(obj)
    expected = _JCS_FIELD_SET if fmt == JCS_FORMAT else _FIELD_SET
    if obj.keys() != expected:
        missing = sorted(expected - obj.keys())
        extra = sorted(str(k) for k in obj.keys() - expected)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        return "entry fields: " + "; ".join(parts)
    if fmt == JCS_FORMAT and (type(obj[FORMAT_FIELD]) is not int or obj[FORMAT_FIELD] != JCS_FORMAT):
        return f"v must be {JCS_FORMAT} (RFC 8785 entries) or absent (legacy entries), got {obj[FORMAT_FIELD]!r}"
    ints = _INT_RANGE[fmt]
    seq = obj["seq"]
    if type(seq) is not int or not 0 <= seq <= min(ints[1], 2**63 - 1):
        return f"seq must be a non-negative integer, got {seq!r}"
    entry_id = obj["id"]
    if type(entry_id) is not str or not _ID.fullmatch(entry_id):
        return f"id must look like aud_…, got {entry_id!r}"
    if not is_canonical_timestamp(obj["at"]):
        return f"at must be a UTC timestamp like 2026-11-27T21:45:54.123456Z, got {obj['at']!r}"
    workspace = obj["workspace"]
    if type(workspace) is not str or not _WORKSPACE.fullmatch(workspace):
        return f"workspace must look like ws_…, got {workspace!r}"
    actor = obj["actor"]
    if type(actor) is not str or not actor:
        return f"actor must be a non-empty string, got {actor!r}"
    action = obj["action"]
    if type(action) is not str or not _ACTION.fullmatch(action):
        return f"action must be a dotted lowercase name like task.shown, got {action!r}"
    target = obj["target"]
    if target is not None and (type(target) is not str or not target):
        return f"target must be a non-empty string or null, got {target!r}"
    details = obj["details"]
    if type(details) is not dict:
        return f"details must be a JSON object, got {type(details).__name__}"
    if deep:
        return _json_problem(details, "details", 1, ints)
    return None


def _legacy(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
        raise InvalidAuditEntry(f"entry cannot be encoded as JSON: {exc}") from exc


# Characters at or above U+E000 sort differently by UTF-16 code unit (RFC 8785) and by
# code point (orjson): U+10000 and up are surrogate pairs, D800–DFFF, below U+E000.
_ORDER_MAY_DIFFER = re.compile("[\ue000-\U0010ffff]")


def _is_plain(value: Any) -> bool:
    """True when orjson's sorted output is already the RFC 8785 encoding of ``value``.

    That holds without floats (the two spell them differently), with integers a
    double holds exactly, and with member names whose order is the same by
    code point and by UTF-16 code unit; strings are escaped alike. The pure
    Python JCS encoder costs about 20 µs an entry; most entries (ids, counts)
    take this path instead. tests/properties/test_audit_jcs_properties.py checks the two agree.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        number: int = value
        return -(2**53) < number < 2**53
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and _ORDER_MAY_DIFFER.search(key)):
                return False
            if not _is_plain(item):
                return False
        return True
    if kind is list:
        return all(_is_plain(item) for item in value)
    return False


def _jcs(obj: Any, *, plain: bool | None = None) -> bytes:
    if _is_plain(obj) if plain is None else plain:
        try:
            return orjson.dumps(obj, option=_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: let the JCS encoder name it
            pass
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:  # a lone surrogate, a number out of range
        raise InvalidAuditEntry(f"entry cannot be encoded as JSON (RFC 8785): {exc}") from exc


def _encode(obj: dict[str, Any]) -> bytes:
    return _jcs(obj) if FORMAT_FIELD in obj else _legacy(obj)


def _as_doubles(value: Any) -> Any:
    """A parsed JSON value read as JCS reads it: every number is an IEEE double.

    A parser hands back integer literals as ``int``; within ±(2**53 - 1) that
    is the same number, beyond it the literal stands for the nearest double
    (``10000000000000000`` is how JCS spells the double 1e16).
    """
    kind = type(value)
    if kind is int:
        return value if -(2**53) < value < 2**53 else float(value)
    if kind is dict:
        return {key: _as_doubles(item) for key, item in value.items()}
    if kind is list:
        return [_as_doubles(item) for item in value]
    return value


def canonical_bytes(parsed: Any) -> bytes:
    """The canonical encoding of an entry as a JSON parser returned it.

    A verifier compares this with the exported line and hashes it: entries with
    ``v`` are re-encoded with RFC 8785 (numbers read as doubles), entries
    without it with the legacy encoding. Raises :class:`InvalidAuditEntry` when
    the value has no encoding (a lone surrogate, a non-JSON value).
    """
    if type(parsed) is dict and FORMAT_FIELD in parsed:
        if _is_plain(parsed):  # then every integer is one a double holds: nothing to convert
            return _jcs(parsed, plain=True)
        return _jcs(_as_doubles(parsed), plain=False)
    if type(parsed) is dict:
        return _legacy(parsed)
    try:
        return orjson.dumps(parsed, option=_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise InvalidAuditEntry(f"entry cannot be encoded as JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit log entry; construction validates it and copies ``details``.

    ``v`` is the encoding: :data:`JCS_FORMAT` (RFC 8785, the default for every
    new entry) or :data:`LEGACY_FORMAT` (entries read back from before it).
    """

    seq: int
    id: str
    at: str
    workspace: str
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]
    v: int = JCS_FORMAT

    def __post_init__(self) -> None:
        if type(self.v) is not int or self.v not in (LEGACY_FORMAT, JCS_FORMAT):
            raise InvalidAuditEntry(f"invalid audit entry: v must be {LEGACY_FORMAT} or {JCS_FORMAT}, got {self.v!r}")
        as_dict = {name: getattr(self, name) for name in ENTRY_FIELDS}
        if self.v == JCS_FORMAT:
            as_dict[FORMAT_FIELD] = JCS_FORMAT
        problem = find_entry_problem(as_dict)
        if problem:
            raise InvalidAuditEntry(f"invalid audit entry: {problem}")
        # A private copy, so later changes to the caller's dict cannot change
        # what this entry hashes to.
        object.__setattr__(self, "details", orjson.loads(_legacy(self.details)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        problem = find_entry_problem(dict(data) if isinstance(data, Mapping) else data)
        if problem:
            raise InvalidAuditEntry(f"invalid audit entry: {problem}")
        return cls(**{name: data[name] for name in ENTRY_FIELDS}, v=_format_of(data))

    def to_dict(self) -> dict[str, Any]:
        data = {
            "seq": self.seq,
            "id": self.id,
            "at": self.at,
            "workspace": self.workspace,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": orjson.loads(orjson.dumps(self.details)),
        }
        if self.v == JCS_FORMAT:
            data[FORMAT_FIELD] = JCS_FORMAT
        return data


def leaf_bytes(entry: AuditEntry | Mapping[str, Any]) -> bytes:
    """The canonical JSON of the whole entry (RFC 8785, or legacy without ``v``): the leaf data."""
    obj = entry.to_dict() if isinstance(entry, AuditEntry) else entry
    if isinstance(obj, Mapping) and type(obj) is not dict:
        obj = dict(obj)
    problem = find_entry_problem(obj)
    if problem:
        raise InvalidAuditEntry(f"invalid audit entry: {problem}")
    return _encode(obj)


def leaf_hash(entry: AuditEntry | Mapping[str, Any]) -> bytes:
    """``SHA-256(0x00 || leaf_bytes(entry))``."""
    return hash_leaf(leaf_bytes(entry))


def entry_line(entry: AuditEntry | Mapping[str, Any]) -> bytes:
    """One line of an exported log: the leaf data and a newline."""
    return leaf_bytes(entry) + b"\n"


def parse_entry_line(line: bytes | str) -> AuditEntry:
    """Parse one exported line; it must be exactly the entry's canonical form."""
    raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidAuditEntry(f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidAuditEntry(f"an entry is a JSON object, got {type(obj).__name__}")
    entry = AuditEntry.from_dict(_as_doubles(obj) if FORMAT_FIELD in obj else obj)
    if canonical_bytes(obj) != raw:
        raise InvalidAuditEntry(
            "line is not in canonical form (RFC 8785 for entries with v, sorted keys and no spaces for legacy ones)"
        )
    return entry
