"""Backups of the data, without the keys: ``bastion backup`` / ``bastion restore``.

A backup is a tar file holding a consistent copy of the database (SQLite's
online backup API, or ``pg_dump`` for PostgreSQL) and the sealed files of the
blob store, read through the store's interface (the data directory or a
bucket alike) and restored into the store the restoring deployment is
configured with. It never holds the keyring or the master key: a stolen backup
alone opens nothing, and a workspace deleted after the backup was taken stays
unreadable even if the backup is restored (its keys are gone from the keyring).
The keyring has a backup of its own, sealed (``bastion keys backup``:
``services/keyring_backups.py``), kept in a different place; the master key is
kept apart from both.

The manifest (``bastion-backup.json``, the archive's last member but one) names
the deployment (its keyring's id), the data keys the records reference and the
SHA-256 of every other member; the last member is the manifest's own SHA-256.
``bastion restore --check`` (``services/restore_checks.py``) proves with them
that nothing in the archive changed and that a keyring backup belongs to it.
Archives of format 1 (before these) still restore.

Restoring: ``restore`` refuses a target that holds a database unless ``force``;
everything is read and checked before the first write (the database file is
written beside its target and renamed over it); with a keyring archive, the
keyring is restored too, into an empty keyring only.

On PostgreSQL, ``pg_dump`` refuses to dump a table whose row-level security
policies would hide rows from it (rather than write a partial backup), so both
commands run as a role those policies do not apply to — a superuser, or the
tables' owner with ``BYPASSRLS`` — never as the app role (docs/security.md).
The copy itself is ``storage/dumps.py``; this module makes and reads the tar.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import keyring_backups
from .runtime import Runtime
from .. import __version__
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..settings import Settings
from ..storage import dumps, keyring, migrate, restore_check_store
from ..storage.blobs import BlobStore, is_blob_name, open_blob_store
from ..storage.database import Database

MANIFEST = "bastion-backup.json"
MANIFEST_DIGEST = "bastion-backup.json.sha256"
FORMAT = 2
_TAR_BLOCK = 512


def backup(rt: Runtime, out: Path) -> dict:
    """Write a backup tar to ``out`` (atomically: ``OUT.partial``, fsync, rename). Returns the manifest."""
    if out.exists():
        raise Conflict(f"{out} exists; choose a new file")
    if not out.resolve().parent.is_dir():
        raise InvalidInput(f"{out.parent}: no such folder")
    keyring_backups.refuse_beside(out, rt.settings, kind="data")
    work = Path(tempfile.mkdtemp(prefix="bastion-backup-"))
    partial = out.with_name(out.name + ".partial")
    try:
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": __version__,
            "created_at": int(time.time() * 1000),
            "schema": migrate.current_revision(rt.db),
            "database": rt.db.dialect.name,
            "deployment_id": rt.keyring.deployment_id(),
        }
        db_member = dumps.dump(rt.db, work)
        manifest["database_file"] = db_member
        members: dict[str, str] = {}
        # Plain ustar: one 512-byte header per member, each with its checksum, and no extended
        # (pax) headers, whose contents no checksum would cover.
        with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
            members[db_member] = _add_file(tar, work / db_member, db_member)
            _add_blobs(tar, rt.blobs, members)
            manifest["key_ids"] = sorted(_referenced_keys(rt, work / db_member))
            manifest["members"] = members
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            _add_bytes(tar, MANIFEST, data)
            _add_bytes(tar, MANIFEST_DIGEST, hashlib.sha256(data).hexdigest().encode())
        with partial.open("rb+") as f:
            os.fsync(f.fileno())
        partial.replace(out)
        keyring_backups.sync_folder(out.parent)
        return manifest
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _referenced_keys(rt: Runtime, copy: Path) -> set[str]:
    """The data keys the copy's records reference. SQLite: read from the copy itself (once it is in the
    tar: opening it may change the file). PostgreSQL: from the database just after ``pg_dump`` (a key
    made meanwhile may be listed; ``restore --check`` derives the exact set from the records)."""
    if not rt.db.is_sqlite:
        with rt.db.transaction(write=False) as tx:
            return restore_check_store.referenced_key_ids(tx)
    db = Database(f"sqlite:///{copy}")
    try:
        with db.transaction(write=False) as tx:
            return restore_check_store.referenced_key_ids(tx)
    finally:
        db.dispose()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> str:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(data).hexdigest()


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = path.stat().st_size, 0o600, int(time.time())
        f.seek(0)
        tar.addfile(info, f)
    return digest.hexdigest()


def _add_blobs(tar: tarfile.TarFile, store: BlobStore, members: dict[str, str]) -> None:
    """Every sealed blob of the store, as ``files/<workspace>/<file id>`` (whichever store keeps them)."""
    for workspace_id in store.workspace_ids():
        for blob_id in store.iter_blobs(workspace_id):
            try:
                sealed = store.get(workspace_id, blob_id)
            except NotFound:
                continue  # deleted since it was listed
            name = f"files/{workspace_id}/{blob_id}"
            members[name] = _add_bytes(tar, name, sealed)


# -- reading an archive back ---------------------------------------------------------------


@dataclass
class OpenedData:
    """A data archive extracted into ``work`` and checked member by member."""

    manifest: dict[str, Any]
    work: Path
    problems: list[str] = field(default_factory=list)

    @property
    def database_copy(self) -> Path:
        return self.work / self.manifest["database_file"]

    def blobs(self, source: Path) -> list[tuple[str, str, Path]]:
        files = self.work / "files"
        return _backed_up_blobs(files, source) if files.is_dir() else []


def open_data_archive(source: Path, work: Path) -> OpenedData:
    """Extract a data archive into ``work`` and check it: every member against its SHA-256 in the
    manifest, the manifest against its own, and every byte of the tar outside the members (headers
    carry their own checksums; the padding must be zeros). Problems are listed, each naming the
    member or the offset; an archive that cannot be read at all raises InvalidInput."""
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file")
    try:
        tar = tarfile.open(source, "r")  # noqa: SIM115 (opened apart to name a bad archive; closed by `with tar`)
    except tarfile.TarError as exc:
        raise InvalidInput(f"{source}: not a Bastion backup ({exc})") from exc
    problems: list[str] = []
    with tar:
        try:
            infos = tar.getmembers()
            member = tar.extractfile(MANIFEST)
            if member is None:  # a directory or link by that name, not the manifest
                raise KeyError(MANIFEST)
            raw = member.read()
            manifest = json.loads(raw)
            if not isinstance(manifest, dict) or "database_file" not in manifest:
                raise ValueError("no database named")
        except (KeyError, ValueError, tarfile.TarError) as exc:
            raise InvalidInput(f"{source}: not a Bastion backup (no readable {MANIFEST}: {exc})") from exc
        try:
            tar.extractall(work, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise InvalidInput(f"{source}: the archive is damaged ({exc})") from exc
    if manifest.get("format", 1) >= 2:
        problems += _check_members(source, work, manifest, raw, infos)
    return OpenedData(manifest, work, problems)


def _check_members(source: Path, work: Path, manifest: dict, raw: bytes, infos: list[tarfile.TarInfo]) -> list[str]:
    problems = []
    digest_file = work / MANIFEST_DIGEST
    if not digest_file.is_file():
        problems.append(f"{source}: {MANIFEST_DIGEST} is missing (the archive was cut or changed)")
    elif digest_file.read_bytes().strip() != hashlib.sha256(raw).hexdigest().encode():
        problems.append(f"{source}: {MANIFEST} does not match its checksum (changed)")
    listed: dict[str, str] = manifest.get("members", {})
    present = {i.name for i in infos if i.isfile()}
    for name, expected in sorted(listed.items()):
        path = work / name
        if name not in present or not path.is_file():
            problems.append(f"{source}: member {name} is missing")
            continue
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            problems.append(f"{source}: member {name} does not match its checksum (changed)")
    for name in sorted(present - set(listed) - {MANIFEST, MANIFEST_DIGEST}):
        problems.append(f"{source}: member {name} is not in the manifest (added)")
    problems += _check_padding(source, infos)
    return problems


def _check_padding(source: Path, infos: list[tarfile.TarInfo]) -> list[str]:
    """Every byte of the tar is accounted for: each member's one 512-byte header must be exactly
    what its parsed fields give (a tar checksum skips some bytes of it), and every byte no header
    or member covers must be zero. An extended (pax) header, whose contents no checksum would
    cover, is refused: the archive ``backup`` writes has none."""
    with source.open("rb") as f:
        for info in infos:
            if info.offset_data - info.offset != _TAR_BLOCK:
                return [f"{source}: member {info.name} has an extended header (not as written by bastion backup)"]
            f.seek(info.offset)
            try:
                expected = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
            except ValueError:  # a field ustar cannot hold: not a header bastion backup wrote
                expected = b""
            if f.read(_TAR_BLOCK) != expected:
                return [f"{source}: the tar header of member {info.name} was changed"]
        ends = sorted(i.offset_data + i.size for i in infos)
        starts = sorted(i.offset for i in infos)[1:]
        for begin, end in zip(ends, [*starts, source.stat().st_size]):
            f.seek(begin)
            chunk = f.read(max(0, end - begin))
            if chunk.strip(b"\0"):
                where = begin + next(i for i, b in enumerate(chunk) if b)
                return [f"{source}: a byte at offset {where} outside every member is not zero (changed)"]
    return []


def _backed_up_blobs(files: Path, source: Path) -> list[tuple[str, str, Path]]:
    """The backup's blobs as (workspace, file id, path), every name checked before anything is restored."""
    found = []
    for path in sorted(p for p in files.rglob("*") if not p.is_dir()):
        parts = path.relative_to(files).parts
        if len(parts) != 2 or not is_blob_name(*parts):
            raise InvalidInput(f"{source}: not a Bastion backup (files/{'/'.join(parts)} is not a stored file)")
        found.append((parts[0], parts[1], path))
    return found


def _restore_blobs(store: BlobStore, blobs: list[tuple[str, str, Path]]) -> None:
    """The backup's blobs replace the store's (as its database replaced the database)."""
    for workspace_id in list(store.workspace_ids()):
        store.delete_workspace(workspace_id)
    for workspace_id, blob_id, path in blobs:
        store.put(workspace_id, blob_id, path.read_bytes())


# -- restore -------------------------------------------------------------------------------


def restore(
    rt_settings: Settings,
    source: Path,
    *,
    force: bool = False,
    keyring_archive: Path | None = None,
    passphrase: str | None = None,
) -> dict:
    """Restore a backup into the configured database and data directory (and, with
    ``keyring_archive``, the keyring). Everything is read and checked before the first write;
    a target holding a database or keyring is refused unless ``force``."""
    work = Path(tempfile.mkdtemp(prefix="bastion-restore-"))
    stack = ExitStack()
    try:
        opened = open_data_archive(source, work / "data")
        files = work / "data" / "files"
        blobs = _backed_up_blobs(files, source) if files.is_dir() else None  # checked before any write
        if opened.problems:
            raise InvalidInput("the backup is damaged: " + "; ".join(opened.problems[:5]))
        manifest = opened.manifest
        url = rt_settings.resolved_database_url
        is_sqlite = url.startswith("sqlite")
        if is_sqlite != (manifest["database"] == "sqlite"):
            raise InvalidInput(
                f"this backup is of a {manifest['database']} database; "
                f"the configured database is {'sqlite' if is_sqlite else 'postgresql'}"
            )
        store = open_blob_store(rt_settings)  # a store badly configured stops the restore here too
        stack.callback(store.close)
        staged_keyring = None
        if keyring_archive is not None:
            staged_keyring = _stage_keyring(rt_settings, keyring_archive, work / "keyring", manifest, passphrase, force)
        if is_sqlite:
            target = dumps.sqlite_file(url)
            if target.exists() and not force:
                raise Conflict(f"{target} exists; restore into an empty data directory, or add --force")
        elif keyring_archive is not None and not force:
            _refuse_postgresql_with_data(url)
        # The writes: the database, the files, then the keyring (each all or nothing).
        if is_sqlite:
            dumps.restore_sqlite(opened.database_copy, url)
        else:
            dumps.restore_postgresql(opened.database_copy, url, single_transaction=keyring_archive is not None)
        if blobs is not None:
            _restore_blobs(store, blobs)
        if staged_keyring is not None:
            staged_keyring()
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)
    return manifest


def _refuse_postgresql_with_data(url: str) -> None:
    db = Database(url)
    try:
        if migrate.status(db) == "empty":
            return
        with db.transaction(write=False) as tx:
            held = restore_check_store.count_rows(tx, "workspaces") + restore_check_store.count_rows(tx, "users")
    finally:
        db.dispose()
    if held:
        raise Conflict("the configured database holds data; restore into an empty database, or add --force")


def _stage_keyring(settings: Settings, archive: Path, work: Path, manifest: dict, passphrase: str | None, force: bool):
    """Open and check the keyring archive and its target; returns the step that writes it."""
    work.mkdir()
    provider = None
    if not keyring_backups.passphrase_needed(archive):
        provider = keyring.open_provider(settings)
    opened = keyring_backups.open_keyring_archive(archive, work, passphrase=passphrase, provider=provider)
    ours, theirs = manifest.get("deployment_id"), opened.manifest.get("deployment_id")
    if ours and theirs and ours != theirs:
        raise InvalidInput(f"{archive} is the keyring of deployment {theirs}; the data backup is of deployment {ours}")
    # The configured master key (or passphrase, or KMS) must open every key of the copy.
    try:
        probe = keyring.Keyring.open(settings.model_copy(update={"keyring_url": f"sqlite:///{opened.sqlite_copy}"}))
        try:
            probe.check()
        finally:
            probe.dispose()
    except keyring.KeyProviderError as exc:
        raise InvalidInput(
            f"{archive}: the configured master key does not unwrap this keyring's keys (restore the master "
            f"key file first, or set BASTION_MASTER_KEY): {exc}"
        ) from exc
    url = settings.resolved_keyring_url
    is_sqlite = url.startswith("sqlite")
    if is_sqlite != (opened.manifest["database"] == "sqlite"):
        raise InvalidInput(
            f"{archive} is of a {opened.manifest['database']} keyring; "
            f"the configured keyring is {'sqlite' if is_sqlite else 'postgresql'}"
        )
    if not force and _keyring_holds_keys(url):
        raise Conflict("the configured keyring holds keys; restore into an empty data directory, or add --force")
    if is_sqlite:
        return lambda: dumps.restore_sqlite(opened.copy, url)
    return lambda: dumps.restore_postgresql(opened.copy, url, single_transaction=True)


def _keyring_holds_keys(url: str) -> bool:
    if url.startswith("sqlite") and not dumps.sqlite_file(url).exists():
        return False
    engine = keyring.open_engine(url)
    try:
        held = keyring.inventory(engine)
    finally:
        engine.dispose()
    return bool(held["keys"])
