"""Backups of the data, without the keys: ``bastion backup`` / ``bastion restore``.

A backup is a tar file holding a consistent copy of the database (SQLite's
online backup API, or ``pg_dump`` for PostgreSQL) and the sealed files of the
blob store, read through the store's interface (the data directory or a
bucket alike) and restored into the store the restoring deployment is
configured with. It never holds the keyring or the master key: a stolen backup
alone opens nothing, and a workspace deleted after the backup was taken stays
unreadable even if the backup is restored (its keys are gone from the keyring).
Back up the keyring and the master key separately, to a different place.

On PostgreSQL, ``pg_dump`` refuses to dump a table whose row-level security
policies would hide rows from it (rather than write a partial backup), so both
commands run as a role those policies do not apply to — a superuser, or the
tables' owner with ``BYPASSRLS`` — never as the app role (docs/security.md).
The copy itself is ``storage/dumps.py``; this module makes and reads the tar.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from .runtime import Runtime
from .. import __version__
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..storage import dumps, migrate
from ..storage.blobs import BlobStore, is_blob_name, open_blob_store

MANIFEST = "bastion-backup.json"


def backup(rt: Runtime, out: Path) -> dict:
    """Write a backup tar to ``out`` (atomically). Returns the manifest."""
    if out.exists():
        raise Conflict(f"{out} exists; choose a new file")
    work = Path(tempfile.mkdtemp(prefix="bastion-backup-"))
    try:
        manifest = {
            "format": 1,
            "version": __version__,
            "created_at": int(time.time() * 1000),
            "schema": migrate.current_revision(rt.db),
            "database": rt.db.dialect.name,
        }
        db_member = dumps.dump(rt.db, work)
        manifest["database_file"] = db_member
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(work / db_member, arcname=db_member)
            _add_blobs(tar, rt.blobs)
        partial.replace(out)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _add_blobs(tar: tarfile.TarFile, store: BlobStore) -> None:
    """Every sealed blob of the store, as ``files/<workspace>/<file id>`` (whichever store keeps them)."""
    for workspace_id in store.workspace_ids():
        for blob_id in store.iter_blobs(workspace_id):
            try:
                sealed = store.get(workspace_id, blob_id)
            except NotFound:
                continue  # deleted since it was listed
            info = tarfile.TarInfo(f"files/{workspace_id}/{blob_id}")
            info.size, info.mode, info.mtime = len(sealed), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(sealed))


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


def restore(rt_settings, source: Path, *, force: bool = False) -> dict:
    """Restore a backup into the configured database and data directory."""
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file")
    try:
        tar = tarfile.open(source, "r")  # noqa: SIM115 (opened apart to name a bad archive; closed by `with tar`)
    except tarfile.TarError as exc:
        raise InvalidInput(f"{source}: not a Bastion backup ({exc})") from exc
    with tar:
        try:
            member = tar.extractfile(MANIFEST)
            if member is None:  # a directory or link by that name, not the manifest
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
        except (KeyError, ValueError) as exc:
            raise InvalidInput(f"{source}: not a Bastion backup (no {MANIFEST})") from exc
        work = Path(tempfile.mkdtemp(prefix="bastion-restore-"))
        stack = ExitStack()
        try:
            tar.extractall(work, filter="data")
            url = rt_settings.resolved_database_url
            is_sqlite = url.startswith("sqlite")
            if is_sqlite != (manifest["database"] == "sqlite"):
                raise InvalidInput(
                    f"this backup is of a {manifest['database']} database; "
                    f"the configured database is {'sqlite' if is_sqlite else 'postgresql'}"
                )
            files = work / "files"
            blobs = _backed_up_blobs(files, source) if files.is_dir() else None  # checked before any write
            store = open_blob_store(rt_settings)  # a store badly configured stops the restore here too
            stack.callback(store.close)
            if is_sqlite:
                target = dumps.sqlite_file(url)
                if target.exists() and not force:
                    raise Conflict(f"{target} exists; restore into an empty data directory, or add --force")
                dumps.restore_sqlite(work / manifest["database_file"], url)
            else:
                dumps.restore_postgresql(work / manifest["database_file"], url)
            if blobs is not None:
                _restore_blobs(store, blobs)
        finally:
            stack.close()
            shutil.rmtree(work, ignore_errors=True)
    return manifest
