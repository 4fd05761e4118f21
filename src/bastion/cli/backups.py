"""``bastion backup`` and ``bastion restore``: the data (database and sealed files), never the keys.

``bastion restore --check`` proves a backup restores without restoring it; with
``--keyring`` it checks (or restores) the sealed keyring backup that ``bastion keys
backup`` wrote, too. The passphrase of a keyring backup is read from the
environment variable ``--passphrase-env`` names, else prompted for (``_secrets.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._output import err, out, when
from ._runtime import runtime, settings
from ._secrets import PASSPHRASE_ENV, archive_passphrase
from ..services import backups


def backup_(out_file: Path):
    """Write a backup of the data (database and sealed files) — never the keys."""
    manifest = backups.backup(runtime(), out_file)
    out.print(
        f"wrote {out_file} (schema {manifest['schema']}, {len(manifest['members'])} member(s)); "
        "back up the keyring (bastion keys backup) to another place, and the master key apart"
    )


def restore_(
    backup_file: Path,
    keyring_file: Annotated[
        Path | None,
        typer.Option("--keyring", help="The keyring backup (bastion keys backup) to check or restore with the data."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Verify the backup (checksums, every sealed record, audit logs, keyring match); restore nothing.",
        ),
    ] = False,
    passphrase_env: Annotated[
        str, typer.Option("--passphrase-env", help="Environment variable holding the keyring backup's passphrase.")
    ] = PASSPHRASE_ENV,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing database (and keyring).")] = False,
):
    """Restore a backup into an empty data directory / database (with --keyring, the keyring too)."""
    passphrase = archive_passphrase(keyring_file, passphrase_env) if keyring_file else None
    if check:
        from ..services import restore_checks

        report = restore_checks.check_backup(
            settings(), backup_file, keyring_archive=keyring_file, passphrase=passphrase
        )
        _print_report(report)
        if not report.ok:
            raise typer.Exit(1)
        return
    manifest = backups.restore(
        settings(), backup_file, force=force, keyring_archive=keyring_file, passphrase=passphrase
    )
    restored = f"{backup_file} and the keyring {keyring_file}" if keyring_file else str(backup_file)
    out.print(f"restored {restored} (taken {when(manifest['created_at'])})")


def _print_report(report) -> None:
    manifest = report.data_manifest
    if manifest:
        out.print(
            f"data backup: deployment {manifest.get('deployment_id', '?')}, taken {when(manifest.get('created_at'))}, "
            f"{manifest.get('database', '?')}, {len(manifest.get('members', {}))} member(s)"
        )
    if report.keyring_manifest:
        k = report.keyring_manifest
        out.print(
            f"keyring backup: deployment {k.get('deployment_id')}, taken {when(k.get('created_at'))}, "
            f"{len(k.get('keys', {}))} key(s)"
        )
    for kind, count in sorted(report.counts.items()):
        gone = report.destroyed.get(kind, 0)
        out.print(f"  {kind}: {count} opened" + (f", {gone} with a destroyed key" if gone else ""))
    for kind, gone in sorted(report.destroyed.items()):
        if kind not in report.counts:
            out.print(f"  {kind}: {gone} with a destroyed key")
    for key_id, at in sorted(report.destroyed_keys.items()):
        out.print(f"  key {key_id} destroyed on {when(at)} (crypto-shredded): its records are unreadable by design")
    if report.audit_verified:
        entries = sum(report.audit_verified.values())
        out.print(f"  audit: {len(report.audit_verified)} workspace log(s) verified, {entries} entries")
    for problem in report.problems:
        err.print(f"[red]problem[/red] {problem}", markup=True, highlight=False)
    for kind, count in sorted(report.more_problems.items()):
        err.print(f"[red]problem[/red] {kind}: {count} more", markup=True, highlight=False)
    if report.ok:
        out.print("check passed: the backup restores and every sealed record opens")
    else:
        err.print(f"check FAILED: {len(report.problems) + sum(report.more_problems.values())} problem(s)")
