"""Add the deployment's authentication generation and the triggers that move it (every server
process caches resolved tokens, sessions and roles while it is unchanged: services/auth_cache.py).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import auth_store

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_generation",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_auth_generation_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_generation")),
    )
    for statement in auth_store.trigger_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in auth_store.drop_trigger_sql(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("auth_generation")
