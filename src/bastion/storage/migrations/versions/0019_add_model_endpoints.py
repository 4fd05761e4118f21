"""Add model_endpoints: a workspace's OpenAI-compatible chat-completions servers, each with the
egress allow-list its calls go through and its API key sealed (docs/egress.md).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "model_endpoints",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=False),
        sa.Column("default_model", sa.String(length=200), nullable=False),
        sa.Column("allowed_hosts", sa.Text(), nullable=False),
        sa.Column("api_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_model_endpoints_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_model_endpoints_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_model_endpoints")),
        sa.UniqueConstraint("workspace_id", "name", name="uq_model_endpoints_name"),
    )
    rls.enable(op, ["model_endpoints"])


def downgrade() -> None:
    op.drop_table("model_endpoints")
