"""The database schema: SQLAlchemy Core tables on one ``MetaData``.

Invariants a newcomer must keep:

* Every workspace-owned table carries ``workspace_id`` and its primary and
  foreign keys include it. The database itself then refuses a task that points at
  another workspace's project, PostgreSQL row-level security keys on the column,
  and a sharded deployment distributes by it.
* Client content (task payloads, predictions, gold answers, results, labelling
  configs) is stored only as ciphertext (``LargeBinary`` columns sealed by
  ``storage/crypto.py``). Clear columns are metadata needed for queries; the list
  is in docs/security.md.
* Timestamps are integers: Unix epoch milliseconds (UTC). They compare the same
  on both databases and cost nothing to parse on hot paths.
* Counters that pages show (tasks, done, annotations) are kept incrementally in
  ``project_counters`` (several shard rows per project, summed on read, so
  concurrent submits do not queue on one hot row).

Schema changes go through an Alembic migration in ``storage/migrations``; a test
checks that the migrations produce exactly this metadata.
"""

# No `from __future__ import annotations` here: this module declares no annotations, and the table named
# `annotations` below would collide with the name that import binds.

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = String(40)
ROLE = String(24)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("password_hash", String(200), nullable=True),
    Column("is_admin", Boolean, nullable=False, server_default=text("false")),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", BigInteger, nullable=False),
    # When the person was deactivated (None while active); services/users.py deactivate_user.
    Column("deactivated_at", BigInteger, nullable=True),
    # Sessions and tokens issued before this instant are void (logout everywhere,
    # password change).
    Column("sessions_valid_after", BigInteger, nullable=False, server_default=text("0")),
)

# One row: the deployment's authentication generation. Triggers (storage/auth_store.py) give it a
# new random value in the same transaction as any write that changes what a token or session
# cookie resolves to — a token revoked, a session ended, a person deactivated or made admin, a
# membership added, removed or given another role. Each server process caches resolved
# credentials and roles while the generation it reads in the request's transaction is unchanged
# (services/auth_cache.py).
auth_generation = Table(
    "auth_generation",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("id = 1", name="single_row"),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", ID, nullable=True),
    # Operations that can leak or destroy the workspace wholesale need a second owner's
    # approval (services/approvals.py); turned off only through an approved request.
    Column("two_person_approval", Boolean, nullable=False, server_default=text("true")),
)

memberships = Table(
    "memberships",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("role", ROLE, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "user_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint(
        "role IN ('owner', 'manager', 'reviewer', 'annotator', 'auditor', 'workforce_manager')", name="role"
    ),
    Index("ix_memberships_user_id", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope", String(16), nullable=False, server_default="full"),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("scope IN ('full', 'read')", name="scope"),
    Index("ix_api_tokens_user_id", "user_id"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # The id is the SHA-256 of the cookie's secret; the secret itself is never stored.
    Column("id", String(64), primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    # Signed in through a single sign-on provider: its name and the ID token, kept only for the
    # provider's sign-out (id_token_hint) and gone with the session.
    Column("provider", String(32), nullable=True),
    Column("id_token", Text, nullable=True),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_web_sessions_user_id", "user_id"),
)

# A person as an OpenID Connect provider knows them: (issuer, subject), never the e-mail alone.
# One subject per issuer and person: a second identity of the same issuer cannot take an account over.
user_identities = Table(
    "user_identities",
    metadata,
    Column("issuer", String(500), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("user_id", ID, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_sign_in_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("issuer", "subject"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    UniqueConstraint("issuer", "user_id", name="uq_user_identities_issuer_user"),
    Index("ix_user_identities_user_id", "user_id"),
)

# Single sign-ons under way: state, nonce and PKCE verifier, kept here (every server process
# sees them) and deleted by the callback that uses them. The id is the SHA-256 of the state,
# ``browser_hash`` that of a cookie only the browser that started the sign-in holds.
oidc_sign_ins = Table(
    "oidc_sign_ins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("browser_hash", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("nonce", String(100), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("redirect_uri", String(1000), nullable=False),
    Column("next_path", String(2000), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_oidc_sign_ins_expires_at", "expires_at"),
)

projects = Table(
    "projects",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("name", String(200), nullable=False),
    Column("task_type", String(64), nullable=False),
    Column("key_id", ID, nullable=False),
    Column("config", LargeBinary, nullable=False),  # sealed JSON
    Column("config_version", Integer, nullable=False, server_default=text("1")),
    Column("overlap", Integer, nullable=False, server_default=text("1")),
    Column("lease_seconds", Integer, nullable=False, server_default=text("1800")),
    # The labelling page's active-time measure stops counting after this many seconds without input.
    Column("idle_after_s", Integer, nullable=False, server_default=text("60")),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    # Routing and need-to-know (clear metadata): required skills as JSON
    # {"all": ["history:3"], "any": [...]}, caps on what one person may see,
    # and, for a qualification test, the skill it grants (JSON).
    Column("required_skills", Text, nullable=False, server_default="{}"),
    Column("max_tasks_per_person", Integer, nullable=True),
    Column("max_tasks_per_day", Integer, nullable=True),
    Column("qualification", Text, nullable=True),
    # Quality control (JSON): gold rate, feedback, auto-pause, review mode.
    Column("quality", Text, nullable=False, server_default="{}"),
    Column("prelabel", Text, nullable=True),  # the pre-label setting (JSON; docs/prelabel.md), null: none
    Column("required_credentials", Text, nullable=True),  # JSON [{"kind", "name"}] (docs/workforce.md), null: none
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("created_by", ID, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    CheckConstraint("overlap >= 1 AND overlap <= 100", name="overlap"),
    CheckConstraint("lease_seconds >= 10", name="lease_seconds"),
    Index("ix_projects_id", "id", unique=True),
)

project_counters = Table(
    "project_counters",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("tasks", BigInteger, nullable=False, server_default=text("0")),
    Column("done", BigInteger, nullable=False, server_default=text("0")),
    Column("annotations", BigInteger, nullable=False, server_default=text("0")),
    Column("skips", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("workspace_id", "project_id", "shard"),
    ForeignKeyConstraint(
        ["workspace_id", "project_id"],
        ["projects.workspace_id", "projects.id"],
        ondelete="CASCADE",
    ),
)

# The queue's epoch per project: bumped (by triggers, storage/queue_store.py) in the
# same transaction as anything that can make a task a candidate again for someone —
# a slot freed, a task reopened, a priority raised, a lease expired, the overlap
# raised — and by every import batch. A person's next-task scan starts from where
# their previous one ended while the epoch is unchanged (services/queue.py).
queue_epochs = Table(
    "queue_epochs",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("workspace_id", "project_id"),
    ForeignKeyConstraint(
        ["workspace_id", "project_id"],
        ["projects.workspace_id", "projects.id"],
        ondelete="CASCADE",
    ),
)

tasks = Table(
    "tasks",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    # Keyed hash (HMAC with the project's index key) of the external id, or of the
    # content when there is none: makes re-imports idempotent without storing
    # the external id in clear.
    Column("dedupe_key", LargeBinary(16), nullable=False),
    Column("payload", LargeBinary, nullable=False),  # sealed {"data", "meta", "external_id"}
    Column("predictions", LargeBinary, nullable=True),  # sealed list
    Column("gold", LargeBinary, nullable=True),  # sealed known answer (gold tasks only)
    Column("is_gold", Boolean, nullable=False, server_default=text("false")),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    Column("annotation_count", Integer, nullable=False, server_default=text("0")),
    Column("lease_count", Integer, nullable=False, server_default=text("0")),
    Column("done", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", BigInteger, nullable=False),
    # Need-to-know (storage/redaction_store.py): an item held by redaction for an
    # owner's review, and a canary (an owner-approved synthetic item rendered per
    # recipient). Both are inserted with done = true, so they never enter
    # ix_tasks_queue; releasing a held item re-derives done.
    Column("held", Boolean, nullable=False, server_default=text("false")),
    Column("is_canary", Boolean, nullable=False, server_default=text("false")),
    # The import call that brought the task (``imp_…``, its report's import_id); NULL for
    # tasks imported before imports were recorded, and for canaries.
    Column("import_id", ID, nullable=True),
    # How far the task's annotators agree, 0..1 (``TaskType.task_agreement``), set when the
    # task reaches its overlap; NULL until then, or when its answers are not compared. A
    # clear float (docs/security.md): the data browser filters and sorts by it.
    Column("agreement", Float, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(
        ["workspace_id", "project_id"],
        ["projects.workspace_id", "projects.id"],
        ondelete="CASCADE",
    ),
    CheckConstraint("annotation_count >= 0 AND lease_count >= 0", name="counts"),
    # The keyed hash covers the project (and is made with the project's own key), so it is
    # unique per workspace; a narrow key keeps this randomly-ordered index small.
    UniqueConstraint("workspace_id", "dedupe_key", name="uq_tasks_dedupe"),
    Index("ix_tasks_project", "workspace_id", "project_id", "id"),
    # The queue's index: only open tasks, in the order they are handed out. Its
    # size is the number of open tasks, and the next-task query reads its head.
    # Gold tasks leave the queue index at import (they are never "open"); the gold
    # mixer reads them through this small index instead.
    Index(
        "ix_tasks_gold",
        "workspace_id",
        "project_id",
        "id",
        sqlite_where=text("is_gold = 1"),
        postgresql_where=text("is_gold"),
    ),
    Index(
        "ix_tasks_held",
        "workspace_id",
        "project_id",
        "id",
        sqlite_where=text("held = 1"),
        postgresql_where=text("held"),
    ),
    # Only tasks with an agreement value (set once a task reaches its overlap): empty at import.
    Index(
        "ix_tasks_agreement",
        "workspace_id",
        "project_id",
        "agreement",
        "id",
        sqlite_where=text("agreement IS NOT NULL"),
        postgresql_where=text("agreement IS NOT NULL"),
    ),
    Index(
        "ix_tasks_queue",
        "workspace_id",
        "project_id",
        text("priority DESC"),
        "id",
        sqlite_where=text("done = 0"),
        postgresql_where=text("NOT done"),
    ),
)

assignments = Table(
    "assignments",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    # leased: holds one of the task's overlap slots until expires_at;
    # submitted: annotated; skipped: the user passed; expired: lease reclaimed.
    Column("state", String(10), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # When it was last leased (a submit may not claim more active time than this lease has lasted);
    # null: written without a lease (imports), read as created_at.
    Column("leased_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "task_id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("state IN ('leased', 'submitted', 'skipped', 'expired')", name="state"),
    UniqueConstraint("workspace_id", "task_id", "user_id", name="uq_assignments_task_user"),
    Index("ix_assignments_user", "workspace_id", "project_id", "user_id", "state"),
    Index(
        "ix_assignments_expiry",
        "workspace_id",
        "project_id",
        "expires_at",
        sqlite_where=text("state = 'leased'"),
        postgresql_where=text("state = 'leased'"),
    ),
)

annotations = Table(
    "annotations",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("result", LargeBinary, nullable=False),  # sealed JSON
    Column("lead_time_ms", BigInteger, nullable=True),
    # Review: none (not sampled) | pending | accepted | rejected | corrected.
    Column("review_status", String(10), nullable=False, server_default="none"),
    # Gold tasks: how right the answer was (0..1), computed at submit.
    Column("gold_score", Float, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # The project's guideline version the annotation was made under (services/guidelines.py); None: none.
    Column("guideline_version", Integer, nullable=True),
    # Pastes into the answer's text fields on the labelling page and the characters they brought
    # (recorded, never blocked; null: none recorded). docs/workforce.md, "Time".
    Column("paste_count", Integer, nullable=True),
    Column("pasted_chars", Integer, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "task_id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "task_id", "user_id", name="uq_annotations_task_user"),
    Index("ix_annotations_project_task", "workspace_id", "project_id", "task_id"),
    Index(
        "ix_annotations_review",
        "workspace_id",
        "project_id",
        "id",
        sqlite_where=text("review_status = 'pending'"),
        postgresql_where=text("review_status = 'pending'"),
    ),
    Index("ix_annotations_user", "workspace_id", "user_id", "id"),
    # The workforce dashboard (storage/dashboard_store.py): the last hours' work read from the index
    # alone, and each person's gold answers and reviewed annotations from indexes of just those.
    Index("ix_annotations_recent", "workspace_id", "created_at", "project_id", "user_id", "gold_score"),
    Index(
        "ix_annotations_gold",
        "workspace_id",
        "user_id",
        "gold_score",
        sqlite_where=text("gold_score IS NOT NULL"),
        postgresql_where=text("gold_score IS NOT NULL"),
    ),
    Index(
        "ix_annotations_reviewed",
        "workspace_id",
        "user_id",
        "review_status",
        sqlite_where=text("review_status != 'none'"),
        postgresql_where=text("review_status <> 'none'"),
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("workspace_id", ID, nullable=False),
    # Position in the workspace's Merkle tree (RFC 6962 leaf index), gapless from 0.
    Column("seq", BigInteger, nullable=False),
    Column("id", ID, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", ID, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(80), nullable=True),
    # The canonical JSON of the whole entry: the Merkle leaf data, exported verbatim.
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("workspace_id", "seq"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    Index("ix_audit_events_target", "workspace_id", "target"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("size", BigInteger, nullable=False, server_default=text("0")),
    Column("frontier", LargeBinary, nullable=False),  # concatenated subtree roots
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# Completed subtree hashes at levels 4, 8, 12, … (perfect subtrees of 16, 256, 4096 …
# leaves), so a proof needs O(log n) small reads instead of hashing the whole log.
audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("workspace_id", "level", "idx"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("note", Text, nullable=False),  # the signed note, verbatim
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "size"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# PostgreSQL: what a transaction appends to a log waits here until the folder (services/_audit_append.py)
# gives it its place in the tree, under the head's lock, in ``ord`` order (the writing process's clock in
# microseconds, strictly increasing within a process; the id breaks ties), and deletes it — so no writer
# locks the head. SQLite's one writer appends directly and leaves this table empty. ``details``: the
# entry's details as JSON (metadata only). No sequence: the app role needs no privilege beyond its rows.
audit_queue = Table(
    "audit_queue",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("ord", BigInteger, nullable=False),
    Column("id", ID, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", ID, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(80), nullable=True),
    Column("details", Text, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    Index("ix_audit_queue_ord", "workspace_id", "ord", "id"),
)

# What remains of a deleted workspace: who deleted it, when, and the final signed
# checkpoint of its audit log (its last entry records the deletion).
workspace_tombstones = Table(
    "workspace_tombstones",
    metadata,
    Column("workspace_id", ID, primary_key=True),
    Column("deleted_at", BigInteger, nullable=False),
    Column("deleted_by", ID, nullable=False),
    Column("final_checkpoint", Text, nullable=False),
)

# Who may read a tombstone once the workspace (and its memberships) are gone: the
# owners and auditors at deletion, and whoever deleted it (services/workspaces.py).
workspace_tombstone_readers = Table(
    "workspace_tombstone_readers",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    PrimaryKeyConstraint("workspace_id", "user_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspace_tombstones.workspace_id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_workspace_tombstone_readers_user_id", "user_id"),
)

# Attempts per subject (sign-ins per account and per address, password changes per
# person), for rate limiting across processes: services/users.py.
login_failures = Table(
    "login_failures",
    metadata,
    # "<kind>:<hex HMAC-SHA256 of the normalised value>" — never what was typed.
    Column("subject", String(400), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("subject"),
)

# SCIM 2.0 provisioning (services/scim.py, web/scim.py). Deployment tables that only platform admins
# and the operator see (storage/rls.py ``DEPLOYMENT_ADMIN``): the identity provider acts for the
# deployment. A SCIM token is not a person's API token: it calls /scim/v2 alone, and no other route.
scim_tokens = Table(
    "scim_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the secret
    Column("created_by", ID, nullable=False),  # usr_… or "system"
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)

# A person as the identity provider knows them. No row: never touched by SCIM (still listed).
# ``unlinked_at``: deleted through SCIM — deactivated, hidden from SCIM (404), the person's row and
# history kept.
scim_users = Table(
    "scim_users",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("external_id", String(200), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Column("unlinked_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_scim_users_external_id", "external_id"),
)

scim_groups = Table(
    "scim_groups",
    metadata,
    Column("id", ID, primary_key=True),
    Column("display_name", String(200), nullable=False),
    # The display name lower-cased: unique, as SCIM compares it case-insensitively.
    Column("name_key", String(200), nullable=False, unique=True),
    Column("external_id", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

scim_group_members = Table(
    "scim_group_members",
    metadata,
    Column("group_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    PrimaryKeyConstraint("group_id", "user_id"),
    ForeignKeyConstraint(["group_id"], ["scim_groups.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_scim_group_members_user_id", "user_id"),
)

# Sealed files (images) that tasks reference by id (``fil_…``). The bytes live on
# disk (or a blob store) under <data_dir>/files/<workspace>/<file id>, sealed with
# the project's data key; this row says what they are. ``digest`` is a keyed hash
# of the plaintext, so storing the same file twice in a project reuses the first.
files = Table(
    "files",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("digest", LargeBinary(16), nullable=False),
    Column("media_type", String(40), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", ID, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(
        ["workspace_id", "project_id"],
        ["projects.workspace_id", "projects.id"],
        ondelete="CASCADE",
    ),
    CheckConstraint("size_bytes >= 0", name="size_bytes"),
    UniqueConstraint("workspace_id", "project_id", "digest", name="uq_files_digest"),
)

# -- quality: reviews, review leases, pauses -------------------------------------

reviews = Table(
    "reviews",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("annotation_id", ID, nullable=False),
    Column("reviewer_id", ID, nullable=False),
    Column("decision", String(10), nullable=False),
    Column("comment", LargeBinary, nullable=True),  # sealed text
    Column("correction", LargeBinary, nullable=True),  # sealed result: a new version; the original stays
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(
        ["workspace_id", "annotation_id"], ["annotations.workspace_id", "annotations.id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("decision IN ('accepted', 'rejected', 'corrected')", name="decision"),
    Index("ix_reviews_annotation", "workspace_id", "annotation_id"),
    Index("ix_reviews_task", "workspace_id", "project_id", "task_id"),  # exports read them by task range
)

review_leases = Table(
    "review_leases",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("annotation_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("reviewer_id", ID, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "annotation_id"),  # one reviewer at a time
    ForeignKeyConstraint(
        ["workspace_id", "annotation_id"], ["annotations.workspace_id", "annotations.id"], ondelete="CASCADE"
    ),
    Index("ix_review_leases_reviewer", "workspace_id", "project_id", "reviewer_id"),
)

annotator_pauses = Table(
    "annotator_pauses",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("paused_at", BigInteger, nullable=False),
    Column("reason", String(300), nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "user_id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

# -- need-to-know: redaction records, held items, canaries --------------------------
# See storage/redaction_store.py. Originals and results are sealed with the
# project's data key. Pseudonyms are numbered per task, so a task's record is its
# only mapping back to the values: there is no project-wide vault.

# One row per redacted (or held) task: its findings with their originals and the
# offset map of every changed field, sealed (owner-only: re-identification).
task_redactions = Table(
    "task_redactions",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),  # the task's id
    Column("project_id", ID, nullable=False),
    Column("record", LargeBinary, nullable=False),  # sealed JSON
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
)

# A canary's template is its task row (is_canary, payload with placeholders).
canaries = Table(
    "canaries",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),  # the canary task's id
    Column("project_id", ID, nullable=False),
    Column("state", String(10), nullable=False),  # draft | approved | retired
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("approved_by", ID, nullable=True),
    Column("approved_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    CheckConstraint("state IN ('draft', 'approved', 'retired')", name="state"),
    Index("ix_canaries_project", "workspace_id", "project_id", "state"),
)

# Who was issued which canary (the fact itself is recomputed from the secret).
canary_issues = Table(
    "canary_issues",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("canary_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("answered_at", BigInteger, nullable=True),
    Column("result", LargeBinary, nullable=True),  # sealed: what the recipient submitted (never an annotation)
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "canary_id"], ["canaries.workspace_id", "canaries.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "canary_id", "user_id", name="uq_canary_issues_recipient"),
    Index("ix_canary_issues_user", "workspace_id", "project_id", "user_id"),
)

# -- the workforce: walls, affiliations, skills ---------------------------------
# Person-level rows (history, affiliations, skills) span workspaces by nature; they
# are read only through the access module and hold no client content.

conflict_declarations = Table(
    "conflict_declarations",
    metadata,
    # One row per holder of a wall: the edge (workspace_a, workspace_b) stands while any
    # holder's row holds (``storage/workforce_store.py`` reads them, ``domain/walls.py`` combines).
    Column("workspace_a", ID, nullable=False),
    Column("workspace_b", ID, nullable=False),  # workspace_a < workspace_b
    Column("holder", String(60), nullable=False),  # the declaring workspace's id, or "group:<group id>"
    Column("cooling_off_ms", BigInteger, nullable=True),  # NULL: the wall never lifts
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", ID, nullable=False),
    # A withdrawal scheduled for this instant (approved, waiting); NULL: holds until withdrawn.
    # Rows whose instant has passed are ignored on read and deleted by the pair's next change.
    Column("lifts_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_a", "workspace_b", "holder"),
    ForeignKeyConstraint(["workspace_a"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_b"], ["workspaces.id"], ondelete="CASCADE"),
    CheckConstraint("workspace_a < workspace_b", name="ordered"),
    Index("ix_conflict_declarations_workspace_b", "workspace_b"),
)

conflict_groups = Table(
    "conflict_groups",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("cooling_off_ms", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

conflict_group_members = Table(
    "conflict_group_members",
    metadata,
    Column("group_id", ID, nullable=False),
    Column("workspace_id", ID, nullable=False),
    PrimaryKeyConstraint("group_id", "workspace_id"),
    ForeignKeyConstraint(["group_id"], ["conflict_groups.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

person_history = Table(
    "person_history",
    metadata,
    Column("user_id", ID, nullable=False),
    # Not a foreign key: history outlives a deleted workspace (the wall it made stays).
    Column("workspace_id", ID, nullable=False),
    Column("first_at", BigInteger, nullable=False),
    Column("last_at", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),  # access | declared | prior
    Column("approved_by", String(200), nullable=True),
    PrimaryKeyConstraint("user_id", "workspace_id"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("source IN ('access', 'declared', 'prior')", name="source"),
    Index("ix_person_history_workspace", "workspace_id"),
)

affiliations = Table(
    "affiliations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("org", String(200), nullable=False),
    Column("org_key", String(200), nullable=False),  # normalised for matching
    Column("kind", String(32), nullable=False),
    Column("since", BigInteger, nullable=True),
    Column("until", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_affiliations_user", "user_id"),
    Index("ix_affiliations_org", "org_key"),
)

workspace_exclusions = Table(
    "workspace_exclusions",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("org_key", String(200), nullable=False),
    Column("kind", String(32), nullable=False, server_default=""),  # "": any kind of tie
    Column("org", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "org_key", "kind"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

skills = Table(
    "skills",
    metadata,
    Column("user_id", ID, nullable=False),
    Column("skill", String(100), nullable=False),
    Column("level", Integer, nullable=False),
    Column("source", String(120), nullable=False),  # "granted" or "qualification:<project id>"
    Column("granted_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "skill"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("level >= 0 AND level <= 10", name="level"),
)

# People's credentials: NDAs, clearances, certificates (services/credentials.py). A person's, like
# skills; ``workspace_id`` is the scope: one client workspace, or NULL for every workspace (platform
# admins record those). Routing reads a person's rows by ``user_id`` (ix_credentials_user); the
# reminder sweep reads by expiry (ix_credentials_expiry). No client content: kinds, names, dates.
credentials = Table(
    "credentials",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("workspace_id", ID, nullable=True),  # NULL: every workspace
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("issuer", String(200), nullable=False),
    Column("issued_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),  # NULL: does not expire
    Column("revoked_at", BigInteger, nullable=True),
    Column("document", String(500), nullable=True),  # a reference (an id or a link), never the document
    # The smallest reminder threshold (days before expiry) already announced; 0: the expiry itself.
    Column("reminded_days", Integer, nullable=True),
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
    Index("ix_credentials_user", "user_id", "kind"),
    Index("ix_credentials_expiry", "expires_at"),
    Index("ix_credentials_workspace", "workspace_id"),
)

qualification_results = Table(
    "qualification_results",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("correct", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("taken_at", BigInteger, nullable=False),
    Column("retake_after", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_id", "project_id", "user_id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

# One row per export: made when it starts (status "streaming"), and when its last byte
# has left either "complete" with its signed manifest (sealed JSON, project key) or
# "incomplete" with the bytes handed out (no manifest is ever signed for part of a file).
exports = Table(
    "exports",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("format", String(16), nullable=False),
    Column("created_by", ID, nullable=False),  # usr_… or "system"
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("bytes_sent", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("manifest", LargeBinary, nullable=True),  # sealed JSON
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    CheckConstraint("status IN ('streaming', 'complete', 'incomplete')", name="status"),
    Index("ix_exports_id", "id", unique=True),
)

import_keys = Table(
    "import_keys",
    metadata,
    # An import's Idempotency-Key: the same key from the same person on the same project
    # answers the first import's report again (services/import_keys.py). The key and the
    # body are kept as keyed hashes only, the report sealed (its errors may quote content).
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("key_hash", LargeBinary, nullable=False),
    Column("import_id", ID, nullable=False),
    Column("body_hash", LargeBinary, nullable=False),
    Column("report", LargeBinary, nullable=False),  # sealed JSON
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "user_id", "key_hash"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

# -- the search index: a keyed blind index over sealed tasks (domain/search.py) ---------
# No plaintext: tokens are keyed hashes (the key derived from the project's data key), and
# what is stored is which tasks hold which hash. docs/security.md says what that reveals.

# One block per import batch (or per task change): its task ids (16 bytes each, ascending),
# which the postings name by ordinal, and which of them changed or went away (``dead``).
search_blocks = Table(
    "search_blocks",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("id", ID, nullable=False),  # blk_…
    Column("import_id", ID, nullable=True),  # the import that made it; NULL: a change or a reindex
    Column("first_id", ID, nullable=False),
    Column("last_id", ID, nullable=False),
    Column("size", Integer, nullable=False),
    Column("task_ids", LargeBinary, nullable=False),
    Column("dead", LargeBinary, nullable=True),  # one bit per ordinal; NULL: none dead
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
)

# A block's postings, in at most 256 rows: those of the tokens whose hash starts with ``bucket``.
search_postings = Table(
    "search_postings",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("bucket", SmallInteger, nullable=False),
    Column("block_id", ID, nullable=False),
    Column("postings", LargeBinary, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "bucket", "block_id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
)

# Labels of a task's answers (``label:value`` tokens, hashed like the others): one row per
# (label, task), kept in step as annotations and reviews come one by one.
search_labels = Table(
    "search_labels",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("token", LargeBinary, nullable=False),
    Column("task_id", ID, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "token", "task_id"),
    ForeignKeyConstraint(["workspace_id", "task_id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    Index("ix_search_labels_task", "workspace_id", "task_id"),
)

# The data keys a project's index was hashed under besides its current one (a query hashes
# its terms under each); emptied when the project is reindexed.
search_keys = Table(
    "search_keys",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("key_id", ID, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "key_id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
)

# Projects whose tasks are not all in the index (imported before it existed): search there
# finds only what was imported since, until ``bastion task reindex --project`` runs.
search_reindex = Table(
    "search_reindex",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("since", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
)

# -- two-person approval, alerts ------------------------------------------------

approvals = Table(
    "approvals",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("kind", String(40), nullable=False),  # services/approvals.py KINDS
    # Canonical JSON of the operation's ids and settings (metadata, never client content).
    Column("params", Text, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("authority", String(8), nullable=False),  # owners | admins: who may request and decide
    Column("state", String(12), nullable=False),
    Column("requested_by", ID, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # to decide, then (once approved) to use
    Column("decided_by", ID, nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("decision_note", String(500), nullable=True),
    Column("used_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("state IN ('pending', 'approved', 'refused', 'used', 'expired')", name="state"),
    CheckConstraint("authority IN ('owners', 'admins')", name="authority"),
    Index("ix_approvals_state", "workspace_id", "state"),
)

alerts = Table(
    "alerts",
    metadata,
    # A person's inbox (break-glass uses, requests awaiting them, decisions on theirs). Person-level
    # like person_history: read only as its owner, metadata only.
    Column("user_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    # Not a foreign key: an alert about a workspace outlives its deletion (break-glass deletions).
    Column("workspace_id", ID, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("message", String(600), nullable=False),
    Column("subject", ID, nullable=True),  # the approval it is about, if any
    Column("created_at", BigInteger, nullable=False),
    Column("read_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("user_id", "id"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

external_annotators = Table(
    "external_annotators",
    metadata,
    # People whose past annotations were imported but who never sign in here (a vendor's
    # annotator, ``ext:vendor-a/17``): each handle is an identity of one workspace — the same
    # handle in two workspaces is two people — backed by a ``users`` row that has no password,
    # is inactive and can hold no token (services/attributed.py).
    Column("workspace_id", ID, nullable=False),
    Column("handle", String(200), nullable=False),
    Column("user_id", ID, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "handle"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "user_id", name="uq_external_annotators_user"),
)

# -- the annotator's own work: prior versions of answers, questions to managers ----------

annotation_versions = Table(
    "annotation_versions",
    metadata,
    # A person's earlier results for one task, sealed: what an edit replaced or an undo took back
    # (services/own_annotations.py). The annotation row always holds the latest (exports read it); these
    # are its history. Versions number a person's annotations of a task 1, 2, … across undos (an
    # undone annotation is deleted and a later one is a new annotation): unique per task and person.
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),  # its own (the sealed result is bound to it)
    Column("project_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("annotation_id", ID, nullable=False),  # the annotation it was (gone, once undone)
    Column("result", LargeBinary, nullable=False),  # sealed JSON, as it was stored
    Column("lead_time_ms", BigInteger, nullable=True),
    Column("review_status", String(10), nullable=False),  # when it was replaced: none | pending
    Column("created_at", BigInteger, nullable=False),  # when this version was made
    Column("replaced_at", BigInteger, nullable=False),
    Column("change", String(8), nullable=False),  # what ended it: edited | undone
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "task_id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    CheckConstraint("change IN ('edited', 'undone')", name="change"),
    UniqueConstraint("workspace_id", "task_id", "user_id", "version", name="uq_annotation_versions_version"),
)

questions = Table(
    "questions",
    metadata,
    # A question a person asks the project's managers about one task, and its answer (both sealed:
    # they quote the task). ``state``: open | answered (services/questions.py keeps the list of
    # states; a later use — an FAQ — may add its own).
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("asker_id", ID, nullable=False),
    Column("text", LargeBinary, nullable=False),  # sealed
    Column("state", String(12), nullable=False),
    Column("answer", LargeBinary, nullable=True),  # sealed
    Column("answerer_id", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("answered_at", BigInteger, nullable=True),
    Column("seen_at", BigInteger, nullable=True),  # when the asker read the answer
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "task_id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["asker_id"], ["users.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["answerer_id"], ["users.id"], ondelete="SET NULL"),
    Index("ix_questions_project", "workspace_id", "project_id", "state", "id"),
    Index("ix_questions_asker", "workspace_id", "project_id", "asker_id", "id"),
    Index("ix_questions_task", "workspace_id", "task_id"),
)

# -- guidelines: a project's versioned Markdown document, and who acknowledged which version ------
# services/guidelines.py. ``body`` is sealed with the project's key under the version's id (client
# content: it may quote tasks); versions count 1, 2, … per project. ``requires_ack``: people must
# acknowledge this version before their next task (false for a typo fix).
guidelines = Table(
    "guidelines",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),  # sealed Markdown
    Column("requires_ack", Boolean, nullable=False),
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
    UniqueConstraint("workspace_id", "project_id", "version", name="uq_guidelines_version"),
    CheckConstraint("version >= 1", name="version"),
)

# The newest version of a project's guidelines each person acknowledged (one row per person and
# project: the queue's gate reads it by primary key; the audit log keeps every acknowledgement).
guideline_acks = Table(
    "guideline_acks",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("project_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("acknowledged_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "project_id", "user_id"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

# -- model endpoints: the workspace's OpenAI-compatible chat-completions servers -----------
# One endpoint: where (base_url), which model by default, and the egress allow-list its calls
# go through (domain/egress.py; a JSON list of exact host[:port] entries). The API key is
# sealed with the workspace's own data key (storage/workspace_secret.py) under the endpoint's
# id, and never leaves the server. Names are unique within a workspace.
model_endpoints = Table(
    "model_endpoints",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("name", String(100), nullable=False),
    Column("base_url", String(2000), nullable=False),
    Column("default_model", String(200), nullable=False),
    Column("allowed_hosts", Text, nullable=False),  # JSON list
    Column("api_key", LargeBinary, nullable=True),  # sealed; None: the server needs none
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
    UniqueConstraint("workspace_id", "name", name="uq_model_endpoints_name"),
)

# -- the jobs runner: long work, durable, leased, resumable (services/job_runner.py) ------
# One row per job. ``params`` and ``checkpoint`` are JSON of ids, counts and settings only,
# never task content; ``last_error`` is a message without content. A job is claimed by a
# runner for a lease (``lease_owner`` until ``lease_expires_at``), renewed while it runs; an
# expired lease is any runner's to reclaim. ``dedupe_key``: at most one queued or running job
# per key and workspace (a finished one does not block the next).

jobs = Table(
    "jobs",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("params", Text, nullable=False),  # JSON: ids and settings
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", BigInteger, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    Column("progress_done", BigInteger, nullable=False, server_default=text("0")),
    Column("progress_total", BigInteger, nullable=True),
    Column("checkpoint", Text, nullable=True),  # JSON: where the next chunk starts
    Column("last_error", Text, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    Column("dedupe_key", String(200), nullable=True),
    Column("created_by", ID, nullable=False),  # usr_… or "system"
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    CheckConstraint("state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="state"),
    CheckConstraint("max_attempts >= 1 AND attempts >= 0", name="attempts"),
    Index("ix_jobs_id", "id", unique=True),
    # What a runner claims: queued jobs that are due, running ones whose lease expired.
    Index("ix_jobs_due", "state", "run_after"),
    Index(
        "uq_jobs_dedupe",
        "workspace_id",
        "dedupe_key",
        unique=True,
        sqlite_where=text("dedupe_key IS NOT NULL AND state IN ('queued', 'running')"),
        postgresql_where=text("dedupe_key IS NOT NULL AND state IN ('queued', 'running')"),
    ),
)

# A person's chat in progress on a task they hold (tasktypes/chat, services/chat.py): the transcript so
# far, sealed with the project's key; replaced at every turn, gone with the task or the person.
chat_drafts = Table(
    "chat_drafts",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    # The draft's record id ("<task>/<person>", sealed into its body) and its project: re-encryption
    # re-seals a project's drafts as it does its tasks (keys_store.SEALED_COLUMNS).
    Column("id", String(100), nullable=False),
    Column("project_id", ID, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "task_id", "user_id"),
    Index("ix_chat_drafts_project", "workspace_id", "project_id", "id"),
    ForeignKeyConstraint(["workspace_id", "task_id"], ["tasks.workspace_id", "tasks.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

# -- the event feed and webhooks (services/events.py, services/webhooks.py) -------------------------
# ``events``: append-only, one row per change announced, in the transaction of the change; ``seq``
# counts per workspace from 1 (the feed's cursor), ``id`` (evt_…) is the webhook-id receivers dedupe
# by. ``data`` is JSON of ids and counts, never task content.
events = Table(
    "events",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("id", ID, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject", ID, nullable=True),
    Column("data", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "seq"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "id", name="uq_events_id"),
)

# PostgreSQL: the feed's events waiting for their number (``audit_queue``'s twin, numbered in the same
# fold under the audit head's lock, which keeps the numbers in commit order); SQLite numbers them directly.
event_queue = Table(
    "event_queue",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("ord", BigInteger, nullable=False),
    Column("id", ID, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject", ID, nullable=True),
    Column("data", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    Index("ix_event_queue_ord", "workspace_id", "ord", "id"),
)

# A workspace's webhook endpoints: where to POST which kinds, through which egress allow-list, the
# signing secret sealed with the workspace's data key under the endpoint's id.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("kinds", Text, nullable=False),  # JSON list of event kinds
    Column("allowed_hosts", Text, nullable=False),  # JSON list
    Column("secret", LargeBinary, nullable=False),  # sealed whsec_…
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
)

# One delivery per (endpoint, event): made with the event, delivered by a ``webhook.deliver`` job.
# ``state``: pending (attempts left), delivered (a 2xx), dead (the dead-letter list: out of attempts).
# ``round_attempts`` counts the attempts since the delivery was made or last replayed.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("endpoint_id", ID, nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("round_attempts", Integer, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("job_id", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(
        ["workspace_id", "endpoint_id"], ["webhook_endpoints.workspace_id", "webhook_endpoints.id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["workspace_id", "event_seq"], ["events.workspace_id", "events.seq"], ondelete="CASCADE"),
    CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="state"),
    UniqueConstraint("workspace_id", "endpoint_id", "event_seq", name="uq_webhook_deliveries_event"),
    Index("ix_webhook_deliveries_id", "id", unique=True),
)

# Every delivery attempt: when, the HTTP status (None: no answer), the error's code, how long it took.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("delivery_id", ID, nullable=False),
    Column("n", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    PrimaryKeyConstraint("workspace_id", "delivery_id", "n"),
    ForeignKeyConstraint(
        ["workspace_id", "delivery_id"],
        ["webhook_deliveries.workspace_id", "webhook_deliveries.id"],
        ondelete="CASCADE",
    ),
)

# -- pay (services/pay.py, docs/workforce.md#pay) -----------------------------------------------------
# Money is integer minor units in the workspace's currency. ``pay_settings``: the currency and the
# gold bonus. ``pay_rates``: append-only (history kept); a change is a new row from an instant on.
pay_settings = Table(
    "pay_settings",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("bonus_threshold", Float, nullable=True),  # gold accuracy 0..1; null: no bonus
    Column("bonus_min_gold", Integer, nullable=False, server_default=text("1")),
    Column("bonus_amount", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_by", ID, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

pay_rates = Table(
    "pay_rates",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("project_id", ID, nullable=True),  # null: the workspace's default for the task type
    Column("task_type", String(64), nullable=False),
    Column("per_task", BigInteger, nullable=True),
    Column("per_hour", BigInteger, nullable=True),
    Column("effective_from", BigInteger, nullable=False),
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "project_id"], ["projects.workspace_id", "projects.id"], ondelete="CASCADE"),
    CheckConstraint("per_task IS NOT NULL OR per_hour IS NOT NULL", name="amount"),
    CheckConstraint("(per_task IS NULL OR per_task >= 0) AND (per_hour IS NULL OR per_hour >= 0)", name="sign"),
    Index("ix_pay_rates_task_type", "workspace_id", "task_type", "effective_from"),
)

# A statement: one person, one period [period_start, period_end). Draft: computed on view (no lines
# stored); approved: lines frozen; locked: final. ``user_id`` has no foreign key: a pay record
# outlives the account it paid.
pay_statements = Table(
    "pay_statements",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=True),  # set when frozen
    Column("created_by", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("approved_by", ID, nullable=True),
    Column("approved_at", BigInteger, nullable=True),
    Column("locked_by", ID, nullable=True),
    Column("locked_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    CheckConstraint("status IN ('draft', 'approved', 'locked')", name="status"),
    CheckConstraint("period_end > period_start", name="period"),
    Index("ix_pay_statements_user", "workspace_id", "user_id", "period_start"),
)

# A frozen statement's lines (a draft's are computed, never stored).
pay_lines = Table(
    "pay_lines",
    metadata,
    Column("workspace_id", ID, nullable=False),
    Column("statement_id", ID, nullable=False),
    Column("n", Integer, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("annotation_id", ID, nullable=True),
    Column("project_id", ID, nullable=True),
    Column("review_id", ID, nullable=True),
    Column("annotated_at", BigInteger, nullable=True),
    Column("active_ms", BigInteger, nullable=True),
    Column("task_amount", BigInteger, nullable=False),
    Column("hour_amount", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("note", String(200), nullable=False),
    PrimaryKeyConstraint("workspace_id", "statement_id", "n"),
    ForeignKeyConstraint(
        ["workspace_id", "statement_id"], ["pay_statements.workspace_id", "pay_statements.id"], ondelete="CASCADE"
    ),
    CheckConstraint("kind IN ('annotation', 'rejected', 'adjustment', 'bonus')", name="kind"),
    Index("ix_pay_lines_annotation", "workspace_id", "annotation_id"),
)

WORKSPACE_TABLES = (
    "memberships",
    "projects",
    "project_counters",
    "queue_epochs",
    "tasks",
    "assignments",
    "annotations",
    "audit_events",
    "audit_heads",
    "audit_nodes",
    "audit_checkpoints",
    "audit_queue",
    "files",
    "workspace_exclusions",
    "qualification_results",
    "reviews",
    "review_leases",
    "annotator_pauses",
    "task_redactions",
    "canaries",
    "canary_issues",
    "exports",
    "approvals",
    "import_keys",
    "external_annotators",
    "annotation_versions",
    "questions",
    "search_blocks",
    "search_postings",
    "search_labels",
    "search_keys",
    "search_reindex",
    "model_endpoints",
    "jobs",
    "chat_drafts",
    "events",
    "event_queue",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "guidelines",
    "guideline_acks",
    "pay_settings",
    "pay_rates",
    "pay_statements",
    "pay_lines",
)
