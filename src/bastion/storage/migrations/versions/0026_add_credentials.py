"""Add people's credentials (NDAs, clearances, certificates; docs/workforce.md) and the credentials a
project requires (projects.required_credentials, JSON, null when none).

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("workspace_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("document", sa.String(length=500), nullable=True),
        sa.Column("reminded_days", sa.Integer(), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_credentials_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_credentials_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    op.create_index("ix_credentials_user", "credentials", ["user_id", "kind"])
    op.create_index("ix_credentials_expiry", "credentials", ["expires_at"])
    op.create_index("ix_credentials_workspace", "credentials", ["workspace_id"])
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("required_credentials", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for statement in rls.credential_policies():
            op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("required_credentials")
    op.drop_index("ix_credentials_workspace", table_name="credentials")
    op.drop_index("ix_credentials_expiry", table_name="credentials")
    op.drop_index("ix_credentials_user", table_name="credentials")
    op.drop_table("credentials")
