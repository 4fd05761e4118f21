"""``bastion doctor``: is this deployment set up the way Bastion's promises need? One finding a check.

Each check answers ``ok``, ``warn`` (works, but a risk worth fixing) or ``fail`` (fix before
serving), with one line that says what to do. The checks, in order:

* **data directory** — exists, owned by the user running the check (run it as the server's
  user), no access for others (fail) or the group (warn): it holds the database and files.
* **master key** — the file provider's key file is 0600 (anything more: fail) and owned by
  this user (warn otherwise).
* **keyring placement** — the keyring (wrapped data keys) apart from the data database: in
  the same directory or on the same file system (or, on PostgreSQL, the same server) a
  stolen disk, or one backup of the data directory, holds both (warn).
* **database** — SQLite: ``journal_mode=WAL`` and ``synchronous=FULL``, read on a connection
  the server's own engine opens (a file system that refuses WAL shows here). PostgreSQL:
  autovacuum on (for the server and every Bastion table) and the role the server connects as
  neither a superuser nor exempt from row-level security (storage/rls.py is the second wall).
* **clock skew** — this machine's clock against the database server's (leases, sessions and
  audit times mix both): over 2 s warn, over 60 s fail.
* **key provider** — unwraps a secret of the keyring, whatever the provider (the readiness
  probe's call): a KMS out of reach or a wrong master key fails here, not on the first request.

Nothing is repaired and nothing is written, except the keyring's probe secret the first time
(a random value wrapped like the other secrets). The trap: the file checks run before anything
opens the database or keyring, because opening them tightens permissions (storage/datadir.py)
and would hide what a backup or a copy of the directory made earlier carries.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

from ..settings import Settings
from ..storage import diagnostics_store
from ..storage.database import Database
from ..storage.keyring import Keyring

Level = Literal["ok", "warn", "fail"]
SKEW_WARN_S = 2.0
SKEW_FAIL_S = 60.0
SQLITE_FULL = 2


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str


def run_checks(settings: Settings, *, clock: Callable[[], float] = time.time) -> list[Finding]:
    """Every check, in order; a check that cannot run says so as its own failure."""
    findings = [check_data_directory(settings), check_master_key(settings), check_keyring_placement(settings)]
    findings.extend(check_database(settings, clock=clock))
    findings.append(check_key_provider(settings))
    return findings


def _owner_note(st: os.stat_result) -> str | None:
    if st.st_uid == os.getuid():
        return None
    return f"owned by uid {st.st_uid}, not by this user (uid {os.getuid()}): run doctor as the server's user"


def check_data_directory(settings: Settings) -> Finding:
    name = "data directory"
    path = Path(settings.data_dir).resolve()
    if not path.is_dir():
        return Finding(name, "fail", f"{path} does not exist: run `bastion init`")
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o007:
        return Finding(name, "fail", f"{path} is {mode:04o}: other users may enter it; run `chmod 700 {path}`")
    if mode & 0o070:
        return Finding(name, "warn", f"{path} is {mode:04o}: its group may enter it; run `chmod 700 {path}`")
    owner = _owner_note(st)
    if owner:
        return Finding(name, "warn", f"{path} is {owner}")
    return Finding(name, "ok", f"{path} is {mode:04o}, owned by this user")


def check_master_key(settings: Settings) -> Finding:
    name = "master key"
    if settings.key_provider != "file":
        return Finding(name, "ok", f"no key file: the '{settings.key_provider}' key provider wraps the keys")
    if settings.master_key:
        return Finding(name, "ok", "given in BASTION_MASTER_KEY (no key file to check)")
    path = Path(settings.resolved_master_key_file).resolve()
    if not path.is_file():
        return Finding(name, "fail", f"{path} does not exist: run `bastion init`, or restore the key from its backup")
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return Finding(name, "fail", f"{path} is {mode:04o}: others may read the key; run `chmod 600 {path}`")
    owner = _owner_note(st)
    if owner:
        return Finding(name, "warn", f"{path} is {owner}")
    return Finding(name, "ok", f"{path} is 0600, owned by this user")


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _device(path: Path) -> int:
    """The file system of ``path`` (of its nearest existing folder when it is not made yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.stat().st_dev


def check_keyring_placement(settings: Settings) -> Finding:
    name = "keyring placement"
    data_url, keyring_url = settings.resolved_database_url, settings.resolved_keyring_url
    data_file, keyring_file = _sqlite_path(data_url), _sqlite_path(keyring_url)
    fix = "set BASTION_KEYRING_URL to a database on another disk or server (docs/operations.md#deployment)"
    if data_file is not None and keyring_file is not None:
        if data_file.parent == keyring_file.parent:
            return Finding(
                name,
                "warn",
                f"the keyring {keyring_file.name} sits in the data database's directory {data_file.parent}: "
                f"a stolen disk or one backup of it holds the keys with the data; {fix}",
            )
        if _device(data_file.parent) == _device(keyring_file.parent):
            return Finding(
                name,
                "warn",
                f"the keyring {keyring_file} is on the data database's file system: a stolen disk holds both; {fix}",
            )
        return Finding(name, "ok", f"the keyring {keyring_file} is on another file system than the data")
    if data_file is None and keyring_file is None:
        data, keyring = make_url(data_url), make_url(keyring_url)
        if (data.host, data.port) == (keyring.host, keyring.port):
            same = "database" if data.database == keyring.database else "server"
            return Finding(
                name,
                "warn",
                f"the keyring is on the data's {same} ({data.host or 'local socket'}): a dump of it holds both; {fix}",
            )
    return Finding(name, "ok", "the keyring and the data are in different databases on different servers")


def check_database(settings: Settings, *, clock: Callable[[], float] = time.time) -> list[Finding]:
    url = settings.resolved_database_url
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        return [Finding("database", "fail", f"no database at {path}: run `bastion init`")]
    db = None
    try:
        db = Database(url, pool_size=1)
        if db.is_sqlite:
            return [_sqlite_finding(diagnostics_store.sqlite_settings(db)), _sqlite_clock()]
        before = clock()
        facts = diagnostics_store.postgres_facts(db)
        after = clock()
        return [*_postgres_findings(facts), skew_finding(facts.server_epoch - (before + after) / 2)]
    except Exception as exc:  # the server down, a wrong password: say which, on one line
        first = (str(exc).strip().splitlines() or [""])[0]
        return [
            Finding("database", "fail", f"cannot use {make_url(url).render_as_string()}: {type(exc).__name__}: {first}")
        ]
    finally:
        if db is not None:
            db.dispose()


def _sqlite_finding(found: diagnostics_store.SqliteSettings) -> Finding:
    name = "database settings"
    if found.journal_mode != "wal":
        return Finding(
            name,
            "fail",
            f"SQLite journal_mode is {found.journal_mode}, not wal: the file system refuses WAL (a network share?); "
            "keep the database on a local disk",
        )
    if found.synchronous < SQLITE_FULL:
        return Finding(
            name,
            "fail",
            f"SQLite synchronous is {found.synchronous}, not FULL (2): a power cut may lose acknowledged writes",
        )
    return Finding(name, "ok", "SQLite: journal_mode=WAL, synchronous=FULL")


def _sqlite_clock() -> Finding:
    return Finding("clock skew", "ok", "SQLite runs in the server's process: one clock")


def _postgres_findings(facts: diagnostics_store.PostgresFacts) -> list[Finding]:
    found = []
    problems = []
    if facts.autovacuum != "on":
        problems.append("PostgreSQL's autovacuum is off (set autovacuum = on)")
    if facts.tables_without_autovacuum:
        tables = ", ".join(facts.tables_without_autovacuum)
        problems.append(f"autovacuum is off for {tables} (run `ALTER TABLE … RESET (autovacuum_enabled)` on each)")
    if problems:
        found.append(
            Finding(
                "autovacuum",
                "fail",
                "; ".join(problems) + ": leases and submits leave dead rows behind and the queue slows down",
            )
        )
    else:
        found.append(Finding("autovacuum", "ok", "PostgreSQL autovacuum is on, for every Bastion table"))
    if facts.is_superuser or facts.bypasses_rls:
        what = "a superuser" if facts.is_superuser else "exempt from row-level security (BYPASSRLS)"
        found.append(
            Finding(
                "database role",
                "fail",
                f"the server connects as {facts.role}, {what}: row-level security does not apply to it; connect as "
                "an ordinary role granted with `bastion init --app-role ROLE` (docs/security.md)",
            )
        )
    else:
        found.append(Finding("database role", "ok", f"the server connects as {facts.role}, an ordinary role"))
    return found


def skew_finding(skew_s: float) -> Finding:
    """This machine's clock against the database server's (positive: the server is ahead)."""
    name = "clock skew"
    text = f"the database server's clock is {abs(skew_s):.1f} s {'ahead of' if skew_s > 0 else 'behind'} this machine's"
    if abs(skew_s) > SKEW_FAIL_S:
        return Finding(name, "fail", f"{text}: leases and sessions expire at the wrong times; sync both with NTP")
    if abs(skew_s) > SKEW_WARN_S:
        return Finding(name, "warn", f"{text}: sync both with NTP")
    return Finding(name, "ok", f"{abs(skew_s):.2f} s between this machine and the database server")


def check_key_provider(settings: Settings) -> Finding:
    name = "key provider"
    try:
        keyring = Keyring.open(settings, create=False)
    except Exception as exc:
        return Finding(name, "fail", f"the '{settings.key_provider}' key provider does not open: {_reason(exc)}")
    try:
        keyring.probe()
    except Exception as exc:
        return Finding(
            name, "fail", f"the '{settings.key_provider}' key provider cannot unwrap the keyring's keys: {_reason(exc)}"
        )
    finally:
        keyring.dispose()
    return Finding(name, "ok", f"the '{settings.key_provider}' key provider unwrapped a keyring secret")


def _reason(exc: Exception) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
