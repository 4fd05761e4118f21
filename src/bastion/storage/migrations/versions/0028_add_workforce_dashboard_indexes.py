"""Indexes for the workforce dashboard: the last hours' annotations, gold answers, reviewed annotations.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_annotations_recent",
        "annotations",
        ["workspace_id", "created_at", "project_id", "user_id", "gold_score"],
        unique=False,
    )
    op.create_index(
        "ix_annotations_gold",
        "annotations",
        ["workspace_id", "user_id", "gold_score"],
        unique=False,
        sqlite_where=sa.text("gold_score IS NOT NULL"),
        postgresql_where=sa.text("gold_score IS NOT NULL"),
    )
    op.create_index(
        "ix_annotations_reviewed",
        "annotations",
        ["workspace_id", "user_id", "review_status"],
        unique=False,
        sqlite_where=sa.text("review_status != 'none'"),
        postgresql_where=sa.text("review_status <> 'none'"),
    )


def downgrade() -> None:
    op.drop_index("ix_annotations_reviewed", table_name="annotations")
    op.drop_index("ix_annotations_gold", table_name="annotations")
    op.drop_index("ix_annotations_recent", table_name="annotations")
