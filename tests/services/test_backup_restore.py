"""Backups you can trust: a sealed keyring backup, ``restore --check``, restore into an empty place.

On SQLite and PostgreSQL (the data backup and restore run as the owner there, as
docs/security.md says: pg_dump refuses the app role). The check must find a flipped
byte anywhere in either archive, and tell a crypto-shredded key from a missing one.
"""

from __future__ import annotations

import json
import tarfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from bastion.domain.errors import Conflict, InvalidInput
from bastion.services import annotations, backups, keyring_backups, queue, restore_checks, tasks, workspaces
from bastion.services.runtime import Runtime
from bastion.storage.keyproviders import KeyProviderError
from environment import owner_url
from factories import make_side, system

PASSPHRASE = "correct horse battery staple"


@contextmanager
def _owner(rt):
    """The runtime ``bastion backup`` runs with: on PostgreSQL the owner (pg_dump refuses the app role)."""
    if rt.db.is_sqlite:
        yield rt
        return
    owner = Runtime.open(
        rt.settings.model_copy(update={"database_url": owner_url(rt.settings.database_url)}), migrate_schema="never"
    )
    try:
        yield owner
    finally:
        owner.close()


@contextmanager
def _empty_place(rt, tmp_path: Path, name: str = "restored"):
    """Settings of an empty deployment to restore into (a new data directory; on PostgreSQL a new
    database, restored as its owner), with the same master key."""
    settings = rt.settings.model_copy(update={"data_dir": tmp_path / name, "keyring_url": None})
    if rt.db.is_sqlite:
        yield settings.model_copy(update={"database_url": None})
        return
    from environment import pg_admin, pg_url

    db_name = f"restored_{uuid.uuid4().hex[:10]}"
    pg_admin(f"CREATE DATABASE {db_name}")
    try:
        yield settings.model_copy(update={"database_url": pg_url(db_name)})
    finally:
        pg_admin(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


def _seed(rt, tag="bk"):
    side = make_side(rt, tag, n_tasks=4)
    ctx = side.ctx(rt, "annotator")
    done = []
    for _ in range(2):
        task = queue.next_task(ctx, side.project_id)
        done.append((annotations.submit_annotation(ctx, task["id"], {"label": "pos"})["id"], task["id"]))
    return side, done


def _archives(rt, tmp_path: Path):
    (tmp_path / "data-backups").mkdir()
    (tmp_path / "key-backups").mkdir()
    data = tmp_path / "data-backups" / "data.tar"
    keys = tmp_path / "key-backups" / "keyring.bkr"
    with _owner(rt) as owner:
        backups.backup(owner, data)
    keyring_backups.backup_keyring(rt.settings, keys, passphrase=PASSPHRASE)
    return data, keys


def _check(rt, data, keys=None, passphrase=PASSPHRASE):
    return restore_checks.check_backup(rt.settings, data, keyring_archive=keys, passphrase=passphrase)


def test_check_opens_every_record_and_the_restore_into_an_empty_place_reads_them_back(rt, tmp_path):
    side, done = _seed(rt)
    data, keys = _archives(rt, tmp_path)
    report = _check(rt, data, keys)
    assert report.ok, report.problems
    assert report.counts["tasks.payload"] == 4 and report.counts["annotations.result"] == 2
    assert report.counts["projects.config"] == 1
    assert report.audit_verified[side.workspace_id] > 0
    manifest = report.data_manifest
    assert manifest["deployment_id"] == report.keyring_manifest["deployment_id"] == rt.keyring.deployment_id()
    assert set(manifest["key_ids"]) <= set(report.keyring_manifest["keys"])
    # Nothing of the master key in the archive: the keyring's wrapped keys only.
    assert rt.settings.master_key.encode() not in keys.read_bytes()

    with _empty_place(rt, tmp_path) as target:
        backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)
        if not rt.db.is_sqlite:  # the restored deployment runs as the app role again
            from benchmarks.servers import APP_ROLE, as_role

            target = target.model_copy(update={"database_url": as_role(target.database_url, APP_ROLE)})
        restored = Runtime.open(target, migrate_schema="never")
        try:
            assert restored.keyring.deployment_id() == rt.keyring.deployment_id()
            for annotation_id, task_id in done:
                found = {a["id"]: a["result"] for a in annotations.list_annotations(system(restored), task_id)}
                assert found[annotation_id] == {"label": "pos"}
                assert tasks.get_task(system(restored), task_id)["data"]["text"].startswith("bk ")
        finally:
            restored.close()
        # A second restore into the now full place is refused, data and keyring alike.
        with pytest.raises(Conflict, match="restore into an empty"):
            backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)


def _flip(path: Path, offset: int) -> Path:
    copy = path.with_name(f"flipped-{offset}-{path.name}")
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    copy.write_bytes(bytes(raw))
    return copy


@pytest.mark.parametrize("db_kind", ["sqlite"])  # checksums and AES-GCM: a pg_dump member is checked alike
def test_a_flipped_byte_anywhere_in_either_archive_is_found_and_named(rt, tmp_path):
    _seed(rt)
    data, keys = _archives(rt, tmp_path)
    with tarfile.open(data) as tar:
        infos = {i.name: i for i in tar.getmembers()}
    db_member = next(n for n in infos if n in ("bastion.db", "database.pgdump"))
    places = {
        "database": (infos[db_member].offset_data + infos[db_member].size // 2, db_member),
        "manifest": (infos[backups.MANIFEST].offset_data + 20, backups.MANIFEST),
        "a header": (infos[db_member].offset + 130, None),  # inside the member's tar header
        "padding": (data.stat().st_size - 100, "offset"),  # the zeros closing the archive
    }
    for what, (offset, named) in places.items():
        report = _check(rt, _flip(data, offset), keys)
        assert not report.ok, what
        if named:
            assert any(named in p for p in report.problems), (what, report.problems)
    size = keys.stat().st_size
    for offset in (0, len(keyring_backups.MAGIC) + 10, size // 2, size - 1):
        report = _check(rt, data, _flip(keys, offset))
        assert not report.ok and any("keyring" in p or "header" in p for p in report.problems), offset
    # A wrong passphrase fails the same way, and nothing was restored anywhere.
    report = _check(rt, data, keys, passphrase="not the passphrase at all")
    assert any("does not authenticate" in p for p in report.problems)
    with _empty_place(rt, tmp_path, "never") as target:
        with pytest.raises(InvalidInput, match="damaged"):
            backups.restore(target, _flip(data, places["database"][0]), keyring_archive=keys, passphrase=PASSPHRASE)
        assert not (tmp_path / "never" / "bastion.db").exists() and not (tmp_path / "never" / "keyring.db").exists()


@pytest.mark.parametrize("db_kind", ["sqlite"])  # edits the SQLite file inside the archive
def test_a_changed_record_is_named_by_table_and_id(rt, tmp_path):
    import sqlite3

    side, done = _seed(rt)
    data, keys = _archives(rt, tmp_path)
    work = tmp_path / "edit"
    with tarfile.open(data) as tar:
        tar.extractall(work, filter="data")
    db = sqlite3.connect(work / "bastion.db")
    changed = done[0][0]
    sealed = db.execute("SELECT result FROM annotations WHERE id = ?", (changed,)).fetchone()[0]
    db.execute("UPDATE annotations SET result = ? WHERE id = ?", (sealed[:-1] + bytes([sealed[-1] ^ 1]), changed))
    db.commit()
    db.close()
    manifest = json.loads((work / backups.MANIFEST).read_text())
    import hashlib

    manifest["members"]["bastion.db"] = hashlib.sha256((work / "bastion.db").read_bytes()).hexdigest()
    raw = json.dumps(manifest, indent=1, sort_keys=True).encode()  # re-signed: only the record tells
    (work / backups.MANIFEST).write_bytes(raw)
    (work / backups.MANIFEST_DIGEST).write_bytes(hashlib.sha256(raw).hexdigest().encode())
    forged = tmp_path / "data-backups" / "forged.tar"
    with tarfile.open(forged, "w") as tar:
        for name in [*manifest["members"], backups.MANIFEST, backups.MANIFEST_DIGEST]:
            tar.add(work / name, arcname=name)
    report = _check(rt, forged, keys)
    assert [p for p in report.problems if changed in p and "annotations.result" in p], report.problems


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the keyring is SQLite here either way; PostgreSQL dumps: above
def test_keys_destroyed_after_the_data_backup_are_reported_as_destroyed_not_as_corruption(rt, tmp_path):
    side, _ = _seed(rt, "gone")
    keep, _ = _seed(rt, "keep")
    (tmp_path / "d").mkdir()
    data = tmp_path / "d" / "data.tar"
    with _owner(rt) as owner:
        backups.backup(owner, data)
    workspaces.delete_workspace(
        side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "workspace.delete")
    )
    (tmp_path / "k").mkdir()
    keys = tmp_path / "k" / "keyring.bkr"
    manifest = keyring_backups.backup_keyring(rt.settings, keys, passphrase=PASSPHRASE)
    assert manifest["destroyed"]  # the keyring remembers which keys went, and when (never the keys)
    report = _check(rt, data, keys)
    assert report.ok, report.problems
    assert report.destroyed["tasks.payload"] == 4 and report.counts["tasks.payload"] == 4  # keep's are read
    assert set(report.destroyed_keys) <= set(manifest["destroyed"])
    # A key missing without a record of its destruction is a problem.
    import sqlite3

    from bastion.storage import dumps

    keyring_file = dumps.sqlite_file(rt.settings.resolved_keyring_url)
    with sqlite3.connect(keyring_file) as conn:
        conn.execute("DELETE FROM keyring_meta WHERE name LIKE 'destroyed:%'")
    rt.keyring.forget_cache()
    report = _check(rt, data)  # the deployment's own keyring, copied
    assert any("not in the keyring (missing)" in p for p in report.problems)


@pytest.mark.parametrize("db_kind", ["sqlite"])  # where files go: the database plays no part
def test_where_a_keyring_backup_may_not_go_and_what_it_needs(rt, tmp_path):
    _seed(rt)
    data_dir = rt.settings.data_dir
    with pytest.raises(InvalidInput, match="data directory"):
        keyring_backups.backup_keyring(rt.settings, data_dir / "keys.bkr", passphrase=PASSPHRASE)
    with _owner(rt) as owner:
        backups.backup(owner, tmp_path / "data.tar")
    with pytest.raises(InvalidInput, match=r"data\.tar in the same folder is a data backup"):
        keyring_backups.backup_keyring(rt.settings, tmp_path / "keys.bkr", passphrase=PASSPHRASE)
    (tmp_path / "k").mkdir()
    with pytest.raises(InvalidInput, match="at least 12"):
        keyring_backups.backup_keyring(rt.settings, tmp_path / "k" / "keys.bkr", passphrase="short")
    keyring_backups.backup_keyring(rt.settings, tmp_path / "k" / "keys.bkr", seal="provider")
    with pytest.raises(Conflict, match="exists"):
        keyring_backups.backup_keyring(rt.settings, tmp_path / "k" / "keys.bkr", passphrase=PASSPHRASE)
    with _owner(rt) as owner, pytest.raises(InvalidInput, match="keyring backup"):
        backups.backup(owner, tmp_path / "k" / "data.tar")  # nor a data backup beside a keyring backup
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["keys.bkr"]
    # Sealed by the provider: opens with the deployment's master key and no passphrase.
    report = restore_checks.check_backup(
        rt.settings, tmp_path / "data.tar", keyring_archive=tmp_path / "k" / "keys.bkr"
    )
    assert report.ok, report.problems


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the matching reads the archives alone
def test_a_keyring_of_another_deployment_does_not_match(rt, tmp_path):
    _seed(rt)
    data, _ = _archives(rt, tmp_path)
    other_settings = rt.settings.model_copy(update={"data_dir": tmp_path / "other", "database_url": None})
    other = Runtime.open(other_settings, migrate_schema="always")
    try:
        make_side(other, "other", n_tasks=1)
    finally:
        other.close()
    (tmp_path / "o").mkdir()
    keys = tmp_path / "o" / "other.bkr"
    keyring_backups.backup_keyring(other_settings, keys, passphrase=PASSPHRASE)
    report = _check(rt, data, keys)
    assert any("is of deployment" in p for p in report.problems), report.problems
    assert any("not in the keyring (missing)" in p for p in report.problems)
    with _empty_place(rt, tmp_path) as target, pytest.raises(InvalidInput, match="keyring of deployment"):
        backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the tar's checks: the database plays no part
def test_no_flipped_byte_of_the_data_archive_goes_unnoticed(rt, tmp_path):
    """Every header byte that matters and 150 drawn offsets over the whole file: each flip is found."""
    import random

    _seed(rt)
    (tmp_path / "d").mkdir()
    data = tmp_path / "d" / "data.tar"
    with _owner(rt) as owner:
        backups.backup(owner, data)
    original = data.read_bytes()
    with tarfile.open(data) as tar:
        headers = [i.offset for i in tar.getmembers()]
    offsets = {h + k for h in headers for k in (0, 99, 100, 124, 136, 148, 155, 156, 257, 265, 511)}
    offsets |= set(random.Random(5).sample(range(len(original)), 150))
    missed = []
    for n, offset in enumerate(sorted(offsets)):
        raw = bytearray(original)
        raw[offset] ^= 1 << (n % 8)
        data.write_bytes(bytes(raw))
        work = tmp_path / f"w{n}"
        work.mkdir()
        try:
            if not backups.open_data_archive(data, work).problems:
                missed.append(offset)
        except InvalidInput:
            pass  # refused outright: found too
    assert missed == []


@pytest.mark.postgres
def test_a_keyring_on_postgresql_is_dumped_sealed_checked_and_restored(tmp_path):
    """``BASTION_KEYRING_URL`` on PostgreSQL: ``pg_dump`` of the keyring database, as the role its URL names."""
    from environment import make_settings, pg_admin, pg_url, require_postgres

    require_postgres()
    names = [f"keyring_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for name in names:
        pg_admin(f"CREATE DATABASE {name}")
    try:
        settings = make_settings(tmp_path / "live", None, keyring_url=pg_url(names[0]))
        rt = Runtime.open(settings, migrate_schema="always")
        try:
            side, done = _seed(rt, "pgk")
            data, keys = _archives(rt, tmp_path)
        finally:
            rt.close()
        report = restore_checks.check_backup(settings, data, keyring_archive=keys, passphrase=PASSPHRASE)
        assert report.ok, report.problems
        assert report.keyring_manifest["keyring_file"] == "keyring.pgdump"
        assert report.counts["annotations.result"] == 2
        target = make_settings(tmp_path / "restored", None, keyring_url=pg_url(names[1]))
        backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)
        restored = Runtime.open(target, migrate_schema="never")
        try:
            for annotation_id, task_id in done:
                found = {a["id"]: a["result"] for a in annotations.list_annotations(system(restored), task_id)}
                assert found[annotation_id] == {"label": "pos"}
        finally:
            restored.close()
        with pytest.raises(Conflict, match="keyring holds keys"):
            backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)
    finally:
        for name in names:
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the keys, not the database
def test_without_the_master_key_nothing_is_restored_and_the_check_says_why(rt, tmp_path):
    _seed(rt)
    data, keys = _archives(rt, tmp_path)
    wrong = rt.settings.model_copy(update={"master_key": "22" * 32})
    report = restore_checks.check_backup(wrong, data, keyring_archive=keys, passphrase=PASSPHRASE)
    assert any("master key" in p for p in report.problems), report.problems
    with _empty_place(rt, tmp_path) as target:
        target = target.model_copy(update={"master_key": None})  # the key file is not there yet
        with pytest.raises(InvalidInput, match="restore the master key file first"):
            backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)
        assert not (tmp_path / "restored").exists() or not any((tmp_path / "restored").rglob("*.db"))
        with pytest.raises(KeyProviderError, match="master key file .* not found"):  # sealed by the provider
            keyring_backups.backup_keyring(target, tmp_path / "key-backups" / "p.bkr", seal="provider")


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_restored_files_are_private_and_no_scratch_file_is_left(rt, tmp_path):
    _seed(rt)
    data, keys = _archives(rt, tmp_path)
    with _empty_place(rt, tmp_path) as target:
        backups.restore(target, data, keyring_archive=keys, passphrase=PASSPHRASE)
    place = tmp_path / "restored"
    assert {p.name for p in place.iterdir()} >= {"bastion.db", "keyring.db"}
    assert not list(place.glob("*.restoring"))
    for name in ("bastion.db", "keyring.db"):
        assert (place / name).stat().st_mode & 0o777 == 0o600, name
    assert (keys.stat().st_mode & 0o777) == 0o600 and not list(keys.parent.glob("*.partial"))
