"""The data directory is the server user's alone: database files 0600, folders 0700 (like the keyring).

Checked under a umask of 022 (the usual one, which leaves new files 0644): after
``bastion init``, after a server-style open of an install whose files are loose, and
after writes that create the WAL, the shared-memory file and a workspace's files folder.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bastion.services import users
from bastion.services.runtime import Runtime
from bastion.settings import Settings
from bastion.storage.blobs import DiskBlobs
from environment import MASTER_KEY
from factories import system


@pytest.fixture
def db_kind():
    return "sqlite"  # the database files checked here are SQLite's; the folders are the same on both


@pytest.fixture(autouse=True)
def usual_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _loose(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that anyone but its owner may read, enter or write."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, master_key=MASTER_KEY)


def test_init_makes_a_private_data_directory(tmp_path, monkeypatch):
    from bastion.cli import main

    data = tmp_path / "fresh"
    monkeypatch.setenv("BASTION_DATA_DIR", str(data))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)  # the default: bastion.db in the data directory
    monkeypatch.delenv("BASTION_MASTER_KEY", raising=False)  # and a master key file
    monkeypatch.setattr("sys.argv", ["bastion", "init"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    assert (data / "bastion.db").is_file() and (data / "keyring.db").is_file() and (data / "master.key").is_file()
    assert (data / "files").is_dir()
    assert _loose(data) == []


def test_opening_an_existing_install_makes_it_private(tmp_path):
    data = tmp_path / "old"
    Runtime.open(_settings(data), migrate_schema="always").close()
    # An install made by an earlier version: everything readable by all.
    # (Files stored then keep their mode: their folders, 0700 from now on, keep everyone else out.)
    (data / "files" / ("ws_" + "1" * 32)).mkdir(parents=True, exist_ok=True)
    other = sqlite3.connect(data / "bastion.db")  # another process holds it open: -wal and -shm exist
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
    other.execute("INSERT INTO scratch VALUES (1)")
    other.commit()
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert (data / "bastion.db-wal").exists() and _loose(data)
    try:
        rt = Runtime.open(_settings(data), migrate_schema="if-empty")  # what `bastion serve` does
        rt.close()
    finally:
        other.close()
    assert _loose(data) == []


def test_writes_create_private_wal_and_folders(tmp_path):
    data = tmp_path / "live"
    Runtime.open(_settings(data), migrate_schema="always").close()
    for suffix in ("-wal", "-shm"):
        (data / f"bastion.db{suffix}").unlink(missing_ok=True)
    rt = Runtime.open(_settings(data), migrate_schema="never")
    try:
        users.create_user(system(rt), "writer@example.com")  # the first write creates the WAL
        assert (data / "bastion.db-wal").exists() and (data / "bastion.db-shm").exists()
        DiskBlobs(rt.settings.files_dir).put("ws_" + "3" * 32, "fil_" + "4" * 32, b"sealed")
        assert _loose(data) == []
    finally:
        rt.close()
