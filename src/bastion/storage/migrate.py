"""Applying schema migrations (Alembic, linear history, ``NNNN_verb_noun``).

Alembic (and Mako, and every migration script it loads: ~13 MB of a server's memory, measured in
docs/benchmarks.md) is imported only to migrate or when the schema is not the code's: a start on an
up-to-date database (every ``bastion serve``) reads the recorded revision with one query and
compares it with the newest migration's number, read from its file name
(tests/storage/test_migrations.py checks that number is Alembic's head).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_VERSION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


def newest_file_revision() -> str | None:
    """The revision of the newest migration by its file name (``0029_add_guidelines.py``: "0029")."""
    numbers = [m.group(1) for p in (MIGRATIONS / "versions").iterdir() if (m := _VERSION_FILE.match(p.name))]
    return max(numbers, default=None)


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def status(db: Database) -> str:
    """'current', 'empty' (no schema yet) or 'behind'."""
    newest = newest_file_revision()
    if newest is not None and _recorded_revision(db) == newest:
        return "current"  # without loading Alembic; anything else is Alembic's to say
    rev = current_revision(db)
    if rev is None:
        return "empty"
    return "current" if rev == head_revision() else "behind"


def _recorded_revision(db: Database) -> str | None:
    """The one revision in ``alembic_version`` (None: no such table, or not exactly one row)."""
    with db.engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None
