"""Empty the sign-in counters: older versions kept what was typed into the e-mail field
in clear; the counters now hold keyed hashes (services/users.py), and they only span
15 minutes, so nothing of value is lost.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM login_failures")


def downgrade() -> None:
    pass  # the counters are transient; keyed hashes are as good as none to an older version
