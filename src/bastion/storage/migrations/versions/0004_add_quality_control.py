"""Add quality control: reviews and review leases, annotator pauses, annotation review state
and gold scores, project quality settings, the gold-task index.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotator_pauses",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("paused_at", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_annotator_pauses_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_annotator_pauses_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "user_id", name=op.f("pk_annotator_pauses")),
    )
    op.create_table(
        "review_leases",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("annotation_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("reviewer_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "annotation_id"],
            ["annotations.workspace_id", "annotations.id"],
            name=op.f("fk_review_leases_workspace_id_annotation_id_annotations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "annotation_id", name=op.f("pk_review_leases")),
    )
    op.create_index(
        "ix_review_leases_reviewer", "review_leases", ["workspace_id", "project_id", "reviewer_id"], unique=False
    )

    op.create_table(
        "reviews",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("annotation_id", sa.String(length=40), nullable=False),
        sa.Column("reviewer_id", sa.String(length=40), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.LargeBinary(), nullable=True),
        sa.Column("correction", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("decision IN ('accepted', 'rejected', 'corrected')", name=op.f("ck_reviews_decision")),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_reviews_reviewer_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "annotation_id"],
            ["annotations.workspace_id", "annotations.id"],
            name=op.f("fk_reviews_workspace_id_annotation_id_annotations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_reviews")),
    )
    op.create_index("ix_reviews_annotation", "reviews", ["workspace_id", "annotation_id"], unique=False)

    op.add_column(
        "annotations", sa.Column("review_status", sa.String(length=10), server_default="none", nullable=False)
    )
    op.add_column("annotations", sa.Column("gold_score", sa.Float(), nullable=True))
    op.create_index(
        "ix_annotations_review",
        "annotations",
        ["workspace_id", "project_id", "id"],
        unique=False,
        sqlite_where=sa.text("review_status = 'pending'"),
        postgresql_where=sa.text("review_status = 'pending'"),
    )

    op.add_column("projects", sa.Column("quality", sa.Text(), server_default="{}", nullable=False))

    op.create_index(
        "ix_tasks_gold",
        "tasks",
        ["workspace_id", "project_id", "id"],
        unique=False,
        sqlite_where=sa.text("is_gold = 1"),
        postgresql_where=sa.text("is_gold"),
    )

    rls.enable(op, ["reviews", "review_leases", "annotator_pauses"])


def downgrade() -> None:
    op.drop_index("ix_tasks_gold", table_name="tasks")

    op.drop_column("projects", "quality")

    op.drop_index("ix_annotations_review", table_name="annotations")
    op.drop_column("annotations", "gold_score")
    op.drop_column("annotations", "review_status")

    op.drop_index("ix_reviews_annotation", table_name="reviews")

    op.drop_table("reviews")
    op.drop_index("ix_review_leases_reviewer", table_name="review_leases")

    op.drop_table("review_leases")
    op.drop_table("annotator_pauses")
