"""Ed25519 signed notes (C2SP signed-note) and their key strings.

Concept
    A signed note is UTF-8 text ending in a newline, a blank line, then one or
    more signature lines::

        <text, ending in \\n>
        <blank line>
        — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>

    The signature covers the text, final newline included. A key is named
    (``bastion.example``) and identified by
    ``key id = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]``.
    Keys travel as strings compatible with Go's ``golang.org/x/mod/sumdb/note``:

        verifier key  <name>+<8 hex key id>+<base64(0x01 || public key)>
        signer key    PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>

Invariants
    * A note is accepted only if at least one signature line carries the
      trusted key's name *and* id and every such signature verifies.
      Signatures by other keys are ignored (they may be witnesses).
    * The text is returned only after verification; nothing is parsed from
      it before.

The trap
    The key id is a 4-byte *identifier*, not a fingerprint: anyone can mint a
    key with the same name and id. Matching on name and id selects which
    signature to check; only the Ed25519 verification with the configured
    public key decides. A verifier that trusts a note because "the key id
    matches" (or that checks hashes and never the signature) accepts forgeries.
    Also: the base64 of a key may itself contain ``+``, so key strings are split
    with a bounded ``maxsplit``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from .errors import (
    BadCheckpointSignature,
    InvalidKey,
    MalformedCheckpoint,
    UnknownCheckpointKey,
)

ED25519_TYPE = 0x01
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 64
_DASH = "\u2014 "  # em dash, space


def b64decode_strict(text: str, what: str, error: type[Exception] = MalformedCheckpoint) -> bytes:
    """Standard base64 with padding, in its one canonical spelling."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise error(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64")
    return raw


def check_key_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidKey("a key name must be a non-empty string")
    if "+" in name or any(ch.isspace() or ord(ch) < 0x20 for ch in name):
        raise InvalidKey(f"key name {name!r} must not contain spaces, control characters or '+'")
    return name


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def compute_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (C2SP signed-note)."""
    check_key_name(name)
    material = name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + _raw_public(public_key)
    return hashlib.sha256(material).digest()[:4]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A trusted public key: its name, 4-byte id and Ed25519 key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def for_public_key(cls, name: str, public_key: Ed25519PublicKey) -> VerifierKey:
        return cls(name, compute_key_id(name, public_key), public_key)

    @classmethod
    def from_string(cls, text: str) -> VerifierKey:
        """Parse ``<name>+<hex id>+<base64(0x01 || key)>``, checking the id."""
        if not isinstance(text, str):
            raise InvalidKey("a verifier key is a string")
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise InvalidKey("a verifier key looks like name+hexid+base64key")
        name, hex_id, encoded = parts
        check_key_name(name)
        if len(hex_id) != 8 or hex_id.lower() != hex_id:
            raise InvalidKey("the key id in a verifier key is 8 lowercase hex digits")
        try:
            key_id = bytes.fromhex(hex_id)
        except ValueError as exc:
            raise InvalidKey("the key id in a verifier key is 8 lowercase hex digits") from exc
        material = b64decode_strict(encoded, "verifier key material", InvalidKey)
        if len(material) != 33 or material[0] != ED25519_TYPE:
            raise InvalidKey("verifier key material is not 0x01 followed by a 32-byte Ed25519 key")
        public_key = Ed25519PublicKey.from_public_bytes(material[1:])
        if compute_key_id(name, public_key) != key_id:
            raise InvalidKey(f"key id {hex_id} does not match the key named {name!r}")
        return cls(name, key_id, public_key)

    def to_string(self) -> str:
        material = bytes([ED25519_TYPE]) + _raw_public(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(material).decode('ascii')}"

    def __str__(self) -> str:
        return self.to_string()


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key for signing checkpoints."""
    return Ed25519PrivateKey.generate()


def verifier_key_string(name: str, key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The published verifier key string for a key pair."""
    public_key = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return VerifierKey.for_public_key(name, public_key).to_string()


def signer_key_string(name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``: keep it secret."""
    key_id = compute_key_id(name, private_key.public_key())
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    material = base64.b64encode(bytes([ED25519_TYPE]) + seed).decode("ascii")
    return f"PRIVATE+KEY+{name}+{key_id.hex()}+{material}"


def parse_signer_key(text: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a signer key string into its name and private key (id checked)."""
    parts = text.strip().split("+", 4) if isinstance(text, str) else []
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise InvalidKey("a signer key looks like PRIVATE+KEY+name+hexid+base64key")
    _, _, name, hex_id, encoded = parts
    check_key_name(name)
    material = b64decode_strict(encoded, "signer key material", InvalidKey)
    if len(material) != 33 or material[0] != ED25519_TYPE:
        raise InvalidKey("signer key material is not 0x01 followed by a 32-byte Ed25519 seed")
    private_key = Ed25519PrivateKey.from_private_bytes(material[1:])
    if compute_key_id(name, private_key.public_key()).hex() != hex_id:
        raise InvalidKey(f"key id {hex_id} does not match the key named {name!r}")
    return name, private_key


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise MalformedCheckpoint(f"{what} contains control character {ch!r}")


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` (which must end in a newline) and return the signed note."""
    check_key_name(name)
    if not text.endswith("\n"):
        raise MalformedCheckpoint("note text must end with a newline")
    _check_text(text, "note text")
    key_id = compute_key_id(name, private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(key_id + signature).decode("ascii")
    return f"{text}\n{_DASH}{name} {encoded}\n"


def open_note(note: str | bytes, verifier_key: VerifierKey) -> str:
    """Verify a signed note against one trusted key and return its text.

    Raises :class:`MalformedCheckpoint`, :class:`UnknownCheckpointKey` (no
    signature by the trusted key) or :class:`BadCheckpointSignature`.
    """
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise MalformedCheckpoint(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCheckpoint("note is not valid UTF-8") from exc
    if not isinstance(note, str):
        raise MalformedCheckpoint("a note is text")
    if len(_utf8(note)) > MAX_NOTE_BYTES:
        raise MalformedCheckpoint(f"note is larger than {MAX_NOTE_BYTES} bytes")
    _check_text(note, "note")
    if not note.endswith("\n"):
        raise MalformedCheckpoint("note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("note has no blank line before its signatures")
    text = note[: split + 1]
    signature_lines = note[split + 2 :].split("\n")[:-1]
    if not signature_lines:
        raise MalformedCheckpoint("note has no signature lines")
    if len(signature_lines) > MAX_SIGNATURES:
        raise MalformedCheckpoint(f"note has more than {MAX_SIGNATURES} signatures")

    matching: list[bytes] = []
    seen: list[str] = []
    for number, line in enumerate(signature_lines, start=1):
        if not line.startswith(_DASH):
            raise MalformedCheckpoint(f"signature line {number} does not start with '— '")
        fields = line[len(_DASH) :].split(" ")
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise MalformedCheckpoint(f"signature line {number} is not '— <name> <signature>'")
        name, encoded = fields
        try:
            check_key_name(name)
        except InvalidKey as exc:
            raise MalformedCheckpoint(f"signature line {number}: {exc}") from exc
        blob = b64decode_strict(encoded, f"signature line {number}")
        if len(blob) < 5:
            raise MalformedCheckpoint(f"signature line {number} is too short")
        seen.append(f"{name}+{blob[:4].hex()}")
        if name == verifier_key.name and blob[:4] == verifier_key.key_id:
            matching.append(blob[4:])
    if not matching:
        raise UnknownCheckpointKey(
            f"note is not signed by the trusted key {verifier_key.name}+{verifier_key.key_id.hex()}"
            f" (signed by: {', '.join(seen)})",
            details={"signers": seen},
        )
    message = text.encode("utf-8")
    for signature in matching:
        try:
            verifier_key.public_key.verify(signature, message)
        except InvalidSignature as exc:
            raise BadCheckpointSignature(
                f"signature by {verifier_key.name}+{verifier_key.key_id.hex()} does not verify:"
                " the note was altered or signed with another key"
            ) from exc
    return text


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedCheckpoint("note is not valid UTF-8") from exc
