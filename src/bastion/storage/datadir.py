"""The data directory on disk belongs to the server's user alone: files 0600, folders 0700.

The data directory holds the SQLite database (names, e-mails, the audit log, sealed
content), the keyring, the master key and the files' folders. Nobody else on the
machine needs to read any of it, so nothing there is group- or world-readable, whatever
the umask: ``prepare`` makes (or tightens) the folders when a runtime opens, and
``private_sqlite_files`` does the same for a SQLite database and its ``-wal``/``-shm``
files before the first connection.

The trap: SQLite creates ``-wal`` and ``-shm`` lazily, on the first write, with the
permissions of the database file (not the umask's). So the database file itself must be
0600 *before* SQLite opens it — created that way when new, tightened when an earlier
version left it 0644 — and then every file SQLite derives from it follows. Existing
``-wal``/``-shm`` files (left by a crash, or held open by another process) are
tightened too.

Only group and other bits are removed (never added for the owner); a path owned by
someone else is left alone with a warning rather than failing the start.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from ..settings import Settings

log = logging.getLogger("bastion.storage")

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_folder(path: Path) -> None:
    """Make ``path`` (and missing parents) a folder only its owner may enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path)


def private_sqlite_files(path: Path) -> None:
    """Create the database file 0600 if missing, and tighten it and its side files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        _tighten(candidate)


def prepare(settings: Settings) -> None:
    """The data directory and the files' folders, private (run when a runtime opens)."""
    private_folder(settings.data_dir)
    files = settings.files_dir
    private_folder(files)
    for entry in files.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            _tighten(entry)


def _tighten(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        try:
            path.chmod(mode & 0o700)
        except PermissionError as exc:
            log.warning("could not make %s private (%s): others may read it", path, exc)
