"""Add need-to-know storage: the pseudonym vault and its counters, per-task redaction
records, held and canary flags on tasks (with the held-items index), canary templates
and who was issued which canary.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("held", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.add_column("tasks", sa.Column("is_canary", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.create_index(
        "ix_tasks_held",
        "tasks",
        ["workspace_id", "project_id", "id"],
        unique=False,
        sqlite_where=sa.text("held = 1"),
        postgresql_where=sa.text("held"),
    )

    op.create_table(
        "pseudonyms",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_pseudonyms_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_pseudonyms")),
        sa.UniqueConstraint("workspace_id", "project_id", "key_hash", name="uq_pseudonyms_key"),
        sa.UniqueConstraint("workspace_id", "project_id", "label", "number", name="uq_pseudonyms_token"),
    )
    op.create_table(
        "pseudonym_counters",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("last", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_pseudonym_counters_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "label", name=op.f("pk_pseudonym_counters")),
    )
    op.create_table(
        "task_redactions",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_task_redactions_workspace_id_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_task_redactions")),
    )
    op.create_table(
        "canaries",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", sa.String(length=40), nullable=True),
        sa.Column("approved_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('draft', 'approved', 'retired')", name=op.f("ck_canaries_state")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_canaries_workspace_id_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_canaries")),
    )
    op.create_index("ix_canaries_project", "canaries", ["workspace_id", "project_id", "state"], unique=False)
    op.create_table(
        "canary_issues",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("canary_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_canary_issues_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "canary_id"],
            ["canaries.workspace_id", "canaries.id"],
            name=op.f("fk_canary_issues_workspace_id_canary_id_canaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_canary_issues")),
        sa.UniqueConstraint("workspace_id", "canary_id", "user_id", name="uq_canary_issues_recipient"),
    )
    op.create_index("ix_canary_issues_user", "canary_issues", ["workspace_id", "project_id", "user_id"], unique=False)

    rls.enable(op, ["pseudonyms", "pseudonym_counters", "task_redactions", "canaries", "canary_issues"])


def downgrade() -> None:
    op.drop_index("ix_canary_issues_user", table_name="canary_issues")
    op.drop_table("canary_issues")
    op.drop_index("ix_canaries_project", table_name="canaries")
    op.drop_table("canaries")
    op.drop_table("task_redactions")
    op.drop_table("pseudonym_counters")
    op.drop_table("pseudonyms")
    op.drop_index("ix_tasks_held", table_name="tasks")
    op.drop_column("tasks", "is_canary")
    op.drop_column("tasks", "held")
