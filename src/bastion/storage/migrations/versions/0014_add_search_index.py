"""Add the data browser's search index (a keyed blind index: search_blocks, search_postings,
search_labels, search_keys), each task's import (tasks.import_id) and agreement (tasks.agreement).

Tasks imported before this migration are not in the index (it needs their data keys, which
migrations never hold): every project that has tasks is listed in search_reindex, the data
browser says so, and ``bastion task reindex --project P`` indexes them (docs/cli.md).

Revision ID: 0014
Revises: 0013
"""

import time

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.String(length=40)
TABLES = ["search_blocks", "search_postings", "search_labels", "search_keys", "search_reindex"]


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id", "project_id"],
        ["projects.workspace_id", "projects.id"],
        name=op.f(f"fk_{table}_workspace_id_project_id_projects"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.add_column("tasks", sa.Column("import_id", ID, nullable=True))
    op.add_column("tasks", sa.Column("agreement", sa.Float(), nullable=True))
    op.create_index(
        "ix_tasks_agreement",
        "tasks",
        ["workspace_id", "project_id", "agreement", "id"],
        unique=False,
        sqlite_where=sa.text("agreement IS NOT NULL"),
        postgresql_where=sa.text("agreement IS NOT NULL"),
    )
    op.create_table(
        "search_blocks",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("import_id", ID, nullable=True),
        sa.Column("first_id", ID, nullable=False),
        sa.Column("last_id", ID, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("task_ids", sa.LargeBinary(), nullable=False),
        sa.Column("dead", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        _project_fk("search_blocks"),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "id", name=op.f("pk_search_blocks")),
    )
    op.create_table(
        "search_postings",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("block_id", ID, nullable=False),
        sa.Column("postings", sa.LargeBinary(), nullable=False),
        _project_fk("search_postings"),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "bucket", "block_id", name=op.f("pk_search_postings")),
    )
    op.create_table(
        "search_labels",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "task_id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_search_labels_workspace_id_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "token", "task_id", name=op.f("pk_search_labels")),
    )
    op.create_index("ix_search_labels_task", "search_labels", ["workspace_id", "task_id"], unique=False)
    op.create_table(
        "search_keys",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("key_id", ID, nullable=False),
        _project_fk("search_keys"),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "key_id", name=op.f("pk_search_keys")),
    )
    op.create_table(
        "search_reindex",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        _project_fk("search_reindex"),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", name=op.f("pk_search_reindex")),
    )
    rls.enable(op, TABLES)
    # The projects whose tasks this migration leaves out of the index.
    op.execute(
        sa.text(
            "INSERT INTO search_reindex (workspace_id, project_id, since) "
            "SELECT DISTINCT workspace_id, project_id, :now FROM tasks"
        ).bindparams(now=int(time.time() * 1000))
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    op.drop_index("ix_tasks_agreement", table_name="tasks")
    op.drop_column("tasks", "agreement")
    op.drop_column("tasks", "import_id")
