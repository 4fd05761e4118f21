"""Key providers: where the key-encryption key (KEK) that wraps data keys comes from.

A provider wraps and unwraps 32-byte data keys; it never sees client data. Two
ship with Bastion, proving the interface with two implementations:

* ``file`` — a random 256-bit master key in a file (created by ``bastion init``,
  mode 0600) or injected as ``BASTION_MASTER_KEY`` (64 hex digits).
* ``passphrase`` — the KEK derived from ``BASTION_PASSPHRASE`` with scrypt and a
  random salt kept in the keyring.

Four more wrap with a key in a key service, on the same interface (``name``,
``kek_id``, ``wrap(key, context)``, ``unwrap(wrapped, context)``), built from a
non-secret JSON config (storage/clientkeys.py): ``pkcs11`` (an AES key on an HSM
token), ``aws-kms``, ``gcp-kms`` and ``vault-transit``. Each can hold the
deployment's key (``BASTION_KEY_PROVIDER`` + ``BASTION_KEY_PROVIDER_CONFIG``) or,
per workspace, a key in the *client's own* key service (``bastion keys bind``;
``Keyring.bind``): then that workspace's data keys are wrapped by the client's key,
re-checked with the client's service every ``BASTION_CLIENT_KEY_CHECK_SECONDS``,
and the client can revoke or destroy it (crypto-shredding) without the operator.

Other providers plug in through the ``bastion_key_providers`` hook: a class with
``name``, ``kek_id``, ``wrap(key, context)`` and ``unwrap(wrapped, context)``.

The trap: ``context`` (the data key's id) is bound into every wrap — as associated
data where the service has it (AES-GCM here and on a PKCS#11 token, the AWS
EncryptionContext, Cloud KMS additionalAuthenticatedData), otherwise wrapped with
the key and compared on unwrap (Vault Transit) — so a wrapped key copied onto
another key id does not unwrap.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..domain.errors import BastionError

WRAP_VERSION = b"\x01"


class KeyProviderError(BastionError):
    code = "key_provider_error"


class KeyProvider(Protocol):
    name: str

    @property
    def kek_id(self) -> str:
        """A short, non-secret identifier of the current key-encryption key."""
        ...

    def wrap(self, key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class AesKeyProvider:
    """Wraps with AES-256-GCM under a 32-byte KEK (shared by the built-in providers)."""

    name = "aes"

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise KeyProviderError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)
        self._kek_id = hashlib.sha256(b"bastion-kek-id\x00" + kek).hexdigest()[:16]

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return WRAP_VERSION + nonce + self._aead.encrypt(nonce, key, b"bastion-dk\x00" + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if wrapped[:1] != WRAP_VERSION:
            raise KeyProviderError("unknown wrapped-key format")
        try:
            return self._aead.decrypt(wrapped[1:13], wrapped[13:], b"bastion-dk\x00" + context)
        except InvalidTag as exc:
            raise KeyProviderError(
                "a data key does not unwrap with this master key (wrong key or tampered keyring)"
            ) from exc


class FileKeyProvider(AesKeyProvider):
    name = "file"

    @classmethod
    def from_hex(cls, value: str) -> FileKeyProvider:
        try:
            kek = bytes.fromhex(value.strip())
        except ValueError as exc:
            raise KeyProviderError("the master key must be 64 hexadecimal digits") from exc
        return cls(kek)

    @classmethod
    def from_file(cls, path: Path) -> FileKeyProvider:
        try:
            text = path.read_text()
        except FileNotFoundError as exc:
            raise KeyProviderError(f"master key file {path} not found (run `bastion init` to create it)") from exc
        return cls.from_hex(text)


def create_master_key_file(path: Path) -> bool:
    """Create a new random master key file (mode 0600); False if one exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


class PassphraseKeyProvider(AesKeyProvider):
    name = "passphrase"
    # scrypt cost: ~0.1 s and 32 MiB once per process start.
    N, R, P = 2**15, 8, 1

    def __init__(self, passphrase: str, salt: bytes) -> None:
        if not passphrase:
            raise KeyProviderError("the passphrase key provider needs BASTION_PASSPHRASE")
        kdf = Scrypt(salt=salt, length=32, n=self.N, r=self.R, p=self.P)
        super().__init__(kdf.derive(passphrase.encode("utf-8")))
