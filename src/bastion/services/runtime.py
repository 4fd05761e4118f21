"""The runtime: everything a process needs to serve requests, built once from Settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .auth_cache import AuthCache
from .oidc_providers import OidcClients
from ..domain.errors import BastionError, InvalidInput
from ..exporting import ExportFormats
from ..exporting import installed as installed_export_formats
from ..leaks.cache import LeakCache
from ..settings import Settings
from ..storage import datadir, migrate, rls
from ..storage.blobs import BlobStore, open_blob_store
from ..storage.database import Database
from ..storage.keyring import Keyring
from ..tasktypes import TaskTypes, installed


class SchemaNotReady(BastionError):
    code = "schema_not_ready"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: Keyring
    task_types: TaskTypes
    blobs: BlobStore  # where sealed files are kept (storage/blobs.py)
    # Where each person's last next-task scan ended, per project (services/queue.py).
    # {(workspace id, project id, user id): (queue epoch, (priority, task id))}
    queue_marks: dict[tuple[str, str, str], tuple[int, tuple[int, str]]] = field(default_factory=dict)
    export_formats: ExportFormats = field(default_factory=installed_export_formats)
    # Parsed leak-tracing settings and the variant slots of texts shown (services/variants.py).
    leak_cache: LeakCache = field(default_factory=LeakCache)
    # Single sign-on providers (BASTION_OIDC_PROVIDERS), their discovery documents and keys (services/oidc.py).
    oidc: OidcClients = field(default_factory=OidcClients)
    # Resolved tokens, session cookies and roles while the auth generation stands (services/auth_cache.py).
    auth_cache: AuthCache = field(default_factory=AuthCache)
    # The installed job kinds (services/job_kinds.py ``kinds_of``: looked up on first use).
    job_kinds: Any = None

    @classmethod
    def open(cls, settings: Settings, *, migrate_schema: str = "if-empty") -> Runtime:
        """Open the database and keyring.

        ``migrate_schema``: "always" (init, demo), "if-empty" (serve) or "never".
        A database behind the code's schema is refused unless migrating "always".
        """
        datadir.prepare(settings)  # folders 0700 (the database files: storage/datadir.py)
        blobs = open_blob_store(settings)  # first: a store badly configured stops the start before anything opens
        oidc = OidcClients.from_settings(settings.oidc_providers, os.environ)  # likewise a bad provider
        db = Database(settings.resolved_database_url, sqlite_cache_mb=settings.sqlite_cache_mb)
        state = migrate.status(db)
        if state != "current":
            if migrate_schema == "always" or (migrate_schema == "if-empty" and state == "empty"):
                migrate.upgrade(db)
            elif state == "empty":
                raise SchemaNotReady("the database has no schema yet: run `bastion init`")
            else:
                raise SchemaNotReady("the database schema is older than this version: run `bastion init`")
        keyring = Keyring.open(settings, create=migrate_schema != "never")
        return cls(settings=settings, db=db, keyring=keyring, task_types=installed(), blobs=blobs, oidc=oidc)

    def close(self) -> None:
        self.db.dispose()
        self.keyring.dispose()
        self.blobs.close()


def grant_data_access(rt: Runtime, role: str) -> None:
    """PostgreSQL: let ``role`` read and write the data, not own it (``bastion init --app-role``).

    Run as the tables' owner; the server then connects as ``role``, and row-level
    security applies to it (``storage/rls.py``).
    """
    if rt.db.is_sqlite:
        raise InvalidInput("--app-role is for PostgreSQL (SQLite has no roles)")
    with rt.db.engine.begin() as conn:
        for statement in rls.grant_sql(role):
            conn.exec_driver_sql(statement)
