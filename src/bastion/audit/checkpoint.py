"""Signed checkpoints: a workspace log's tree head, as a C2SP tlog-checkpoint note.

Concept
    A checkpoint commits to the first ``size`` entries of one workspace's log.
    It is a signed note (see :mod:`bastion.audit.notes`) whose text is::

        bastion.example/ws_01hx…                      origin: deployment / workspace
        300                                           tree size, decimal, no leading zeros
        3q2+7w…=                                      base64 of the 32-byte RFC 6962 root
        timestamp 2026-11-27T21:45:54.123456Z         extension line: when it was signed

        — bastion.example <base64(key id || Ed25519 signature)>

    One deployment key signs the checkpoints of every workspace, so the key
    name names the deployment and the origin names the log (the tlog-checkpoint
    spec's "key name SHOULD match the origin" is relaxed on purpose).

    Saved to a file, a checkpoint is JSON: ``{"note": "<signed note text>",
    "origin": …, "size": …, "root": "<base64>", "timestamp": …}``. Only
    ``note`` is trusted; the other fields are informational copies for people
    and tools, and a reader reports a :class:`CheckpointMismatch` when they
    disagree with the verified note.

Invariants
    * Nothing in the text is read before the signature has been verified.
    * The text has exactly four lines, in this order, in their single
      canonical spelling; anything else is a :class:`MalformedCheckpoint`.

The trap
    One key signs every workspace's checkpoints, so a valid signature alone
    does not say *which* log it is about: a checkpoint of workspace B verifies
    fine under the deployment key. Always compare ``origin`` with the log you
    are checking (``verify_log`` does), and compare ``size`` and ``root``
    from the verified note, never from the JSON copies.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._time import format_timestamp, parse_timestamp
from .errors import CheckpointMismatch, InvalidKey, MalformedCheckpoint
from .merkle import HASH_SIZE
from .notes import VerifierKey, b64decode_strict, open_note, sign_note

_TIMESTAMP_PREFIX = "timestamp "
_JSON_COPIES = ("origin", "size", "root", "timestamp")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A verified checkpoint. Only :func:`parse_and_verify_checkpoint` makes these."""

    origin: str
    size: int
    root: bytes
    timestamp: datetime
    note: str
    key_name: str

    @property
    def workspace(self) -> str | None:
        """The workspace id the origin names (its last path segment), if any."""
        return workspace_of_origin(self.origin)

    def to_json(self) -> dict[str, Any]:
        """The saved-file form: the note plus informational copies."""
        return {
            "note": self.note,
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "timestamp": format_timestamp(self.timestamp),
        }


def check_origin(origin: object) -> str:
    if not isinstance(origin, str) or not origin:
        raise MalformedCheckpoint("an origin is a non-empty string")
    if "+" in origin or any(ch.isspace() or ord(ch) < 0x20 for ch in origin):
        raise MalformedCheckpoint(f"origin {origin!r} must not contain spaces or '+'")
    return origin


def checkpoint_origin(deployment: str, workspace_id: str) -> str:
    """``<deployment>/<workspace id>``, e.g. ``bastion.example/ws_01hx…``."""
    origin = check_origin(f"{deployment}/{workspace_id}")
    if workspace_of_origin(origin) != workspace_id:
        raise MalformedCheckpoint(f"{workspace_id!r} is not a workspace id (ws_…)")
    return origin


def workspace_of_origin(origin: str) -> str | None:
    """The ``ws_…`` segment that ends an origin, or ``None`` when there is none."""
    _, _, last = origin.rpartition("/")
    if not last.startswith("ws_") or len(last) == 3:
        return None
    return last


def _body(origin: str, size: int, root: bytes, timestamp: datetime) -> str:
    check_origin(origin)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise MalformedCheckpoint(f"tree size must be a non-negative integer, got {size!r}")
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise MalformedCheckpoint(f"root hash must be {HASH_SIZE} bytes")
    try:
        stamp = format_timestamp(timestamp)
    except (AttributeError, ValueError) as exc:
        raise MalformedCheckpoint(f"checkpoint timestamp: {exc}") from exc
    encoded_root = base64.b64encode(root).decode("ascii")
    return f"{origin}\n{size}\n{encoded_root}\n{_TIMESTAMP_PREFIX}{stamp}\n"


def sign_checkpoint(
    private_key: Ed25519PrivateKey,
    name: str,
    origin: str,
    size: int,
    root: bytes,
    timestamp: datetime,
) -> str:
    """Sign the tree head ``(size, root)`` of log ``origin``; return the note text."""
    return sign_note(_body(origin, size, root, timestamp), name, private_key)


def _parse_body(text: str) -> tuple[str, int, bytes, datetime]:
    lines = text.split("\n")
    if lines[-1] != "":
        raise MalformedCheckpoint("checkpoint text does not end with a newline")
    lines = lines[:-1]
    if len(lines) != 4:
        raise MalformedCheckpoint(f"checkpoint text has {len(lines)} lines; expected origin, size, root and timestamp")
    origin, size_text, root_text, stamp_line = lines
    check_origin(origin)
    if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise MalformedCheckpoint(f"tree size {size_text!r} is not a decimal without leading zeros")
    root = b64decode_strict(root_text, "root hash")
    if len(root) != HASH_SIZE:
        raise MalformedCheckpoint(f"root hash is {len(root)} bytes, expected {HASH_SIZE}")
    if not stamp_line.startswith(_TIMESTAMP_PREFIX):
        raise MalformedCheckpoint("fourth line must be 'timestamp <UTC time>'")
    try:
        stamp = parse_timestamp(stamp_line[len(_TIMESTAMP_PREFIX) :])
    except ValueError as exc:
        raise MalformedCheckpoint(str(exc)) from exc
    return origin, int(size_text), root, stamp


def resolve_verifier_key(verifier_key: str | VerifierKey) -> VerifierKey:
    if isinstance(verifier_key, VerifierKey):
        return verifier_key
    if isinstance(verifier_key, str):
        return VerifierKey.from_string(verifier_key)
    raise InvalidKey("a verifier key is a VerifierKey or its string form")


def parse_and_verify_checkpoint(text: str | bytes, verifier_key: str | VerifierKey) -> Checkpoint:
    """Verify the note's signature with the trusted key, then parse the checkpoint.

    Raises :class:`MalformedCheckpoint`, :class:`UnknownCheckpointKey` or
    :class:`BadCheckpointSignature` (all :class:`CheckpointError`).
    """
    key = resolve_verifier_key(verifier_key)
    body = open_note(text, key)
    origin, size, root, stamp = _parse_body(body)
    note = text.decode("utf-8") if isinstance(text, bytes) else text
    return Checkpoint(origin, size, root, stamp, note, key.name)


def checkpoint_to_json(note: str) -> dict[str, Any]:
    """The saved-file form of a note this deployment just signed.

    The copies are read from the note's text without verifying it: use this
    on the signing side only. Readers call :func:`checkpoint_from_json`.
    """
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("note has no blank line before its signatures")
    origin, size, root, stamp = _parse_body(note[: split + 1])
    return {
        "note": note,
        "origin": origin,
        "size": size,
        "root": base64.b64encode(root).decode("ascii"),
        "timestamp": format_timestamp(stamp),
    }


def checkpoint_from_json(data: Mapping[str, Any] | str | bytes, verifier_key: str | VerifierKey) -> Checkpoint:
    """Read a saved checkpoint: verify its note, then compare the copies.

    Raises :class:`CheckpointMismatch` (carrying the verified checkpoint) when
    an informational copy disagrees with the signed note.
    """
    if isinstance(data, (str, bytes)):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MalformedCheckpoint(f"checkpoint file is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("note"), str):
        raise MalformedCheckpoint('a saved checkpoint is a JSON object with a "note" string')
    checkpoint = parse_and_verify_checkpoint(data["note"], verifier_key)
    trusted = checkpoint.to_json()
    differing = [name for name in _JSON_COPIES if name in data and data[name] != trusted[name]]
    # bool is an int: a size of true must not pass for 1.
    if "size" in data and type(data["size"]) is not int and "size" not in differing:
        differing.append("size")
    if differing:
        raise CheckpointMismatch(
            f"saved checkpoint fields {', '.join(differing)} disagree with the signed note;"
            " only the signed note is trusted",
            checkpoint=checkpoint,
            details={name: {"saved": data[name], "signed": trusted[name]} for name in differing},
        )
    return checkpoint
