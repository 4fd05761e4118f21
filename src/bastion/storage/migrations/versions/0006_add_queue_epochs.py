"""Add the queue's epoch per project and the triggers that bump it (a person's
next-task scan resumes where it stopped while nothing before that point reopened),
and the reviews-by-task index exports read.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import queue_store, rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_epochs",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_queue_epochs_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", name=op.f("pk_queue_epochs")),
    )
    if op.get_bind().dialect.name == "postgresql":  # every workspace's projects (row-level security)
        op.execute("SELECT set_config('app.workspace_ids', '*', true)")
    op.execute("INSERT INTO queue_epochs (workspace_id, project_id) SELECT workspace_id, id FROM projects")
    for statement in queue_store.epoch_trigger_sql(op.get_bind().dialect.name):
        op.execute(statement)
    rls.enable(op, ["queue_epochs"])
    op.create_index("ix_reviews_task", "reviews", ["workspace_id", "project_id", "task_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reviews_task", table_name="reviews")
    for statement in queue_store.drop_epoch_trigger_sql(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("queue_epochs")
