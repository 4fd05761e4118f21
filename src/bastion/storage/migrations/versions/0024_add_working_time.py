"""Working time (docs/workforce.md, "Time"): when a lease began, the idle gap of a project's active-time
measure, and what was pasted into an answer.

* ``assignments.leased_at``: when the assignment was last leased (an expired or skipped assignment leased
  again starts a new lease; ``created_at`` keeps the first hand-out, which the daily cap counts). Rows from
  before take their ``created_at``.
* ``projects.idle_after_s``: after how many seconds without input the labelling page stops counting time.
* ``annotations.paste_count`` and ``annotations.pasted_chars``: pastes into the answer's text fields and
  the characters they brought (null: none recorded).

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no table rebuild: the assignments' epoch triggers stay).
    op.add_column("assignments", sa.Column("leased_at", sa.BigInteger(), nullable=True))
    op.execute("UPDATE assignments SET leased_at = created_at")
    op.add_column("projects", sa.Column("idle_after_s", sa.Integer(), nullable=False, server_default=sa.text("60")))
    op.add_column("annotations", sa.Column("paste_count", sa.Integer(), nullable=True))
    op.add_column("annotations", sa.Column("pasted_chars", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("annotations", "pasted_chars")
    op.drop_column("annotations", "paste_count")
    op.drop_column("projects", "idle_after_s")
    op.drop_column("assignments", "leased_at")
