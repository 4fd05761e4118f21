"""Audit entries and their canonical encoding, the Merkle leaf data.

Concept
    One entry records one action in one workspace. An exported log is JSON
    Lines, one entry per line, in ``seq`` order, and each line is exactly the
    entry's canonical encoding followed by ``\\n``::

        {"action":"task.shown","actor":"usr_…","at":"2026-11-27T21:45:54.123456Z","details":{},"id":"aud_…","seq":0,"target":"tsk_…","workspace":"ws_…"}

    The leaf data of entry ``seq`` is the canonical JSON of the *whole* entry
    object: keys sorted, no insignificant whitespace, UTF-8, exactly what
    ``orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)`` produces. Because
    ``seq`` and ``workspace`` are inside the leaf, an entry cannot be moved to
    another position or another workspace without changing its leaf hash.

Invariants
    * Exactly eight fields: ``seq`` (int >= 0), ``id`` (``aud_…``), ``at``
      (UTC, ``2026-11-27T21:45:54.123456Z`` and no other spelling),
      ``workspace`` (``ws_…``), ``actor`` (``usr_…`` or ``system``, any
      non-empty string), ``action`` (dotted lowercase, ``task.shown``),
      ``target`` (string or null) and ``details`` (a JSON object).
    * Only JSON values are accepted, by exact type: ``dict`` with ``str`` keys,
      ``list``, ``str``, ``int`` (64-bit), finite ``float``, ``bool``, ``None``.
      Anything else is rejected, never converted.

The trap
    orjson serialises much more than JSON can give back: ``NaN`` becomes
    ``null``, datetimes, UUIDs, enums, dataclasses and tuples become strings or
    arrays. A leaf built from such a value can never be recomputed from the
    exported line, so that entry would fail verification forever. Validate
    before hashing, and never hash ``json.dumps`` output or ``str(obj)``: their
    spacing and escaping differ from the canonical form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.audit._time import format_timestamp, is_canonical_timestamp, parse_timestamp
from bastion.audit.errors import InvalidAuditEntry
from bastion.audit.merkle import hash_leaf

__all__ = [
    "ENTRY_FIELDS",
    "AuditEntry",
    "entry_line",
    "find_entry_problem",
    "format_timestamp",
    "leaf_bytes",
    "leaf_hash",
    "parse_entry_line",
    "parse_timestamp",
]

ENTRY_FIELDS = ("seq", "id", "at", "workspace", "actor", "action", "target", "details")
_FIELD_SET = frozenset(ENTRY_FIELDS)

_ID = re.compile(r"aud_[A-Za-z0-9_-]+")
# The workspace id ends the checkpoint origin (``deployment/ws_…``), so it
# must not contain a slash, a space or a plus.
_WORKSPACE = re.compile(r"ws_[A-Za-z0-9_-]+")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_MAX_DEPTH = 64
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _json_problem(value: Any, path: str, depth: int) -> str | None:
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return None
    if kind is int:
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return f"{path}: integer {value} is outside the 64-bit range"
    if kind is float:
        return None if math.isfinite(value) else f"{path}: {value} is not a JSON number"
    if depth >= _MAX_DEPTH:
        return f"{path}: nested deeper than {_MAX_DEPTH} levels"
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{path}: key {key!r} is not a string"
            problem = _json_problem(item, f"{path}.{key}", depth + 1)
            if problem:
                return problem
        return None
    if kind is list:
        for position, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{position}]", depth + 1)
            if problem:
                return problem
        return None
    return (
        f"{path}: {kind.__name__} is not a JSON value"
        " (convert it to str, int, float, bool, None, list or dict)"
    )


def find_entry_problem(obj: Any, *, deep: bool = True) -> str | None:
    """Return why ``obj`` is not a well-formed entry dict, or ``None`` when it is.

    ``deep=False`` skips the walk through ``details``; only use it for objects
    that came out of a JSON parser, which cannot hold non-JSON values.
    """
    if type(obj) is not dict:
        return f"an entry is a JSON object, got {type(obj).__name__}"
    if obj.keys() != _FIELD_SET:
        missing = sorted(_FIELD_SET - obj.keys())
        extra = sorted(str(k) for k in obj.keys() - _FIELD_SET)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        return "entry fields: " + "; ".join(parts)
    seq = obj["seq"]
    if type(seq) is not int or not 0 <= seq < 2**63:
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
        return _json_problem(details, "details", 1)
    return None


def _canonical(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
        raise InvalidAuditEntry(f"entry cannot be encoded as JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit log entry; construction validates it and copies ``details``."""

    seq: int
    id: str
    at: str
    workspace: str
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]

    def __post_init__(self) -> None:
        as_dict = {name: getattr(self, name) for name in ENTRY_FIELDS}
        problem = find_entry_problem(as_dict)
        if problem:
            raise InvalidAuditEntry(f"invalid audit entry: {problem}")
        # A private copy, so later changes to the caller's dict cannot change
        # what this entry hashes to.
        object.__setattr__(self, "details", orjson.loads(_canonical(self.details)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        problem = find_entry_problem(dict(data) if isinstance(data, Mapping) else data)
        if problem:
            raise InvalidAuditEntry(f"invalid audit entry: {problem}")
        return cls(**{name: data[name] for name in ENTRY_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "at": self.at,
            "workspace": self.workspace,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": orjson.loads(orjson.dumps(self.details)),
        }


def leaf_bytes(entry: AuditEntry | Mapping[str, Any]) -> bytes:
    """The canonical JSON of the whole entry: the Merkle leaf data."""
    obj = entry.to_dict() if isinstance(entry, AuditEntry) else entry
    if isinstance(obj, Mapping) and type(obj) is not dict:
        obj = dict(obj)
    problem = find_entry_problem(obj)
    if problem:
        raise InvalidAuditEntry(f"invalid audit entry: {problem}")
    return _canonical(obj)  # type: ignore[arg-type]


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
    entry = AuditEntry.from_dict(obj) if isinstance(obj, dict) else None
    if entry is None:
        raise InvalidAuditEntry(f"an entry is a JSON object, got {type(obj).__name__}")
    if _canonical(obj) != raw:
        raise InvalidAuditEntry("line is not in canonical form (sorted keys, no spaces)")
    return entry
