"""PostgreSQL row-level security: the second wall behind the access module.

Every workspace-owned table has RLS enabled **and forced** (so the table owner
is subject to it too), with one policy: a row is visible and writable only when
its ``workspace_id`` is in the transaction's ``app.workspace_ids`` setting, which
the service layer sets with ``set_config(…, true)`` at the start of every
transaction (``services/context.py``). A transaction that sets nothing sees
nothing.

``app.workspace_ids = '*'`` is the local operator's scope (CLI admin commands
and background jobs). Platform admins (``app.is_admin = 'on'``) additionally see
the ``workspaces`` and ``memberships`` rows — names and roles, never content.
A person's own memberships are readable through ``app.user_id`` so the access
module can load them before the workspace scope is known.

Pitfalls handled (docs/security.md):

* Pooled connections: the settings are transaction-local (``is_local = true``),
  so they vanish at commit/rollback and never leak to the next request.
* Owners and superusers: ``FORCE ROW LEVEL SECURITY`` makes the owner obey the
  policies; superusers and ``BYPASSRLS`` roles never do — the application must
  connect as an ordinary role (``bastion init --app-role``).
* Views would run with their owner's rights and bypass RLS: Bastion defines none.
* Foreign-key cascades bypass RLS by design (deleting a workspace removes its rows).
"""

from __future__ import annotations

FUNCTION = """
CREATE OR REPLACE FUNCTION bastion_can_see(ws text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.workspace_ids', true), '') = '*'
      OR ws = ANY (string_to_array(nullif(current_setting('app.workspace_ids', true), ''), ','))
$$
"""

ADMIN = "coalesce(current_setting('app.is_admin', true), '') = 'on'"


def policy_sql(table: str) -> list[str]:
    """Statements enabling and forcing RLS on one workspace-owned table."""
    column = "id" if table == "workspaces" else "workspace_id"
    condition = f"bastion_can_see({column})"
    if table == "workspaces":
        condition = f"({condition} OR {ADMIN})"
    elif table == "memberships":
        condition = f"({condition} OR {ADMIN} OR user_id = current_setting('app.user_id', true))"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS tenant ON {table}",
        f"CREATE POLICY tenant ON {table} USING ({condition}) WITH CHECK ({condition})",
    ]


def enable(op, tables: list[str]) -> None:
    """Call from a migration: RLS on these tables (PostgreSQL only; a no-op on SQLite)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in tables:
        for statement in policy_sql(table):
            op.execute(statement)


def grant_sql(role: str) -> list[str]:
    """Privileges for the application's role: data, not ownership (run as the owner)."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"GRANT EXECUTE ON FUNCTION bastion_can_see(text) TO {quoted}",
    ]
