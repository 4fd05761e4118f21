"""Add chat_drafts: a person's chat in progress on a task they hold, sealed with the project's key
(the chat task type, services/chat.py).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "chat_drafts",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "task_id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_chat_drafts_workspace_id_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_chat_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "task_id", "user_id", name=op.f("pk_chat_drafts")),
    )
    op.create_index("ix_chat_drafts_project", "chat_drafts", ["workspace_id", "project_id", "id"])
    rls.enable(op, ["chat_drafts"])


def downgrade() -> None:
    op.drop_table("chat_drafts")
