"""Migrations produce exactly the schema in storage/schema.py, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bastion.storage import migrate
from bastion.storage.schema import metadata


def _diff(rt):
    with rt.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


EXPRESSION_INDEXES = {"ix_tasks_queue"}  # SQLite's reflection cannot read these back


def test_migrated_schema_equals_metadata(rt):
    assert migrate.status(rt.db) == "current"
    problems = []
    for d in _diff(rt):
        if d[0] == "remove_table" and d[1].name == "alembic_version":
            continue
        if rt.db.is_sqlite and d[0] in ("add_index", "remove_index") and d[1].name in EXPRESSION_INDEXES:
            continue
        problems.append(d)
    assert problems == []
    if rt.db.is_sqlite:
        with rt.db.engine.connect() as conn:
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'ix_tasks_queue'").scalar()
        assert (
            sql == "CREATE INDEX ix_tasks_queue ON tasks (workspace_id, project_id, priority DESC, id) WHERE done = 0"
        )


def test_migrations_are_linear_and_named():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1
    for rev in script.walk_revisions():
        assert rev.module.__file__.rsplit("/", 1)[-1].startswith(rev.revision + "_")
        assert rev.revision.isdigit() and len(rev.revision) == 4


def test_every_workspace_table_keys_on_workspace_id():
    from bastion.storage.schema import WORKSPACE_TABLES

    for name in WORKSPACE_TABLES:
        table = metadata.tables[name]
        assert "workspace_id" in table.c, name
        assert table.primary_key.columns.keys()[0] == "workspace_id", name
        for fk in table.foreign_key_constraints:
            cols = [c.name for c in fk.columns]
            if fk.referred_table.name != "users":
                assert cols[0] == "workspace_id" or fk.referred_table.name == "workspaces", (name, cols)


def test_the_newest_file_is_alembics_head():
    # migrate.status answers "current" from the file names without loading Alembic: they must agree
    assert migrate.newest_file_revision() == migrate.head_revision()


def test_status_without_alembic_on_a_current_database(rt):
    import subprocess
    import sys

    code = (
        "import sys; from bastion.storage import migrate; from bastion.storage.database import Database; "
        f"print(migrate.status(Database({rt.db.url!r}))); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["current", "[]"]
