"""``bastion keys backup`` and ``bastion restore --check`` as an operator runs them: passphrase from the
environment, a summary that counts what opened, exit code 1 and the member named on a changed byte."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the commands over the services tests/services covers on both
def test_keys_backup_and_restore_check_from_the_command_line(cli, tmp_path, monkeypatch):
    cli("init")
    cli("user", "create", "lead@example.com")
    ws = cli("workspace", "create", "Acme", "--owner", "lead@example.com").stdout.strip()
    (tmp_path / "d").mkdir()
    (tmp_path / "k").mkdir()
    data, keys = tmp_path / "d" / "data.tar", tmp_path / "k" / "keyring.bkr"
    cli("backup", str(data))
    monkeypatch.delenv("BASTION_KEYRING_BACKUP_PASSPHRASE", raising=False)
    refused = cli("keys", "backup", str(keys), ok=False)  # no passphrase, no terminal to ask on
    assert refused.exit_code == 1 and "BASTION_KEYRING_BACKUP_PASSPHRASE" in refused.stderr and not keys.exists()
    monkeypatch.setenv("MY_PASSPHRASE", "twelve chars or more")
    made = cli("keys", "backup", str(keys), "--passphrase-env", "MY_PASSPHRASE")
    assert "sealed by the backup passphrase" in made.stdout
    checked = cli("restore", "--check", str(data), "--keyring", str(keys), "--passphrase-env", "MY_PASSPHRASE")
    assert "check passed" in checked.stdout and "1 workspace log(s) verified" in checked.stdout
    own = cli("restore", "--check", str(data)).stdout  # against a copy of the deployment's own keyring
    assert "check passed" in own and "projects.config" not in own  # (a workspace, no project yet)
    assert ws.startswith("ws_")
    raw = bytearray(data.read_bytes())
    raw[700] ^= 0x01  # inside the database file, the first member
    data.write_bytes(bytes(raw))
    failed = cli("restore", "--check", str(data), ok=False)
    assert failed.exit_code == 1 and "member bastion.db does not match its checksum" in failed.stderr
    assert "check FAILED" in failed.stderr
    bad = cli("keys", "backup", str(tmp_path / "k" / "other.bkr"), "--seal", "kms", ok=False)
    assert bad.exit_code == 1 and "--seal: 'kms'" in bad.stderr
