"""The ``cli`` fixture: ``bastion.cli.main`` run in-process (its error mapping included)."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from bastion.cli import main


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch, capsys):
    """Run ``bastion`` with these arguments, capturing output; ``ok`` asserts exit code 0."""
    monkeypatch.setenv("BASTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BASTION_DATABASE_URL", database_url)
    monkeypatch.delenv("BASTION_MASTER_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args, input=None, ok=True) -> Result:
        monkeypatch.setattr(sys, "argv", ["bastion", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(input or ""))
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        result = Result(code, captured.out, captured.err)
        if ok:
            assert code == 0, (args, result)
        return result

    return run
