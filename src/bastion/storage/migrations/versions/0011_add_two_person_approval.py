"""Add walls that only their holders lift, two-person approval and alerts.

``conflicts`` (one row per edge, whoever declared it) becomes
``conflict_declarations`` (one row per holder of an edge: the declaring workspace,
or a sector group), each with an optional scheduled withdrawal (``lifts_at``).
Existing rows are carried over: a group's edge is held by that group; a declared
edge by the workspace its creator owned — by both sides when that cannot be told
(the creator owned both, or neither: the local operator), so such a wall stays
until both have withdrawn. Every pair of a group's workspaces is held by the group,
also where a declaration was made first (the old table kept only one source).

Adds ``workspaces.two_person_approval`` (on), ``approvals`` (workspace-owned;
platform admins also see the requests they decide) and ``alerts`` (a person's
inbox). Row-level security as ``storage/rls.py`` decides: the holders are seen
from either end of their edge, like the edges were.

Revision ID: 0011
Revises: 0010
"""

from itertools import combinations
from typing import Any

import sqlalchemy as sa
from alembic import op

from bastion.storage import rls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    declarations = op.create_table(
        "conflict_declarations",
        sa.Column("workspace_a", sa.String(length=40), nullable=False),
        sa.Column("workspace_b", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=60), nullable=False),
        sa.Column("cooling_off_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("lifts_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("workspace_a < workspace_b", name=op.f("ck_conflict_declarations_ordered")),
        sa.ForeignKeyConstraint(
            ["workspace_a"],
            ["workspaces.id"],
            name=op.f("fk_conflict_declarations_workspace_a_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_b"],
            ["workspaces.id"],
            name=op.f("fk_conflict_declarations_workspace_b_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_a", "workspace_b", "holder", name=op.f("pk_conflict_declarations")),
    )
    op.create_index("ix_conflict_declarations_workspace_b", "conflict_declarations", ["workspace_b"], unique=False)

    if bind.dialect.name == "postgresql":  # memberships of every workspace (row-level security)
        op.execute("SELECT set_config('app.workspace_ids', '*', true)")
    owners = set(bind.execute(sa.text("SELECT workspace_id, user_id FROM memberships WHERE role = 'owner'")).all())
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a, b, cooling, source, created_at, created_by in bind.execute(
        sa.text("SELECT workspace_a, workspace_b, cooling_off_ms, source, created_at, created_by FROM conflicts")
    ).all():
        if source.startswith("group:"):
            holders = [source]
        else:
            sides = [ws for ws in (a, b) if (ws, created_by) in owners]
            holders = sides if len(sides) == 1 else [a, b]
        for holder in holders:
            rows[(a, b, holder)] = {
                "workspace_a": a,
                "workspace_b": b,
                "holder": holder,
                "cooling_off_ms": cooling,
                "created_at": created_at,
                "created_by": created_by,
                "lifts_at": None,
            }
    groups = {
        gid: (cooling, created)
        for gid, cooling, created in bind.execute(
            sa.text("SELECT id, cooling_off_ms, created_at FROM conflict_groups")
        ).all()
    }
    members: dict[str, list[str]] = {}
    for gid, ws in bind.execute(sa.text("SELECT group_id, workspace_id FROM conflict_group_members")).all():
        members.setdefault(gid, []).append(ws)
    for gid, workspaces in members.items():
        cooling, created = groups[gid]
        for a, b in combinations(sorted(workspaces), 2):
            rows.setdefault(
                (a, b, f"group:{gid}"),
                {
                    "workspace_a": a,
                    "workspace_b": b,
                    "holder": f"group:{gid}",
                    "cooling_off_ms": cooling,
                    "created_at": created,
                    "created_by": "system",
                    "lifts_at": None,
                },
            )
    if rows:
        op.bulk_insert(declarations, list(rows.values()))
    op.drop_index("ix_conflicts_workspace_b", table_name="conflicts")
    op.drop_table("conflicts")

    # A plain ADD COLUMN (no batch copy: on SQLite, recreating ``workspaces`` would cascade deletes).
    op.add_column(
        "workspaces", sa.Column("two_person_approval", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )

    op.create_table(
        "approvals",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("authority", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("authority IN ('owners', 'admins')", name=op.f("ck_approvals_authority")),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'refused', 'used', 'expired')", name=op.f("ck_approvals_state")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_approvals_decided_by_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_approvals_requested_by_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_approvals_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_approvals")),
    )
    op.create_index("ix_approvals_state", "approvals", ["workspace_id", "state"], unique=False)
    rls.enable(op, ["approvals"])

    op.create_table(
        "alerts",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=600), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_alerts_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_alerts")),
    )
    if bind.dialect.name == "postgresql":
        for statement in rls.two_person_policies():
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_index("ix_approvals_state", table_name="approvals")
    op.drop_table("approvals")
    op.execute("ALTER TABLE workspaces DROP COLUMN two_person_approval")
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
    if op.get_bind().dialect.name == "postgresql":  # as 0009 left it
        edge = f"bastion_can_see(workspace_a) OR bastion_can_see(workspace_b) OR {rls.ADMIN}"
        op.execute("ALTER TABLE conflicts ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE conflicts FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON conflicts FOR ALL USING ({edge}) WITH CHECK ({edge})")
        op.execute("SELECT set_config('app.workspace_ids', '*', true)")
    # One row per edge again: the strictest live holder's cooling-off, the first declaration's author.
    op.execute(
        "INSERT INTO conflicts (workspace_a, workspace_b, cooling_off_ms, source, created_at, created_by) "
        "SELECT workspace_a, workspace_b, "
        "CASE WHEN count(*) > count(cooling_off_ms) THEN NULL ELSE max(cooling_off_ms) END, "
        "CASE WHEN max(holder) LIKE 'group:%' THEN max(holder) ELSE 'declared' END, min(created_at), min(created_by) "
        "FROM conflict_declarations GROUP BY workspace_a, workspace_b"
    )
    op.drop_index("ix_conflict_declarations_workspace_b", table_name="conflict_declarations")
    op.drop_table("conflict_declarations")
