"""Sealing records: AES-256-GCM with the owning workspace's data key.

A sealed value is ``0x01 | key id (16 bytes) | nonce (12 bytes) | ciphertext+tag``.
The associated data binds the format version, the workspace, the table, the
record id, the column and the key id, so a ciphertext copied to another record,
column or workspace fails to open instead of showing the wrong content.

The AESGCM object is built once per key and cached in the keyring (building one
per record halves throughput). Nonces are 96 random bits; bulk sealing draws
them from one ``os.urandom`` call.

The trap: never seal with a record id that is not final (seal after the id is
generated), and never call ``open`` with a table/column other than the one used
to seal: both are part of what is authenticated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag

from .keyring import KeyMaterial, Keyring
from ..domain.errors import BastionError

VERSION = b"\x01"
_HEADER = 1 + 16 + 12


class TamperedCiphertext(BastionError):
    code = "tampered_ciphertext"


def _aad(workspace_id: str, table: str, record_id: str, column: str, key_id: str) -> bytes:
    return f"bastion/1|{workspace_id}|{table}|{record_id}|{column}|{key_id}".encode()


class Sealer:
    """Seals and opens the records of one workspace, sealing with one current key."""

    __slots__ = ("keyring", "workspace_id", "material", "_prefix")

    def __init__(self, keyring: Keyring, workspace_id: str, key_id: str, material: KeyMaterial | None = None) -> None:
        """``material``: the key's, just fetched (``keyring.material``), so it is not fetched twice."""
        self.keyring = keyring
        self.workspace_id = workspace_id
        if material is None or material.key_id != key_id or material.workspace_id != workspace_id:
            material = keyring.material(workspace_id, key_id)
        self.material: KeyMaterial = material
        self._prefix = VERSION + bytes.fromhex(key_id[4:])

    @property
    def key_id(self) -> str:
        return self.material.key_id

    def seal(self, table: str, record_id: str, column: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        aad = _aad(self.workspace_id, table, record_id, column, self.material.key_id)
        return self._prefix + nonce + self.material.aead.encrypt(nonce, plaintext, aad)

    def seal_many(self, table: str, column: str, items: list[tuple[str, bytes]]) -> list[bytes]:
        """Seal many (record id, plaintext) pairs; one random read for all nonces."""
        nonces = os.urandom(12 * len(items))
        encrypt = self.material.aead.encrypt
        prefix = self._prefix
        head = f"bastion/1|{self.workspace_id}|{table}|"
        tail = f"|{column}|{self.material.key_id}"
        out = []
        for i, (record_id, plaintext) in enumerate(items):
            nonce = nonces[12 * i : 12 * i + 12]
            out.append(prefix + nonce + encrypt(nonce, plaintext, (head + record_id + tail).encode()))
        return out

    def open(self, table: str, record_id: str, column: str, sealed: bytes) -> bytes:
        if len(sealed) < _HEADER + 16 or sealed[:1] != VERSION:
            raise TamperedCiphertext(f"{table}.{column} of {record_id}: not a sealed value")
        key_id = "key_" + sealed[1:17].hex()
        material = self.material if key_id == self.material.key_id else self.keyring.material(self.workspace_id, key_id)
        try:
            return material.aead.decrypt(
                sealed[17:29],
                sealed[29:],
                _aad(self.workspace_id, table, record_id, column, key_id),
            )
        except InvalidTag as exc:
            raise TamperedCiphertext(
                f"{table}.{column} of {record_id} does not authenticate "
                "(tampered, or copied from another record or workspace)"
            ) from exc

    def opener(self, table: str, column: str) -> Callable[[str, bytes], bytes]:
        """``open`` for many records of one table and column (an export's pages): the associated data's
        fixed parts made once, a value sealed with the current key opened without looking the key up.
        The same checks and the same associated data as ``open``; any other value goes to ``open``."""
        key_id = self.material.key_id
        decrypt = self.material.aead.decrypt
        prefix = self._prefix
        head = f"bastion/1|{self.workspace_id}|{table}|".encode()
        tail = f"|{column}|{key_id}".encode()
        slow = self.open

        def open_one(record_id: str, sealed: bytes) -> bytes:
            if len(sealed) < _HEADER + 16 or sealed[:17] != prefix:
                return slow(table, record_id, column, sealed)  # another key, or not a sealed value
            try:
                return decrypt(sealed[17:29], sealed[29:], head + record_id.encode() + tail)
            except InvalidTag as exc:
                raise TamperedCiphertext(
                    f"{table}.{column} of {record_id} does not authenticate "
                    "(tampered, or copied from another record or workspace)"
                ) from exc

        return open_one

    def seal_json(self, table: str, record_id: str, column: str, value: object) -> bytes:
        return self.seal(table, record_id, column, orjson.dumps(value))

    def open_json(self, table: str, record_id: str, column: str, sealed: bytes) -> Any:
        return orjson.loads(self.open(table, record_id, column, sealed))

    def index_hash(self, *parts: str | bytes) -> bytes:
        """A keyed 16-byte hash for equality lookups on values that stay secret.

        Keyed BLAKE2b (a PRF when keyed) with the index key derived from the data
        key: never a bare hash of the value, and a different key per project.
        Each part is length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        """
        message = bytearray()
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            message += len(data).to_bytes(4, "big")
            message += data
        return hashlib.blake2b(message, key=self.material.index_key, digest_size=16).digest()

    def search_key(self) -> bytes:
        """The key of the project's search index (keyed token hashes: ``domain/search.py``).

        Derived from the index key, so it is a different key per project and per data key,
        and it goes with them: destroying the data key makes the index meaningless.
        """
        return hmac.new(self.material.index_key, b"bastion-search-key", hashlib.sha256).digest()


def key_id_of(sealed: bytes) -> str:
    return "key_" + sealed[1:17].hex()


def open_all(sealer: Sealer, table: str, column: str, rows: Iterable[tuple[str, bytes]]) -> list[Any]:
    return [sealer.open_json(table, rid, column, blob) for rid, blob in rows]
