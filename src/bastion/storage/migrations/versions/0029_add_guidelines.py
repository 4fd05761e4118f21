"""Add guidelines (a project's versioned Markdown document, sealed with the project's key) and
guideline_acks (the newest version each person acknowledged), both workspace-owned with row-level
security, and annotations.guideline_version (the version an annotation was made under).

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "guidelines",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("requires_ack", sa.Boolean(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_guidelines_version")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_guidelines_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_guidelines_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_guidelines")),
        sa.UniqueConstraint("workspace_id", "project_id", "version", name="uq_guidelines_version"),
    )
    op.create_table(
        "guideline_acks",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_guideline_acks_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_guideline_acks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "user_id", name=op.f("pk_guideline_acks")),
    )
    rls.enable(op, ["guidelines", "guideline_acks"])
    op.add_column("annotations", sa.Column("guideline_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN on both (SQLite 3.35+): a batch rebuild of annotations would have to carry its
    # partial index and foreign keys over.
    op.execute("ALTER TABLE annotations DROP COLUMN guideline_version")
    op.drop_table("guideline_acks")
    op.drop_table("guidelines")
