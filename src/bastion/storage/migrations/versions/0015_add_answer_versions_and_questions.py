"""Add annotation_versions (a person's earlier answers to a task, sealed: what an edit replaced or an
undo took back) and questions (a person's question to the project's managers on a task, and its
answer, both sealed). Both workspace-owned, with row-level security.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_versions",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.String(length=40), nullable=False),
        sa.Column("result", sa.LargeBinary(), nullable=False),
        sa.Column("lead_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("review_status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.CheckConstraint("change IN ('edited', 'undone')", name=op.f("ck_annotation_versions_change")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_annotation_versions_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "task_id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_annotation_versions_workspace_id_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_annotation_versions")),
        sa.UniqueConstraint("workspace_id", "task_id", "user_id", "version", name="uq_annotation_versions_version"),
    )
    op.create_table(
        "questions",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("asker_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("answer", sa.LargeBinary(), nullable=True),
        sa.Column("answerer_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.Column("seen_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asker_id"], ["users.id"], name=op.f("fk_questions_asker_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["answerer_id"], ["users.id"], name=op.f("fk_questions_answerer_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_questions_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "task_id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_questions_workspace_id_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_questions")),
    )
    op.create_index("ix_questions_project", "questions", ["workspace_id", "project_id", "state", "id"], unique=False)
    op.create_index("ix_questions_asker", "questions", ["workspace_id", "project_id", "asker_id", "id"], unique=False)
    op.create_index("ix_questions_task", "questions", ["workspace_id", "task_id"], unique=False)
    rls.enable(op, ["annotation_versions", "questions"])


def downgrade() -> None:
    op.drop_table("questions")
    op.drop_table("annotation_versions")
