"""Create the workforce tables: conflicts and sector groups, person history, affiliations,
workspace exclusions, skills, qualification results; project routing and caps; gold answers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conflict_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cooling_off_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflict_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_conflict_groups_name")),
    )
    op.create_table(
        "affiliations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("org", sa.String(length=200), nullable=False),
        sa.Column("org_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=True),
        sa.Column("until", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_affiliations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliations")),
    )
    op.create_index("ix_affiliations_org", "affiliations", ["org_key"], unique=False)
    op.create_index("ix_affiliations_user", "affiliations", ["user_id"], unique=False)

    op.create_table(
        "conflict_group_members",
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["conflict_groups.id"],
            name=op.f("fk_conflict_group_members_group_id_conflict_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_conflict_group_members_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "workspace_id", name=op.f("pk_conflict_group_members")),
    )
    op.create_table(
        "conflicts",
        sa.Column("workspace_a", sa.String(length=40), nullable=False),
        sa.Column("workspace_b", sa.String(length=40), nullable=False),
        sa.Column("cooling_off_ms", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.CheckConstraint("workspace_a < workspace_b", name=op.f("ck_conflicts_ordered")),
        sa.ForeignKeyConstraint(
            ["workspace_a"], ["workspaces.id"], name=op.f("fk_conflicts_workspace_a_workspaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_b"], ["workspaces.id"], name=op.f("fk_conflicts_workspace_b_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_a", "workspace_b", name=op.f("pk_conflicts")),
    )
    op.create_index("ix_conflicts_workspace_b", "conflicts", ["workspace_b"], unique=False)

    op.create_table(
        "person_history",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("source IN ('access', 'declared', 'prior')", name=op.f("ck_person_history_source")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_person_history_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "workspace_id", name=op.f("pk_person_history")),
    )
    op.create_index("ix_person_history_workspace", "person_history", ["workspace_id"], unique=False)

    op.create_table(
        "skills",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("skill", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("level >= 0 AND level <= 10", name=op.f("ck_skills_level")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_skills_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "skill", name=op.f("pk_skills")),
    )
    op.create_table(
        "workspace_exclusions",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("org_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), server_default="", nullable=False),
        sa.Column("org", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_exclusions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "org_key", "kind", name=op.f("pk_workspace_exclusions")),
    )
    op.create_table(
        "qualification_results",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("taken_at", sa.BigInteger(), nullable=False),
        sa.Column("retake_after", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_qualification_results_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_qualification_results_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "user_id", name=op.f("pk_qualification_results")),
    )
    op.add_column("projects", sa.Column("required_skills", sa.Text(), server_default="{}", nullable=False))
    op.add_column("projects", sa.Column("max_tasks_per_person", sa.Integer(), nullable=True))
    op.add_column("projects", sa.Column("max_tasks_per_day", sa.Integer(), nullable=True))
    op.add_column("projects", sa.Column("qualification", sa.Text(), nullable=True))

    op.add_column("tasks", sa.Column("gold", sa.LargeBinary(), nullable=True))
    op.add_column("tasks", sa.Column("is_gold", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    rls.enable(op, ["files", "workspace_exclusions", "qualification_results"])


def downgrade() -> None:
    op.drop_column("tasks", "is_gold")
    op.drop_column("tasks", "gold")

    op.drop_column("projects", "qualification")
    op.drop_column("projects", "max_tasks_per_day")
    op.drop_column("projects", "max_tasks_per_person")
    op.drop_column("projects", "required_skills")

    op.drop_table("qualification_results")
    op.drop_table("workspace_exclusions")
    op.drop_table("skills")
    op.drop_index("ix_person_history_workspace", table_name="person_history")

    op.drop_table("person_history")
    op.drop_index("ix_conflicts_workspace_b", table_name="conflicts")

    op.drop_table("conflicts")
    op.drop_table("conflict_group_members")
    op.drop_index("ix_affiliations_user", table_name="affiliations")
    op.drop_index("ix_affiliations_org", table_name="affiliations")

    op.drop_table("affiliations")
    op.drop_table("conflict_groups")
