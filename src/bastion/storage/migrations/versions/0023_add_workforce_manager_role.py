"""Add the workspace role ``workforce_manager``: time, pay and credentials, never task content.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ROLES = "'owner', 'manager', 'reviewer', 'annotator', 'auditor'"


def _swap(roles: str, width: int) -> None:
    # SQLite rebuilds the table: batch mode does not carry the old CHECK over, so the new one
    # replaces it (nothing references memberships, so the copy cascades into nothing).
    # PostgreSQL swaps the constraint in place and keeps the table's grants and policies.
    name = op.f("ck_memberships_role")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("memberships", recreate="always") as batch:
            batch.alter_column("role", type_=sa.String(width), existing_nullable=False)
            batch.create_check_constraint(name, f"role IN ({roles})")
    else:
        op.drop_constraint(name, "memberships", type_="check")
        op.alter_column("memberships", "role", type_=sa.String(width), existing_nullable=False)
        op.create_check_constraint(name, "memberships", f"role IN ({roles})")


def upgrade() -> None:
    _swap(f"{ROLES}, 'workforce_manager'", 24)


def downgrade() -> None:
    op.execute("DELETE FROM memberships WHERE role = 'workforce_manager'")
    _swap(ROLES, 16)
