"""The passphrase of a keyring backup: from an environment variable the operator names, else a prompt.

Never an option's value (it would sit in the shell's history and the process list).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ..domain.errors import InvalidInput

PASSPHRASE_ENV = "BASTION_KEYRING_BACKUP_PASSPHRASE"


def archive_passphrase(archive: Path, env_name: str) -> str | None:
    """The passphrase to open ``archive`` (None when the key provider seals it)."""
    from ..services import keyring_backups

    if not archive.is_file():
        raise InvalidInput(f"{archive}: no such file")
    if not keyring_backups.passphrase_needed(archive):
        return None
    return read_passphrase(env_name, confirm=False)


def read_passphrase(env_name: str, *, confirm: bool) -> str:
    value = os.environ.get(env_name)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InvalidInput(f"the keyring backup passphrase: set {env_name} (or run in a terminal to be asked)")
    return str(typer.prompt("keyring backup passphrase", hide_input=True, confirmation_prompt=confirm))
