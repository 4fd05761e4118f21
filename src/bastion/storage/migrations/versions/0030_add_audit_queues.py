"""Add audit_queue and event_queue: on PostgreSQL a transaction's audit entries and feed events wait
there, in the order they were queued, until the folder gives them their place in the log and the feed under
the audit head's lock (services/_audit_append.py) — writers no longer lock the head. Both are
workspace-owned with row-level security; under the widening that lets an entry be appended to a log
outside the caller's scope (``app.audit_workspace_ids``) an entry may be queued for that log, and its
queue read and emptied by the fold (``rls.queue_policies``).

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("ord", sa.BigInteger(), nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", ID, nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_audit_queue_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_audit_queue")),
    )
    op.create_index("ix_audit_queue_ord", "audit_queue", ["workspace_id", "ord", "id"], unique=False)
    op.create_table(
        "event_queue",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("ord", sa.BigInteger(), nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", ID, nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_event_queue_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_event_queue")),
    )
    op.create_index("ix_event_queue_ord", "event_queue", ["workspace_id", "ord", "id"], unique=False)
    rls.enable(op, ["audit_queue", "event_queue"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in rls.queue_policies():
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("event_queue")
    op.drop_table("audit_queue")
