"""Add import_keys: each import's Idempotency-Key, a keyed hash of its body and its sealed report,
so that the same request sent again within 24 hours answers the first report without importing.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_keys",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("import_id", sa.String(length=40), nullable=False),
        sa.Column("body_hash", sa.LargeBinary(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_import_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_import_keys_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "user_id", "key_hash", name=op.f("pk_import_keys")),
    )
    rls.enable(op, ["import_keys"])


def downgrade() -> None:
    op.drop_table("import_keys")
