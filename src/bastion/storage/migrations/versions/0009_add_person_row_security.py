"""Add row-level security where it was missing: people's history, tombstones (and who may
read them), conflicts and sector-group members; let audit logs outside the caller's scope
be extended, and people's history be read for wall checks, when a service opens them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_tombstone_readers",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_workspace_tombstone_readers_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace_tombstones.workspace_id"],
            name=op.f("fk_workspace_tombstone_readers_workspace_id_workspace_tombstones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", name=op.f("pk_workspace_tombstone_readers")),
    )
    op.create_index("ix_workspace_tombstone_readers_user_id", "workspace_tombstone_readers", ["user_id"], unique=False)
    # Tombstones made before this revision: whoever deleted the workspace may read its tombstone.
    op.execute(
        "INSERT INTO workspace_tombstone_readers (workspace_id, user_id) SELECT t.workspace_id, t.deleted_by "
        "FROM workspace_tombstones t JOIN users u ON u.id = t.deleted_by"
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in rls.widening_and_person_policies():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name in (
            ("audit_heads", "audit_append"),
            ("audit_checkpoints", "audit_append"),
            ("audit_events", "audit_append"),
            ("audit_nodes", "audit_append"),
            ("person_history", "person"),
            ("person_history", "wall_check"),
            ("workspace_tombstones", "tenant"),
            ("conflicts", "tenant"),
            ("conflict_group_members", "tenant"),
            ("workspace_exclusions", "admin_read"),
        ):
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
        for table in ("person_history", "workspace_tombstones", "conflicts", "conflict_group_members"):
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("DROP FUNCTION IF EXISTS bastion_may_audit(text)")
        op.execute("DROP FUNCTION IF EXISTS bastion_may_check_walls(text)")
    op.drop_index("ix_workspace_tombstone_readers_user_id", table_name="workspace_tombstone_readers")
    op.drop_table("workspace_tombstone_readers")
