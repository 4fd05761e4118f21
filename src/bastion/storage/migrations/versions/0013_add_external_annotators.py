"""Add external_annotators: identities of one workspace that annotated elsewhere and never sign in
(``ext:vendor-a/17``), so that imported annotations keep their authors.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_annotators",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_external_annotators_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_external_annotators_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "handle", name=op.f("pk_external_annotators")),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_external_annotators_user"),
    )
    rls.enable(op, ["external_annotators"])


def downgrade() -> None:
    op.drop_table("external_annotators")
