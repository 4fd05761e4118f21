"""The deployment's authentication generation: one row, moved by triggers.

Every request resolves a bearer token or a session cookie and loads the person's
memberships. ``services/auth_cache.py`` keeps both in memory, per server process,
for as long as the generation read in the request's own transaction is the one
they were cached at. So the generation must move in the same transaction as every
write that changes what a credential resolves to. Triggers make that complete by
construction — a new store function, the SCIM provisioning, a workspace deletion's
cascade or a hand-written UPDATE all move it, with no call to forget:

* ``api_tokens``: deleted, or its owner, digest, scope or revocation changed;
* ``web_sessions``: deleted (sign-out, deactivation, password change, expiry
  housekeeping), or its owner, id, CSRF token or start changed;
* ``users``: deleted, or active, admin, e-mail, password or ``sessions_valid_after`` changed;
* ``memberships``: any insert, delete or change (roles are cached too).

Not ``api_tokens.last_used_at`` nor ``web_sessions.expires_at``: those are written once a
minute per credential by the resolution itself, and the cache keeps its own copies of them.
Insertions of tokens and sessions need no bump either: a credential is only cached after it
was found.

The new value is random, not an increment: a database restored from an older backup, or a
transaction rolled back, can then never bring back a value some process cached at.
``tests/storage/test_auth_generation.py`` checks that every column the resolving queries read
is covered, on both databases.

On PostgreSQL the triggers run *before* the row is written, so a transaction takes the
generation row's lock before any credential row's: two transactions changing credentials
lock in one order and cannot deadlock on each other.
"""

from __future__ import annotations

from .database import Tx
from .fast import Statement

GENERATION = Statement("SELECT generation FROM auth_generation WHERE id = 1")

# table -> (columns whose update moves the generation, or None: every update; whether inserts do)
WATCHED: dict[str, tuple[tuple[str, ...] | None, bool]] = {
    "api_tokens": (("id", "user_id", "token_hash", "scope", "revoked_at"), False),
    "web_sessions": (("id", "user_id", "csrf_token", "created_at"), False),
    "users": (("id", "email", "password_hash", "is_admin", "is_active", "sessions_valid_after"), False),
    "memberships": (None, True),
}

_SQLITE_NEW = "abs(random())"
_PG_NEW = "floor(random() * 9007199254740991)::bigint"


def generation(tx: Tx) -> int:
    """The current generation (one indexed read of one row)."""
    value = GENERATION.scalar(tx)
    return int(value) if value is not None else 0


def _events(table: str) -> list[tuple[str, str]]:
    """(trigger name suffix, event clause) for a watched table."""
    columns, inserts = WATCHED[table]
    events = [("d", "DELETE"), ("u", "UPDATE" if columns is None else f"UPDATE OF {', '.join(columns)}")]
    if inserts:
        events.append(("i", "INSERT"))
    return events


def trigger_sql(dialect: str) -> list[str]:
    """Statements creating the generation's row and triggers (the migration ``add_auth_generation``)."""
    statements = ["INSERT INTO auth_generation (id, generation) VALUES (1, 0)"]
    if dialect == "sqlite":
        bump = f"UPDATE auth_generation SET generation = {_SQLITE_NEW} WHERE id = 1"
        for table in WATCHED:
            for suffix, event in _events(table):
                statements.append(
                    f"CREATE TRIGGER auth_generation_{table}_{suffix} AFTER {event} ON {table} "
                    f"FOR EACH ROW BEGIN {bump}; END"
                )
        return statements
    statements.append(
        "CREATE OR REPLACE FUNCTION bastion_auth_generation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE auth_generation SET generation = {_PG_NEW} WHERE id = 1; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
    )
    for table in WATCHED:
        for suffix, event in _events(table):
            statements.append(
                f"CREATE TRIGGER auth_generation_{table}_{suffix} BEFORE {event} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION bastion_auth_generation()"
            )
    return statements


def drop_trigger_sql(dialect: str) -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS auth_generation_{table}_{suffix}" + ("" if dialect == "sqlite" else f" ON {table}")
        for table in WATCHED
        for suffix, _event in _events(table)
    ]
    if dialect != "sqlite":
        statements.append("DROP FUNCTION IF EXISTS bastion_auth_generation()")
    return statements


def trigger_names() -> list[str]:
    """Every trigger ``trigger_sql`` makes (a test checks they all exist at the head)."""
    return [f"auth_generation_{table}_{suffix}" for table in WATCHED for suffix, _event in _events(table)]
