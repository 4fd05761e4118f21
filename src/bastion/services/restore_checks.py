"""``bastion restore --check``: prove a data backup (and a keyring backup) restore, restoring nothing.

Concept: a backup is only as good as the restore it allows. ``check_backup`` works
on copies in a scratch folder — never the deployment's data directory, database or
keyring — and reports every problem it finds, with where:

What is checked
  * the data archive: every member against its SHA-256 in the manifest, the
    manifest against its own, the tar's padding (``backups.open_data_archive``);
    a PostgreSQL dump is read without a server (``storage/pgdump_rows.py``);
  * the keyring archive: it authenticates (AES-GCM over every byte), its copy
    matches its checksum (``keyring_backups.open_keyring_archive``); without one,
    a copy of the deployment's own keyring is used;
  * matching: both name the same deployment; every data key the records
    reference is in the keyring, or was destroyed on purpose (crypto-shredding
    recorded in the keyring) — those records are counted as destroyed, not as
    problems; the configured key provider unwraps every key;
  * every sealed value opens (``restore_check_store.SEALED_PLACES``: task payloads,
    predictions, gold answers, annotations and their versions, reviews,
    redaction records, canary answers, questions, project configs, export
    manifests, import reports) and every sealed file of the archive;
  * every workspace's audit log verifies against its signed checkpoints, signed by
    the keyring's audit key (``bastion.audit.verify``).

Design choice: problems are collected, not raised, so one run names them all (the
first ``LISTED`` of each kind, and a count); only an unreadable argument raises.

The trap: the check runs the services over the scratch copies through a runtime
of their own; it must never be handed the deployment's runtime (its audit check
may sign a checkpoint into the database it reads).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import audit, keyring_backups
from .backups import OpenedData, open_data_archive
from .context import Context
from .runtime import Runtime
from ..access import Actor
from ..domain.errors import BastionError, InvalidInput
from ..settings import Settings
from ..storage import dumps, keyring, restore_check_store
from ..storage.crypto import Sealer, TamperedCiphertext, key_id_of
from ..storage.keyring import KeyDestroyed
from ..storage.pgdump_rows import load_postgresql_dump

LISTED = 20  # problems named per kind; the rest are counted


@dataclass
class CheckReport:
    counts: Counter = field(default_factory=Counter)  # kind ("tasks.payload", "files", …) -> values opened
    destroyed: Counter = field(default_factory=Counter)  # kind -> values whose key was destroyed on purpose
    destroyed_keys: dict[str, int] = field(default_factory=dict)  # key id -> when it was destroyed (ms)
    audit_verified: dict[str, int] = field(default_factory=dict)  # workspace -> entries verified
    problems: list[str] = field(default_factory=list)
    more_problems: Counter = field(default_factory=Counter)  # kind -> problems not listed
    data_manifest: dict[str, Any] = field(default_factory=dict)
    keyring_manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not self.more_problems

    def problem(self, kind: str, text: str) -> None:
        if sum(1 for p in self.problems if p.startswith(kind + ":")) >= LISTED:
            self.more_problems[kind] += 1
        else:
            self.problems.append(f"{kind}: {text}")


def check_backup(
    settings: Settings,
    data_archive: Path,
    *,
    keyring_archive: Path | None = None,
    passphrase: str | None = None,
) -> CheckReport:
    """Check a data backup (and a keyring backup) without restoring anything; see the module docstring."""
    report = CheckReport()
    work = Path(tempfile.mkdtemp(prefix="bastion-check-"))
    try:
        try:
            opened = open_data_archive(data_archive, work / "data")
        except InvalidInput as exc:
            report.problem("data archive", exc.message)
            return report
        report.data_manifest = opened.manifest
        for text in opened.problems:
            report.problem("data archive", text)
        if opened.manifest.get("format", 1) < 2:
            report.problem("data archive", f"{data_archive}: format 1 (no checksums, no keys listed): take a new one")
        try:
            database = _database_copy(opened, work)
            keyring_copy = _keyring_copy(settings, keyring_archive, passphrase, work, report)
        except BastionError as exc:
            report.problem("archive", getattr(exc, "message", str(exc)))
            return report
        _check_copies(settings, opened, database, keyring_copy, data_archive, report)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _database_copy(opened: OpenedData, work: Path) -> Path:
    scratch = work / "check.db"
    if opened.manifest["database"] == "sqlite":
        shutil.copyfile(opened.database_copy, scratch)
    else:
        dumps.list_postgresql_dump(opened.database_copy)
        load_postgresql_dump(opened.database_copy, scratch)
    return scratch


def _keyring_copy(
    settings: Settings, archive: Path | None, passphrase: str | None, work: Path, report: CheckReport
) -> Path:
    """A SQLite copy of the keyring to check with: the archive's, else the deployment's own."""
    folder = work / "keyring"
    folder.mkdir()
    if archive is not None:
        provider = None
        if not keyring_backups.passphrase_needed(archive):
            provider = keyring.open_provider(settings)
        opened = keyring_backups.open_keyring_archive(archive, folder, passphrase=passphrase, provider=provider)
        report.keyring_manifest = opened.manifest
        return opened.sqlite_copy
    url = settings.resolved_keyring_url
    if url.startswith("sqlite") and not dumps.sqlite_file(url).is_file():
        raise InvalidInput(f"no keyring at {dumps.sqlite_file(url)}: give the keyring backup (--keyring)")
    member = dumps.dump_keyring(url, folder)
    if member == dumps.KEYRING_SQLITE_MEMBER:
        return folder / member
    scratch = folder / "keyring-from-pgdump.db"
    load_postgresql_dump(folder / member, scratch, keyring.keyring_metadata)
    return scratch


def _check_copies(
    settings: Settings, opened: OpenedData, database: Path, keyring_copy: Path, source: Path, report: CheckReport
) -> None:
    scratch = settings.model_copy(
        update={
            "data_dir": database.parent / "runtime",
            "database_url": f"sqlite:///{database}",
            "keyring_url": f"sqlite:///{keyring_copy}",
            "master_key_file": settings.resolved_master_key_file,
            "blob_store": "disk",
        }
    )
    try:
        rt = Runtime.open(scratch, migrate_schema="never")
    except BastionError as exc:
        report.problem("database", f"the copies of the database and keyring do not open: {exc.message}")
        return
    try:
        if _check_keys(rt, opened, report):  # else nothing sealed can open: the one problem says why
            _check_sealed(rt, opened, source, report)
            _check_audit(rt, report)
    except rt.db.database_errors as exc:  # a damaged page: the copy does not read past it
        report.problem("database", f"the copy of the database does not read: {getattr(exc, 'orig', exc)}")
    finally:
        rt.close()


def _check_keys(rt: Runtime, opened: OpenedData, report: CheckReport) -> bool:
    """Deployment, key lists, the master key; False when the keys do not unwrap at all."""
    held = rt.keyring.inventory()
    ours = opened.manifest.get("deployment_id")
    if ours and held["deployment_id"] and ours != held["deployment_id"]:
        report.problem(
            "keyring", f"the keyring is of deployment {held['deployment_id']}; the data backup is of deployment {ours}"
        )
    if report.keyring_manifest is not None and set(report.keyring_manifest.get("keys", {})) != set(held["keys"]):
        report.problem("keyring", "the keyring backup's list of keys does not match the keyring it holds")
    try:
        rt.keyring.check()
    except keyring.KeyProviderError as exc:
        report.problem("keyring", f"the configured master key does not unwrap the keyring's keys: {exc}")
        return False
    with rt.db.transaction(write=False) as tx:
        referenced = restore_check_store.referenced_key_ids(tx)
    listed = set(opened.manifest.get("key_ids", referenced))
    if opened.manifest["database"] == "sqlite" and listed != referenced:
        report.problem("data archive", "the manifest's list of data keys does not match the records")
    for key_id in sorted(referenced - set(held["keys"])):
        if key_id in held["destroyed"]:
            report.destroyed_keys[key_id] = held["destroyed"][key_id]
        else:
            report.problem("keyring", f"data key {key_id} is referenced by the data but not in the keyring (missing)")
    return True


def _check_sealed(rt: Runtime, opened: OpenedData, source: Path, report: CheckReport) -> None:
    sealers: dict[tuple[str, str], Sealer | None] = {}

    def sealer(workspace_id: str, key_id: str) -> Sealer | None:
        found = sealers.get((workspace_id, key_id), ...)
        if found is ...:
            try:
                found = Sealer(rt.keyring, workspace_id, key_id)
            except KeyDestroyed:
                found = None
            sealers[(workspace_id, key_id)] = found
        return found

    def one(kind: str, workspace_id: str, table: str, record_id: str, column: str, sealed: bytes) -> None:
        key_id = key_id_of(sealed) if len(sealed) > 17 else ""
        if key_id in report.destroyed_keys:
            report.destroyed[kind] += 1
            return
        found = sealer(workspace_id, key_id) if key_id else None
        if found is None:
            report.problem(kind, f"{record_id} ({workspace_id}): its key {key_id or '?'} is not in the keyring")
            return
        try:
            found.open(table, record_id, column, sealed)
        except (TamperedCiphertext, KeyDestroyed) as exc:
            report.problem(kind, f"{record_id} ({workspace_id}): {exc}")
            return
        report.counts[kind] += 1

    with rt.db.transaction(write=False) as tx:
        for value in restore_check_store.iter_sealed(tx):
            one(f"{value.table}.{value.column}", *value[:4], value.sealed)
        file_rows = set(restore_check_store.list_file_ids(tx))
    try:
        blobs = opened.blobs(source)
    except InvalidInput as exc:
        report.problem("files", exc.message)
        return
    for workspace_id, file_id, path in blobs:
        one("files", workspace_id, "files", file_id, "content", path.read_bytes())
    for workspace_id, file_id in sorted(file_rows - {(w, f) for w, f, _ in blobs}):
        report.problem("files", f"{file_id} ({workspace_id}): listed in the database, not in the archive")


def _check_audit(rt: Runtime, report: CheckReport) -> None:
    ctx = Context(rt, Actor.system())
    with rt.db.transaction(write=False) as tx:
        workspace_ids = restore_check_store.list_workspace_ids(tx)
    for workspace_id in workspace_ids:
        try:
            verified, _ = audit.verify_stored(ctx, workspace_id)
        except BastionError as exc:
            report.problem("audit", f"{workspace_id}: {exc.message}")
            continue
        if not verified.ok:
            first = verified.first_error
            report.problem("audit", f"{workspace_id}: {first.message if first else 'no signed checkpoint compared'}")
            continue
        report.audit_verified[workspace_id] = verified.entries_read
