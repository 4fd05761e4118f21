"""Backups of the data, without the keys: ``bastion backup`` / ``bastion restore``.

A backup is a tar file holding a consistent copy of the database (SQLite's
online backup API, or ``pg_dump`` for PostgreSQL) and the sealed files of the
blob store. It never holds the keyring or the master key: a stolen backup
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
from pathlib import Path

from .. import __version__
from ..domain.errors import Conflict, InvalidInput
from ..storage import dumps, migrate
from .runtime import Runtime

MANIFEST = "bastion-backup.json"


def backup(rt: Runtime, out: Path) -> dict:
    """Write a backup tar to ``out`` (atomically). Returns the manifest."""
    if out.exists():
        raise Conflict(f"{out} exists; choose a new file")
    work = Path(tempfile.mkdtemp(prefix="bastion-backup-"))
    try:
        manifest = {"format": 1, "version": __version__, "created_at": int(time.time() * 1000),
                    "schema": migrate.current_revision(rt.db), "database": rt.db.dialect.name}
        db_member = dumps.dump(rt.db, work)
        manifest["database_file"] = db_member
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(work / db_member, arcname=db_member)
            files = rt.settings.files_dir
            if files.is_dir():
                tar.add(files, arcname="files")
        partial.replace(out)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def restore(rt_settings, source: Path, *, force: bool = False) -> dict:
    """Restore a backup into the configured database and data directory."""
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file")
    try:
        tar = tarfile.open(source, "r")
    except tarfile.TarError as exc:
        raise InvalidInput(f"{source}: not a Bastion backup ({exc})") from exc
    with tar:
        try:
            manifest = json.loads(tar.extractfile(MANIFEST).read())
        except (KeyError, AttributeError, ValueError) as exc:
            raise InvalidInput(f"{source}: not a Bastion backup (no {MANIFEST})") from exc
        work = Path(tempfile.mkdtemp(prefix="bastion-restore-"))
        try:
            tar.extractall(work, filter="data")
            url = rt_settings.resolved_database_url
            is_sqlite = url.startswith("sqlite")
            if is_sqlite != (manifest["database"] == "sqlite"):
                raise InvalidInput(f"this backup is of a {manifest['database']} database; "
                                   f"the configured database is {'sqlite' if is_sqlite else 'postgresql'}")
            if is_sqlite:
                target = dumps.sqlite_file(url)
                if target.exists() and not force:
                    raise Conflict(f"{target} exists; restore into an empty data directory, or add --force")
                dumps.restore_sqlite(work / manifest["database_file"], url)
            else:
                dumps.restore_postgresql(work / manifest["database_file"], url)
            files = work / "files"
            if files.is_dir():
                destination = rt_settings.files_dir
                if destination.exists():
                    shutil.rmtree(destination)
                shutil.copytree(files, destination)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return manifest
