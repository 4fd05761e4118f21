"""What ``bastion doctor`` asks the database about itself (services/doctor.py judges the answers).

Each function opens one connection of the server's own engine (``Database``), so SQLite's
answers are those of a connection set up exactly as the server's are (its ``PRAGMA``s run
on connect, storage/database.py), and PostgreSQL's are those of the role the server
connects as.
"""

from __future__ import annotations

from typing import NamedTuple

from .database import Database
from .schema import metadata


class SqliteSettings(NamedTuple):
    journal_mode: str
    synchronous: int  # 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


class PostgresFacts(NamedTuple):
    autovacuum: str  # the server's setting: "on" | "off"
    role: str
    is_superuser: bool
    bypasses_rls: bool
    tables_without_autovacuum: list[str]  # Bastion's tables with autovacuum_enabled=false
    server_epoch: float  # the server's clock, seconds since the epoch


def sqlite_settings(db: Database) -> SqliteSettings:
    with db.engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return SqliteSettings(str(journal).lower(), int(synchronous or 0))


def postgres_facts(db: Database) -> PostgresFacts:
    names = sorted(metadata.tables)
    with db.engine.connect() as conn:
        autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar()
        role, is_superuser, bypasses = conn.exec_driver_sql(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).one()
        off = (
            conn.exec_driver_sql(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname = ANY(%(names)s) "
                "AND 'autovacuum_enabled=false' = ANY(coalesce(c.reloptions, '{}')) ORDER BY c.relname",
                {"names": names},
            )
            .scalars()
            .all()
        )
        epoch = conn.exec_driver_sql("SELECT extract(epoch FROM clock_timestamp())").scalar_one()
    return PostgresFacts(str(autovacuum), str(role), bool(is_superuser), bool(bypasses), list(off), float(epoch))
