"""Drop the project-wide pseudonym vault and its counters: pseudonyms are numbered per task.

Numbers kept per project were an oracle (a guess imported by someone who may not
re-identify got the stored value's pseudonym; two tasks naming one person shared
it). Each task's sealed record (``task_redactions``) already holds its findings
with their originals, so nothing is needed to re-identify a task or an export:
the vault's rows only linked values across tasks, and they go.

Tasks imported before keep the text they were stored with (their numbers were
project-wide, and annotations were made on that text); re-identifying them reads
their own record as before. A pseudonym typed in an annotation's free text is
now read with the numbers of that annotation's task only.

Downgrade recreates the two tables empty: the sealed originals cannot be
rebuilt here (that needs the keys), and numbers the old code then allocates
start again at 1 for values it has not seen.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("pseudonym_counters")
    op.drop_table("pseudonyms")


def downgrade() -> None:
    op.create_table(
        "pseudonyms",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_pseudonyms_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_pseudonyms")),
        sa.UniqueConstraint("workspace_id", "project_id", "key_hash", name="uq_pseudonyms_key"),
        sa.UniqueConstraint("workspace_id", "project_id", "label", "number", name="uq_pseudonyms_token"),
    )
    op.create_table(
        "pseudonym_counters",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("last", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "project_id"],
            ["projects.workspace_id", "projects.id"],
            name=op.f("fk_pseudonym_counters_workspace_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "project_id", "label", name=op.f("pk_pseudonym_counters")),
    )
    rls.enable(op, ["pseudonyms", "pseudonym_counters"])
