"""``bastion doctor``'s checks, each made to pass and to fail on a deployment set up in a tmp dir."""

from __future__ import annotations

import os
import time

import pytest

from bastion.services import doctor
from bastion.services.runtime import Runtime
from bastion.settings import Settings
from environment import owner_url


@pytest.fixture
def deployed(tmp_path, database_url):
    """Settings of an initialised deployment: data directory, master key file, keyring, schema."""

    def settings(**extra) -> Settings:
        return Settings(**{"data_dir": tmp_path / "data", "database_url": database_url, **extra})

    Runtime.open(settings(), migrate_schema="always").close()
    return settings


def _levels(findings):
    return {f.check: f.level for f in findings}


def _server_autovacuum(database_url) -> str:
    import psycopg

    with psycopg.connect(owner_url(database_url)) as conn:
        return conn.execute("SHOW autovacuum").fetchone()[0]


def test_a_deployment_as_init_makes_it_passes_but_for_the_keyring_beside_the_data(deployed, db_kind, database_url):
    findings = doctor.run_checks(deployed())
    levels = _levels(findings)
    assert levels.pop("keyring placement") == ("warn" if db_kind == "sqlite" else "ok")
    if db_kind == "postgresql":  # the test server's own setting decides (some run with autovacuum off)
        assert levels.pop("autovacuum") == ("ok" if _server_autovacuum(database_url) == "on" else "fail")
    assert set(levels.values()) == {"ok"}, findings
    expected = {"data directory", "master key", "key provider", "clock skew"}
    expected |= {"database settings"} if db_kind == "sqlite" else {"database role"}
    assert expected <= set(levels)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_data_directory_open_to_others_fails_and_to_the_group_warns(deployed):
    folder = deployed().data_dir
    folder.chmod(0o755)
    found = doctor.check_data_directory(deployed())
    assert found.level == "fail" and "0755" in found.message and "chmod 700" in found.message
    folder.chmod(0o750)
    assert doctor.check_data_directory(deployed()).level == "warn"
    folder.chmod(0o700)
    assert doctor.check_data_directory(deployed()).level == "ok"
    assert doctor.check_data_directory(deployed(data_dir=folder / "nowhere")).level == "fail"


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_a_master_key_others_may_read_fails(deployed):
    key = deployed().resolved_master_key_file
    assert doctor.check_master_key(deployed()).level == "ok"
    key.chmod(0o640)
    found = doctor.check_master_key(deployed())
    assert found.level == "fail" and f"chmod 600 {key.resolve()}" in found.message
    key.unlink()
    assert doctor.check_master_key(deployed()).level == "fail"
    assert doctor.check_master_key(deployed(master_key="11" * 32)).level == "ok"  # injected: no file


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_files_owned_by_another_user_warn(deployed, monkeypatch):
    owner = deployed().data_dir.stat().st_uid
    monkeypatch.setattr(doctor.os, "getuid", lambda: owner + 1)
    for found in (doctor.check_data_directory(deployed()), doctor.check_master_key(deployed())):
        assert found.level == "warn" and f"uid {owner}" in found.message


def test_keyring_placement(tmp_path):
    beside = Settings(data_dir=tmp_path / "data")
    assert doctor.check_keyring_placement(beside).level == "warn"
    (tmp_path / "elsewhere").mkdir()
    same_disk = Settings(data_dir=tmp_path / "data", keyring_url=f"sqlite:///{tmp_path / 'elsewhere' / 'k.db'}")
    found = doctor.check_keyring_placement(same_disk)
    assert found.level == "warn" and "file system" in found.message
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.stat(shm).st_dev != os.stat(tmp_path).st_dev:
        apart = Settings(data_dir=tmp_path / "data", keyring_url=f"sqlite:///{shm}/bastion-doctor-test.db")
        assert doctor.check_keyring_placement(apart).level == "ok"
    pg = "postgresql://app@db.internal:5432/bastion"
    assert doctor.check_keyring_placement(Settings(database_url=pg, keyring_url=pg)).level == "warn"
    same_server = Settings(database_url=pg, keyring_url="postgresql://keys@db.internal:5432/keyring")
    assert doctor.check_keyring_placement(same_server).level == "warn"
    apart_servers = Settings(database_url=pg, keyring_url="postgresql://keys@vault.internal/keyring")
    assert doctor.check_keyring_placement(apart_servers).level == "ok"


def test_sqlite_without_wal_or_without_a_database_fails(tmp_path):
    (tmp_path / "data").mkdir()
    # Without locking (as on a network share) SQLite refuses WAL, silently: the server's engine
    # asks for it on connect and goes on in the rollback journal.
    no_wal = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///file:{tmp_path}/x.db?nolock=1&uri=true")
    [settings, _clock] = doctor.check_database(no_wal)
    assert settings.level == "fail" and "journal_mode is delete" in settings.message
    wal = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/y.db")
    Runtime.open(wal, migrate_schema="always").close()
    assert [f.level for f in doctor.check_database(wal)] == ["ok", "ok"]
    [missing] = doctor.check_database(Settings(data_dir=tmp_path / "data"))
    assert missing.level == "fail" and "bastion init" in missing.message


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_postgres_as_a_superuser_or_without_autovacuum_fails(deployed, database_url):
    import psycopg

    as_owner = deployed(database_url=owner_url(database_url))  # the test administrator: a superuser
    role = {f.check: f for f in doctor.check_database(as_owner)}
    assert role["database role"].level == "fail" and "superuser" in role["database role"].message
    assert "assignments" not in role["autovacuum"].message
    with psycopg.connect(owner_url(database_url), autocommit=True) as conn:
        conn.execute("ALTER TABLE assignments SET (autovacuum_enabled = false)")
    findings = {f.check: f for f in doctor.check_database(deployed())}
    assert findings["autovacuum"].level == "fail" and "assignments" in findings["autovacuum"].message
    assert findings["database role"].level == "ok"


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_clock_skew_with_the_database_server(deployed):
    def skewed(seconds):
        return {f.check: f for f in doctor.check_database(deployed(), clock=lambda: time.time() + seconds)}

    assert skewed(0)["clock skew"].level == "ok"
    assert skewed(-10)["clock skew"].level == "warn"
    late = skewed(-300)["clock skew"]
    assert late.level == "fail" and "ahead of" in late.message


def test_skew_levels():
    assert [doctor.skew_finding(s).level for s in (0.5, -1.9, 3, -59, 61, -3600)] == [
        "ok",
        "ok",
        "warn",
        "warn",
        "fail",
        "fail",
    ]


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_a_key_provider_that_cannot_unwrap_fails(deployed):
    assert doctor.check_key_provider(deployed()).level == "ok"
    key = deployed().resolved_master_key_file
    key.write_text("22" * 32)  # another key: it does not open this keyring
    found = doctor.check_key_provider(deployed())
    assert found.level == "fail" and "cannot unwrap" in found.message
    key.unlink()
    assert doctor.check_key_provider(deployed()).level == "fail"
