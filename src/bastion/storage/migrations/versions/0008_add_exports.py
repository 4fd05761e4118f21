"""Add the exports table: each export's status and, once its last byte has left, its
signed manifest (sealed).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("manifest", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("status IN ('streaming', 'complete', 'incomplete')", name=op.f("ck_exports_status")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_exports_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_exports")),
    )
    op.create_index("ix_exports_id", "exports", ["id"], unique=True)
    rls.enable(op, ["exports"])


def downgrade() -> None:
    op.drop_index("ix_exports_id", table_name="exports")
    op.drop_table("exports")
