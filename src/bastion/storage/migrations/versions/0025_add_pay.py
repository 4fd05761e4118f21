"""Add pay: settings (currency, gold bonus), rates, statements and their frozen lines (docs/workforce.md#pay).

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

ID = sa.String(length=40)
TABLES = ["pay_settings", "pay_rates", "pay_statements", "pay_lines"]


def upgrade() -> None:
    op.create_table(
        "pay_settings",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bonus_threshold", sa.Float(), nullable=True),
        sa.Column("bonus_min_gold", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("bonus_amount", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_pay_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_pay_settings")),
    )
    op.create_table(
        "pay_rates",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=True),
        sa.Column("task_type", sa.String(length=64), nullable=False),
        sa.Column("per_task", sa.BigInteger(), nullable=True),
        sa.Column("per_hour", sa.BigInteger(), nullable=True),
        sa.Column("effective_from", sa.BigInteger(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("per_task IS NOT NULL OR per_hour IS NOT NULL", name=op.f("ck_pay_rates_amount")),
        sa.CheckConstraint(
            "(per_task IS NULL OR per_task >= 0) AND (per_hour IS NULL OR per_hour >= 0)",
            name=op.f("ck_pay_rates_sign"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_pay_rates_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_pay_rates_workspace_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_pay_rates")),
    )
    op.create_index(
        "ix_pay_rates_task_type", "pay_rates", ["workspace_id", "task_type", "effective_from"], unique=False
    )
    op.create_table(
        "pay_statements",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", ID, nullable=True),
        sa.Column("approved_at", sa.BigInteger(), nullable=True),
        sa.Column("locked_by", ID, nullable=True),
        sa.Column("locked_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'approved', 'locked')", name=op.f("ck_pay_statements_status")),
        sa.CheckConstraint("period_end > period_start", name=op.f("ck_pay_statements_period")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_pay_statements_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_pay_statements")),
    )
    op.create_index(
        "ix_pay_statements_user", "pay_statements", ["workspace_id", "user_id", "period_start"], unique=False
    )
    op.create_table(
        "pay_lines",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("statement_id", ID, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("annotation_id", ID, nullable=True),
        sa.Column("project_id", ID, nullable=True),
        sa.Column("review_id", ID, nullable=True),
        sa.Column("annotated_at", sa.BigInteger(), nullable=True),
        sa.Column("active_ms", sa.BigInteger(), nullable=True),
        sa.Column("task_amount", sa.BigInteger(), nullable=False),
        sa.Column("hour_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.CheckConstraint("kind IN ('annotation', 'rejected', 'adjustment', 'bonus')", name=op.f("ck_pay_lines_kind")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "statement_id"],
            ["pay_statements.workspace_id", "pay_statements.id"],
            name=op.f("fk_pay_lines_workspace_id_pay_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "statement_id", "n", name=op.f("pk_pay_lines")),
    )
    op.create_index("ix_pay_lines_annotation", "pay_lines", ["workspace_id", "annotation_id"], unique=False)
    rls.enable(op, TABLES)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
