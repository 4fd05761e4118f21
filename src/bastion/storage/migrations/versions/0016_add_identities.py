"""Add single sign-on: user_identities (issuer + subject -> person), oidc_sign_ins (state, nonce and PKCE
verifier of the sign-ins under way), and the provider and ID token of a session started by one.

Like users and web_sessions, both tables are deployment tables holding no client content, looked up
before anyone is known: row-level security does not restrict them (storage/rls.py, UNRESTRICTED).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_identities",
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_sign_in_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_user_identities")),
        sa.UniqueConstraint("issuer", "user_id", name="uq_user_identities_issuer_user"),
    )
    op.create_index("ix_user_identities_user_id", "user_identities", ["user_id"])
    op.create_table(
        "oidc_sign_ins",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("next_path", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_sign_ins")),
    )
    op.create_index("ix_oidc_sign_ins_expires_at", "oidc_sign_ins", ["expires_at"])
    op.add_column("web_sessions", sa.Column("provider", sa.String(length=32), nullable=True))
    op.add_column("web_sessions", sa.Column("id_token", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("id_token")
        batch.drop_column("provider")
    op.drop_index("ix_oidc_sign_ins_expires_at", table_name="oidc_sign_ins")
    op.drop_table("oidc_sign_ins")
    op.drop_index("ix_user_identities_user_id", table_name="user_identities")
    op.drop_table("user_identities")
