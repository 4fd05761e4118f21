"""``bastion doctor`` from the command line: one line a check, exit 1 when one fails."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_doctor_prints_a_line_a_check_and_fails_on_a_readable_key(cli, tmp_path):
    cli("init")
    ok = cli("doctor")
    lines = ok.stdout.strip().splitlines()
    assert lines[0].startswith("ok   data directory:") and lines[-1] == "6 checks: 0 failed, 1 warnings"
    assert any(line.startswith("warn keyring placement:") for line in lines)
    (tmp_path / "data" / "master.key").chmod(0o644)
    failed = cli("doctor", ok=False)
    assert failed.exit_code == 1
    assert "fail master key:" in failed.stdout and "chmod 600" in failed.stdout
