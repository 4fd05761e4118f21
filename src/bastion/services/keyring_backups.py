"""Sealed backups of the keyring: ``bastion keys backup`` (and what restore reads back).

Concept: the keyring (``storage/keyring.py``: wrapped data keys, the deployment's
wrapped secrets, its id and the ids of destroyed keys) is a database of its own,
and the data is useless without it. ``backup_keyring`` copies it online while the
server keeps serving (SQLite's online backup API, or ``pg_dump``), and seals the
copy into one file:

    MAGIC | header length (4 bytes, big-endian) | header (JSON) | AES-256-GCM(tar)

The header says how the archive key is had: from a backup passphrase (scrypt,
its salt and cost in the header) or wrapped by the deployment's key provider
(``seal="provider"``). The whole header is the cipher's associated data, so every
byte of the file is authenticated: a flipped byte anywhere, a wrong passphrase or
another deployment's key all fail the same way, before anything is used. Inside,
the tar holds the keyring copy and ``bastion-keyring.json``: the deployment id, the
key ids it holds (with their workspaces), the keys destroyed so far (id and time)
and the copy's SHA-256.

Invariants: the wrapped keys stay wrapped by the key-encryption key inside the
archive; the master key is never in it (it is backed up apart: paper, a vault).
The file is written beside its target and renamed into place after an fsync, so a
backup killed midway leaves only ``OUT.partial``, never a complete-looking archive.
The archive is never written into the data directory, nor into a folder holding a
data backup: the keyring must not sit beside the data it unlocks.

The trap: a passphrase-sealed archive is only as strong as its passphrase; one
sealed by the provider opens only where the master key (or KMS) does, so it is no
help if the master key is what was lost.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .. import __version__
from ..domain.errors import Conflict, InvalidInput
from ..settings import Settings
from ..storage import dumps, keyring
from ..storage.keyproviders import KeyProviderError
from ..storage.pgdump_rows import load_postgresql_dump

MAGIC = b"BASTION-KEYRING-BACKUP\n"
MANIFEST = "bastion-keyring.json"
FORMAT = 1
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
MIN_PASSPHRASE = 12
PROVIDER_CONTEXT = b"bastion-keyring-backup"
DATA_MANIFEST = "bastion-backup.json"  # services/backups.py: what marks a data backup


@dataclass(frozen=True)
class OpenedKeyring:
    """A keyring archive, opened and checked: its manifest and the keyring copy extracted to ``work``."""

    manifest: dict[str, Any]
    copy: Path  # the keyring database as dumped (SQLite file or pg_dump archive)
    sqlite_copy: Path  # the same as a SQLite file (a pg_dump loaded into one)


# -- where an archive may go -------------------------------------------------------------


def is_keyring_backup(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def is_data_backup(path: Path) -> bool:
    """A tar holding the data backup's manifest (headers only are read)."""
    try:
        if not tarfile.is_tarfile(path):
            return False
        with tarfile.open(path, "r") as tar:
            return any(name == DATA_MANIFEST for name in tar.getnames())
    except (OSError, tarfile.TarError):
        return False


def refuse_beside(out: Path, settings: Settings, *, kind: str) -> None:
    """Refuse to put a ``kind`` archive ("keyring" or "data") where the other kind lives."""
    folder = out.resolve().parent
    data_dir = Path(settings.data_dir).resolve()
    if kind == "keyring" and (folder == data_dir or folder.is_relative_to(data_dir)):
        raise InvalidInput(
            f"{out}: a keyring backup must not be written into the data directory ({data_dir}); "
            "keep it in another place than the data it unlocks"
        )
    other, test = ("data backup", is_data_backup) if kind == "keyring" else ("keyring backup", is_keyring_backup)
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if entry.is_file() and entry.resolve() != out.resolve() and test(entry):
            raise InvalidInput(
                f"{out}: {entry.name} in the same folder is a {other}; the keyring backup and the data "
                "backup must be kept in different places (the keyring must never sit beside the data it unlocks)"
            )


# -- sealing -----------------------------------------------------------------------------


def _scrypt_key(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    return Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"]).derive(passphrase.encode())


def _seal(plaintext: bytes, *, passphrase: str | None, provider: Any | None) -> bytes:
    nonce = os.urandom(12)
    header: dict[str, Any] = {"format": FORMAT, "cipher": "AES-256-GCM", "nonce": base64.b64encode(nonce).decode()}
    if provider is not None:
        key = AESGCM.generate_key(bit_length=256)
        header["seal"] = "provider"
        header["provider"] = {
            "name": provider.name,
            "kek_id": provider.kek_id,
            "wrapped_key": base64.b64encode(provider.wrap(key, PROVIDER_CONTEXT)).decode(),
        }
    else:
        assert passphrase is not None
        salt = os.urandom(16)
        key = _scrypt_key(passphrase, salt, SCRYPT)
        header["seal"] = "passphrase"
        header["kdf"] = {"name": "scrypt", **SCRYPT, "salt": base64.b64encode(salt).decode()}
    head = json.dumps(header, sort_keys=True).encode()
    prefix = MAGIC + len(head).to_bytes(4, "big") + head
    return prefix + AESGCM(key).encrypt(nonce, plaintext, prefix)


def read_header(source: Path) -> dict[str, Any]:
    """The archive's header (not yet authenticated: only to learn how it is sealed)."""
    data = source.read_bytes()[: 64 * 1024]
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise InvalidInput(f"{source}: not a Bastion keyring backup")
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    try:
        header = json.loads(data[len(MAGIC) + 4 : len(MAGIC) + 4 + size])
    except ValueError as exc:
        raise InvalidInput(f"{source}: the keyring backup's header is damaged ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(f"{source}: a keyring backup of a format this version does not read")
    return header


def _unseal(source: Path, *, passphrase: str | None, provider: Any | None) -> bytes:
    data = source.read_bytes()
    header = read_header(source)
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    prefix_end = len(MAGIC) + 4 + size
    prefix = data[:prefix_end]
    try:
        nonce = base64.b64decode(header["nonce"])
        if header.get("seal") == "provider":
            if provider is None:
                raise InvalidInput(f"{source}: sealed by the key provider; the deployment's key provider is needed")
            key = provider.unwrap(base64.b64decode(header["provider"]["wrapped_key"]), PROVIDER_CONTEXT)
        elif header.get("seal") == "passphrase":
            if not passphrase:
                raise InvalidInput(f"{source}: sealed by a backup passphrase; give it (--passphrase-env or prompt)")
            kdf = header["kdf"]
            if kdf.get("name") != "scrypt" or not (2**10 <= int(kdf["n"]) <= 2**22):
                raise InvalidInput(f"{source}: the keyring backup's header is damaged (key derivation)")
            key = _scrypt_key(passphrase, base64.b64decode(kdf["salt"]), {k: int(kdf[k]) for k in ("n", "r", "p")})
        else:
            raise InvalidInput(f"{source}: the keyring backup's header is damaged (seal)")
        return AESGCM(key).decrypt(nonce, data[prefix_end:], prefix)
    except KeyProviderError as exc:
        raise InvalidInput(
            f"{source}: the key provider does not open this keyring backup (another master key, or the file "
            f"was changed): {exc}"
        ) from exc
    except InvalidTag as exc:
        raise InvalidInput(
            f"{source}: the keyring backup does not authenticate: a byte of the file was changed, "
            "or the passphrase is wrong"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{source}: the keyring backup's header is damaged ({exc})") from exc


# -- backup ------------------------------------------------------------------------------


def backup_keyring(
    settings: Settings, out: Path, *, passphrase: str | None = None, seal: str = "passphrase"
) -> dict[str, Any]:
    """Write a sealed copy of the keyring to ``out`` (atomically). Returns its manifest.

    ``seal``: "passphrase" (scrypt + AES-256-GCM under ``passphrase``) or "provider"
    (an archive key wrapped by the deployment's key provider).
    """
    if seal not in ("passphrase", "provider"):
        raise InvalidInput(f"--seal: {seal!r} is not one of passphrase, provider")
    if seal == "provider":
        return _backup(settings, out, passphrase=None, provider=keyring.open_provider(settings))
    if not passphrase:
        raise InvalidInput("the keyring backup passphrase is empty")
    return _backup(settings, out, passphrase=passphrase, provider=None)


def _backup(settings: Settings, out: Path, *, passphrase: str | None, provider: Any | None) -> dict[str, Any]:
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the keyring backup passphrase needs at least {MIN_PASSPHRASE} characters")
    if out.exists():
        raise Conflict(f"{out} exists; choose a new file")
    if not out.resolve().parent.is_dir():
        raise InvalidInput(f"{out.parent}: no such folder")
    refuse_beside(out, settings, kind="keyring")
    url = settings.resolved_keyring_url
    if url.startswith("sqlite") and not dumps.sqlite_file(url).is_file():
        raise InvalidInput(f"{dumps.sqlite_file(url)}: no keyring there (is the data directory right?)")
    engine = keyring.open_engine(url)
    try:
        deployment = keyring.deployment_id(engine)  # made now if it never was: the copy then holds it
    finally:
        engine.dispose()
    work = Path(tempfile.mkdtemp(prefix="bastion-keyring-backup-"))
    partial = out.with_name(out.name + ".partial")
    try:
        member = dumps.dump_keyring(url, work)
        held = _inventory_of(work / member, work)
        copy = (work / member).read_bytes()
        manifest = {
            "format": FORMAT,
            "version": __version__,
            "created_at": int(time.time() * 1000),
            "deployment_id": held["deployment_id"] or deployment,
            "database": "sqlite" if url.startswith("sqlite") else "postgresql",
            "keyring_file": member,
            "members": {member: hashlib.sha256(copy).hexdigest()},
            "keys": held["keys"],
            "destroyed": held["destroyed"],
        }
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            _add_bytes(tar, member, copy)
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        sealed = _seal(buffer.getvalue(), passphrase=passphrase, provider=provider)
        write_atomically(partial, out, sealed)
        return manifest
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _inventory_of(copy: Path, work: Path) -> dict[str, Any]:
    """The inventory of a dumped keyring (a SQLite file, or a pg_dump loaded into one)."""
    sqlite_copy = _as_sqlite(copy, work)
    engine = keyring.open_engine(f"sqlite:///{sqlite_copy}")
    try:
        return keyring.inventory(engine)
    finally:
        engine.dispose()
        if sqlite_copy != copy:
            sqlite_copy.unlink(missing_ok=True)


def _as_sqlite(copy: Path, work: Path) -> Path:
    if copy.name == dumps.KEYRING_SQLITE_MEMBER:
        scratch = work / "keyring-scratch.db"  # opening a copy may change it (WAL): never the archived bytes
        shutil.copyfile(copy, scratch)
        return scratch
    scratch = work / "keyring-from-pgdump.db"
    scratch.unlink(missing_ok=True)
    load_postgresql_dump(copy, scratch, keyring.keyring_metadata)
    return scratch


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def write_atomically(partial: Path, out: Path, data: bytes) -> None:
    """Write ``data`` to ``partial``, fsync it, rename it to ``out`` and fsync the folder."""
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(out)
    sync_folder(out.parent)


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading back ------------------------------------------------------------------------


def open_keyring_archive(
    source: Path, work: Path, *, passphrase: str | None = None, provider: Any | None = None
) -> OpenedKeyring:
    """Unseal and check a keyring archive into ``work``; raises InvalidInput naming what is wrong."""
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file")
    plaintext = _unseal(source, passphrase=passphrase, provider=provider)
    try:
        with tarfile.open(fileobj=io.BytesIO(plaintext), mode="r") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
            name = manifest["keyring_file"]
            if name not in (dumps.KEYRING_SQLITE_MEMBER, dumps.KEYRING_POSTGRESQL_MEMBER):
                raise ValueError(f"unexpected keyring file {name!r}")
            found = tar.extractfile(name)
            if found is None:
                raise KeyError(name)
            copy = found.read()
    except (KeyError, ValueError, TypeError, tarfile.TarError) as exc:
        raise InvalidInput(f"{source}: the keyring backup's contents are damaged ({exc})") from exc
    if hashlib.sha256(copy).hexdigest() != manifest["members"].get(name):
        raise InvalidInput(f"{source}: {name} in the keyring backup does not match its checksum")
    path = work / name
    path.write_bytes(copy)
    return OpenedKeyring(manifest, path, _as_sqlite(path, work))


def passphrase_needed(source: Path) -> bool:
    """Whether the archive is sealed by a passphrase (else by the key provider)."""
    return read_header(source).get("seal") != "provider"
