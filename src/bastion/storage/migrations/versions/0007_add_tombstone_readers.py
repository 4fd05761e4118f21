"""Add who may read a deleted workspace's tombstone (its owners and auditors at deletion),
and empty the sign-in counters (older versions kept what was typed into the e-mail field
in clear; the counters now hold keyed hashes, and they only span 15 minutes).

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tombstone_readers',
    sa.Column('workspace_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tombstone_readers_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace_tombstones.workspace_id'], name=op.f('fk_tombstone_readers_workspace_id_workspace_tombstones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'user_id', name=op.f('pk_tombstone_readers'))
    )
    op.create_index('ix_tombstone_readers_user_id', 'tombstone_readers', ['user_id'], unique=False)
    # Tombstones made before: who was a member then was not recorded; the person who
    # deleted the workspace (an owner, or an admin) keeps reading it.
    op.execute("INSERT INTO tombstone_readers (workspace_id, user_id, role) "
               "SELECT t.workspace_id, t.deleted_by, 'owner' FROM workspace_tombstones t "
               "JOIN users u ON u.id = t.deleted_by")
    op.execute("DELETE FROM login_failures")


def downgrade() -> None:
    op.drop_index('ix_tombstone_readers_user_id', table_name='tombstone_readers')
    op.drop_table('tombstone_readers')
