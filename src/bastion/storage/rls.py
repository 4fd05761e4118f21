"""PostgreSQL row-level security: the second wall behind the access module.

Every workspace-owned table has RLS enabled **and forced** (so the table owner
is subject to it too), with one policy: a row is visible and writable only when
its ``workspace_id`` is in the transaction's ``app.workspace_ids`` setting, which
the service layer sets with ``set_config(…, true)`` at the start of every
transaction (``services/context.py``). A transaction that sets nothing sees
nothing.

``app.workspace_ids = '*'`` is the local operator's scope (CLI admin commands
and background jobs). Platform admins (``app.is_admin = 'on'``) additionally see
the ``workspaces`` and ``memberships`` rows — names and roles, never content —
and the wall configuration their workforce operations need (conflicts, sector
groups, exclusions, people's history). A person's own memberships are readable
through ``app.user_id`` so the access module can load them before the workspace
scope is known.

Which table is which (the tuples below; ``widening_and_person_policies`` adds
the policies the first migrations lacked; ``tests/storage/test_rls.py`` checks
that every table is in exactly one group and that RLS is forced on all but the
last):

* **Per workspace** (policy ``tenant``): every table in ``schema.WORKSPACE_TABLES``
  and ``workspaces`` (admins also read ``workspace_exclusions``: walls.read is
  theirs; ``approvals``: also the requests platform admins decide); ``conflict_declarations``
  (the holders of an edge are seen from either end, and by admins); ``conflict_group_members`` (a workspace's own sector group, and
  admins); ``workspace_tombstones`` (while the workspace lives, then only its
  recorded readers — the owners and auditors at deletion and whoever deleted it
  — admins and the operator); ``credentials`` (``credential_policies``: a workspace's
  scoped credentials in its scope, the deployment-wide ones — ``workspace_id`` NULL,
  like skills — to anyone, and admins, who record those, every row).
* **Per person** (policy ``person``): ``person_history`` — a person's own rows
  (their transactions load them for every wall decision), platform admins and the
  operator, nothing else; ``workspace_tombstone_readers`` likewise; ``alerts`` — a
  person's own, inserted for them by whoever acts in the workspace an alert is about.
* **Deployment tables for platform admins and the operator** (policy ``admin``): ``scim_tokens``,
  ``scim_users``, ``scim_groups`` and ``scim_group_members``. A SCIM request is looked up and served
  in the operator's scope (services/scim.py); no person's transaction sees who the identity
  provider grouped how, nor a SCIM token's digest.
* **Deployment tables the app role reads unrestricted**, holding no client
  content: ``users``, ``web_sessions``, ``api_tokens``, ``login_failures``,
  ``user_identities``, ``oidc_sign_ins`` and ``auth_generation`` (sign-in and token checks look them up
  before anyone is known); ``skills``
  and ``affiliations`` (routing and exclusion checks read *any* member's or
  candidate's ties: an owner adding a member or excluding an organisation must
  see them, and a per-person policy would make those checks fail open);
  ``conflict_groups`` (sector names; which workspaces belong is per workspace).

Two narrow widenings, for writes and checks the service has already decided
(``Unit.audit_scope`` and ``Unit.wall_check_scope``), each a transaction-local
setting set just before and cleared just after:

* ``app.audit_workspace_ids`` — appending to an audit log outside the caller's
  scope: an admin creating a workspace (not a member of it), an owner declaring
  a competitor (the other side's log records it too), an admin adding a
  workspace to a sector group. It opens those logs' *heads and checkpoints*
  (the size and Merkle frontier the append extends, the signed tree heads) and
  lets entries and tree nodes be *inserted*, and (PostgreSQL's queue of entries waiting for
  their place) queued entries inserted, read and deleted by the fold; the log's entries
  themselves stay unreadable. Chosen over a ``SECURITY DEFINER`` append function: the append
  (Merkle frontier, canonical JSON, Ed25519 checkpoint signatures) is Python and
  stays one code path on both databases; a definer function owned by the
  migration owner would also run under ``FORCE ROW LEVEL SECURITY`` and need its
  own scope, and a superuser owner would make it a bypass of everything.
* ``app.wall_workspace_ids`` — reading people's history on these workspaces for
  a wall check made on someone else's behalf: an owner declaring a competitor
  (who has worked on both sides?) and an owner or auditor explaining a member's
  walls (their history on the workspace and its competitors).

One write goes further (``Unit.acting_in``): when a platform admin records a
person's tie that a workspace excludes, that person's open leases there end in
the same request although the admin is no member — the transaction's scope
includes that workspace for the lease release alone (its assignments and task
counters), then returns to the caller's.

The app role can set any of these settings itself: RLS stops a query that
forgot its filter, not a compromised application — that is what the access
module, the walls and the audit log's signatures are for.

Pitfalls handled (docs/security.md):

* Pooled connections: the settings are transaction-local (``is_local = true``),
  so they vanish at commit/rollback and never leak to the next request.
* Owners and superusers: ``FORCE ROW LEVEL SECURITY`` makes the owner obey the
  policies; superusers and ``BYPASSRLS`` roles never do — the application must
  connect as an ordinary role (``bastion init --app-role``). The tests do.
* Wall decisions read a person's *whole* history across workspaces under that
  person's scope; a policy keyed on the workspace would hide the history of
  workspaces they left and make walls fail open. Hence the per-person policy.
* Views would run with their owner's rights and bypass RLS: Bastion defines none.
* Foreign-key cascades bypass RLS by design (deleting a workspace removes its rows).
* Backups: ``pg_dump`` refuses tables whose policies would hide rows from it, so
  ``bastion backup``/``restore`` on PostgreSQL run as a superuser or a
  ``BYPASSRLS`` role, never as the app role.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

FUNCTION = """
CREATE OR REPLACE FUNCTION bastion_can_see(ws text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.workspace_ids', true), '') = '*'
      OR ws = ANY (string_to_array(nullif(current_setting('app.workspace_ids', true), ''), ','))
$$
"""

# Besides schema.WORKSPACE_TABLES and ``workspaces``:
# Deployment tables only platform admins and the local operator see (policy ``admin``): SCIM
# provisioning's tokens, people and groups (``scim_policies``).
DEPLOYMENT_ADMIN = ("scim_tokens", "scim_users", "scim_groups", "scim_group_members")
PER_WORKSPACE = ("conflict_declarations", "conflict_group_members", "workspace_tombstones", "credentials")
PER_PERSON = ("person_history", "workspace_tombstone_readers", "alerts")
UNRESTRICTED = (
    "users",
    "web_sessions",
    "api_tokens",
    "login_failures",
    "user_identities",
    "oidc_sign_ins",
    "auth_generation",
    "skills",
    "affiliations",
    "conflict_groups",
    "alembic_version",
)

ADMIN = "coalesce(current_setting('app.is_admin', true), '') = 'on'"
OPERATOR = "coalesce(current_setting('app.workspace_ids', true), '') = '*'"
ME = "user_id = current_setting('app.user_id', true)"

# The two widenings (see above): one function each, so a policy reads as what it allows.
WIDENING_FUNCTIONS = [
    f"""
CREATE OR REPLACE FUNCTION {name}(ws text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT ws = ANY (string_to_array(nullif(current_setting('{setting}', true), ''), ','))
$$
"""
    for name, setting in (
        ("bastion_may_audit", "app.audit_workspace_ids"),
        ("bastion_may_check_walls", "app.wall_workspace_ids"),
    )
]


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


class MigrationOps(Protocol):
    """What ``enable`` uses of a migration's ``alembic.op``."""

    def get_bind(self) -> Connection: ...

    def execute(self, sqltext: str) -> None: ...


def enable(op: MigrationOps, tables: list[str]) -> None:
    """Call from a migration: RLS on these tables (PostgreSQL only; a no-op on SQLite)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in tables:
        for statement in policy_sql(table):
            op.execute(statement)


def _policy(table: str, name: str, using: str | None, check: str | None, command: str = "ALL") -> str:
    clauses = (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else "")
    return f"CREATE POLICY {name} ON {table} FOR {command}{clauses}"


def _force(table: str) -> list[str]:
    return [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY", f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"]


def widening_and_person_policies() -> list[str]:
    """Migration ``add_person_row_security``: the widenings, and policies for the tables that had none."""
    reader = (
        "EXISTS (SELECT 1 FROM workspace_tombstone_readers r WHERE r.workspace_id = "
        "workspace_tombstones.workspace_id AND r.user_id = current_setting('app.user_id', true))"
    )
    person = f"{ME} OR {ADMIN} OR {OPERATOR}"
    statements = list(WIDENING_FUNCTIONS)
    # Audit logs outside the caller's scope: heads and checkpoints read and written, entries only appended.
    for table in ("audit_heads", "audit_checkpoints"):
        statements.append(
            _policy(table, "audit_append", "bastion_may_audit(workspace_id)", "bastion_may_audit(workspace_id)")
        )
    for table in ("audit_events", "audit_nodes"):
        statements.append(_policy(table, "audit_append", None, "bastion_may_audit(workspace_id)", "INSERT"))
    # Per person.
    statements += _force("person_history")
    statements.append(_policy("person_history", "person", person, person))
    statements.append(_policy("person_history", "wall_check", "bastion_may_check_walls(workspace_id)", None, "SELECT"))
    statements += _force("workspace_tombstone_readers")
    statements.append(
        _policy(
            "workspace_tombstone_readers",
            "person",
            f"{person} OR bastion_can_see(workspace_id)",
            f"{ADMIN} OR bastion_can_see(workspace_id)",
        )
    )
    # Per workspace.
    statements += _force("workspace_tombstones")
    statements.append(
        _policy(
            "workspace_tombstones",
            "tenant",
            f"bastion_can_see(workspace_id) OR {ADMIN} OR {reader}",
            f"bastion_can_see(workspace_id) OR {ADMIN}",
        )
    )
    statements += _force("conflicts")
    edge = f"bastion_can_see(workspace_a) OR bastion_can_see(workspace_b) OR {ADMIN}"
    statements.append(_policy("conflicts", "tenant", edge, edge))
    statements += _force("conflict_group_members")
    group = f"bastion_can_see(workspace_id) OR {ADMIN}"
    statements.append(_policy("conflict_group_members", "tenant", group, group))
    # Exclusions: admins read them too (walls.read is theirs; adding a person's tie checks every workspace's).
    statements.append(_policy("workspace_exclusions", "admin_read", ADMIN, None, "SELECT"))
    return statements


def two_person_policies() -> list[str]:
    """Migration ``add_two_person_approval``: holders of walls, approvals, alerts."""
    edge = f"bastion_can_see(workspace_a) OR bastion_can_see(workspace_b) OR {ADMIN}"
    statements = _force("conflict_declarations")
    statements.append(_policy("conflict_declarations", "tenant", edge, edge))
    # Approvals are the workspace's (policy "tenant", as rls.enable makes it); platform admins also
    # reach the requests they are the authority for, in workspaces they are not members of.
    admins = f"{ADMIN} AND authority = 'admins'"
    statements.append(_policy("approvals", "admin_authority", admins, admins))
    # Alerts: a person's own; written for them by whoever acts in the workspace they are about.
    statements += _force("alerts")
    statements.append(_policy("alerts", "person", f"{ME} OR {OPERATOR}", f"{ME} OR {OPERATOR}"))
    statements.append(
        _policy(
            "alerts",
            "notify",
            None,
            f"bastion_can_see(workspace_id) OR bastion_may_audit(workspace_id) OR {ADMIN}",
            "INSERT",
        )
    )
    return statements


def scim_policies() -> list[str]:
    """Migration ``add_deactivation_and_scim``: SCIM tables, forced, for platform admins and the operator
    alone (SCIM requests run in the operator's scope; a person's transaction sees none of it)."""
    statements: list[str] = []
    for table in DEPLOYMENT_ADMIN:
        statements += _force(table)
        statements.append(f"DROP POLICY IF EXISTS admin ON {table}")
        statements.append(_policy(table, "admin", f"{ADMIN} OR {OPERATOR}", f"{ADMIN} OR {OPERATOR}"))
    return statements


def credential_policies() -> list[str]:
    """Migration ``add_credentials``: people's credentials. A workspace-scoped row is the workspace's
    (its scope sees and writes it; platform admins too, who record credentials for any workspace);
    a deployment-wide row (``workspace_id`` NULL) is read by anyone, like skills (routing checks read
    the person's own), and written by platform admins and the operator alone."""
    scoped = f"bastion_can_see(workspace_id) OR {ADMIN}"
    statements = _force("credentials")
    statements.append("DROP POLICY IF EXISTS tenant ON credentials")
    statements.append(_policy("credentials", "tenant", f"workspace_id IS NULL OR {scoped}", None, "SELECT"))
    for command in ("INSERT", "UPDATE", "DELETE"):
        using = None if command == "INSERT" else f"({scoped}) OR (workspace_id IS NULL AND ({ADMIN} OR {OPERATOR}))"
        check = None if command == "DELETE" else f"({scoped}) OR (workspace_id IS NULL AND ({ADMIN} OR {OPERATOR}))"
        statements.append(_policy("credentials", f"tenant_{command.lower()}", using, check, command))
    return statements


def queue_policies() -> list[str]:
    """Migration ``add_audit_queues``: within ``Unit.audit_scope`` an entry for a log outside the caller's
    scope may be queued, and that log's queue read and emptied by the fold that gives the entries their
    places before a checkpoint is signed (a workspace deleted by an admin who is no member of it: its
    final checkpoint covers the deletion). Its folded entries stay unreadable there."""
    may = "bastion_may_audit(workspace_id)"
    return [
        _policy("audit_queue", "audit_append", None, may, "INSERT"),
        _policy("audit_queue", "audit_fold", may, None, "SELECT"),
        _policy("audit_queue", "audit_fold_delete", may, None, "DELETE"),
    ]


def grant_sql(role: str) -> list[str]:
    """Privileges for the application's role: data, not ownership (run as the owner)."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"GRANT EXECUTE ON FUNCTION bastion_can_see(text) TO {quoted}",
        f"GRANT EXECUTE ON FUNCTION bastion_may_audit(text) TO {quoted}",
        f"GRANT EXECUTE ON FUNCTION bastion_may_check_walls(text) TO {quoted}",
    ]
