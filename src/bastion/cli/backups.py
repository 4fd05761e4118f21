"""``bastion backup`` and ``bastion restore``: the data (database and sealed files), never the keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._output import out, when
from ._runtime import runtime, settings
from ..services import backups


def backup_(out_file: Path):
    """Write a backup of the data (database and sealed files) — never the keys."""
    manifest = backups.backup(runtime(), out_file)
    out.print(f"wrote {out_file} (schema {manifest['schema']}); back up the keyring and master key separately")


def restore_(
    backup_file: Path,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing database.")] = False,
):
    """Restore a backup into the data directory / database (the keyring must be there already)."""
    manifest = backups.restore(settings(), backup_file, force=force)
    out.print(f"restored {backup_file} (taken {when(manifest['created_at'])})")
