"""The code checks run by the test command: ruff (lint and format), mypy, import-linter's contracts.

Each check runs as a subprocess from the repository root with this interpreter's tools (the
``test`` extra installs them) and its configuration in pyproject.toml; a failure prints the
tool's report. The layers DESIGN.md draws are import-linter contracts, so an import that
crosses them fails here, not in review.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def run(*args: str) -> None:
    """Run a check with this tree's sources first on the path; fail with its report unless it passes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args[2:])} exited {done.returncode}:\n{done.stdout}\n{done.stderr}", pytrace=False)


def test_ruff_check():
    run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")


def test_ruff_format():
    run(sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".")


def test_mypy():
    run(sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull)


def test_import_contracts():
    # import-linter has no `python -m` entry point: call the function its lint-imports script calls
    run(sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as main; sys.exit(main())")


def _absolute_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "bastion":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Import):
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] == "bastion"
            ]
    return found


# Alembic loads the migrations by path, not as modules of the package, so they cannot import relatively.
ABSOLUTE_ALLOWED = ("src/bastion/storage/migrations/",)


def test_the_package_imports_itself_relatively():
    """Inside src/bastion, bastion's own modules are imported relatively (ruff has no rule for that)."""
    found = [
        line
        for path in sorted((SRC / "bastion").rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(ABSOLUTE_ALLOWED)
        for line in _absolute_imports(path)
    ]
    assert not found, "import relatively inside the package:\n" + "\n".join(found)


def test_every_test_module_has_a_name_of_its_own():
    """pytest imports test modules by basename (rootdir-relative packages are not used here): two files of
    one name in different folders stop the whole run at collection."""
    seen: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}
