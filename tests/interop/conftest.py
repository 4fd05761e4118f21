"""Label Studio's SDK, run in a separate interpreter (its numpy/opencv pins conflict with ours)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cli.conftest import cli  # noqa: F401  (the migration test plays the CLI)


@pytest.fixture
def ls_sdk():
    """Run Python code with label-studio-sdk's interpreter (``BASTION_LS_SDK_PYTHON``, made by .ci/run).

    Skipped with the reason when unset; under CI=true a missing SDK fails instead.
    """
    python = os.environ.get("BASTION_LS_SDK_PYTHON")
    if not python or not Path(python).exists():
        reason = "BASTION_LS_SDK_PYTHON is not set to a Python with label-studio-sdk (.ci/run makes .ci-lssdk)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)

    def run(code: str, *args: str) -> str:
        done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    return run
