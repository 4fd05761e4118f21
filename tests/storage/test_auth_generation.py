"""The auth generation moves with every write that changes what a credential resolves to.

The credential cache (services/auth_cache.py) is only as good as this: each column the
resolving queries read must be watched by a trigger, on both databases, and each trigger
must exist at the head of the migrations (a later SQLite migration that rebuilds a table
drops its triggers; this fails then).
"""

from __future__ import annotations

import inspect
import re

import pytest
from sqlalchemy import text

from bastion.services import workspaces
from bastion.storage import auth_store, memberships_store, users_store
from factories import make_token, make_user, operator_tx, system

# Columns a resolution reads that the cache keeps its own copy of (and checks itself).
OWN_COPIES = {("api_tokens", "last_used_at"), ("web_sessions", "expires_at")}
ALIASES = {"t": "api_tokens", "u": "users", "s": "web_sessions"}


def _generation(rt) -> int:
    with operator_tx(rt, write=False) as tx:
        return auth_store.generation(tx)


def _read_columns() -> set[tuple[str, str]]:
    """(table, column) pairs the token, session and roles resolutions read, from their own text."""
    found = {(ALIASES[a], c) for a, c in re.findall(r"\b([tu])\.(\w+)", users_store.TOKEN.sqlite)}
    source = inspect.getsource(users_store.find_session_actor)
    found |= {(ALIASES[a], c) for a, c in re.findall(r"\b([su])\.c\.(\w+)", source)}
    roles = memberships_store.ROLES.sqlite
    found |= {("memberships", c.strip()) for c in roles.split("SELECT", 1)[1].split("FROM", 1)[0].split(",")}
    return found


def test_every_column_the_resolutions_read_is_watched():
    read = _read_columns()
    assert ("api_tokens", "revoked_at") in read and ("users", "is_active") in read  # the parsing works
    assert ("web_sessions", "csrf_token") in read and ("memberships", "role") in read
    for table, column in read - OWN_COPIES:
        columns, _inserts = auth_store.WATCHED[table]
        assert columns is None or column in columns, f"{table}.{column} is read to resolve a credential but unwatched"


def test_every_trigger_exists_at_the_head(rt):
    with operator_tx(rt, write=False) as tx:
        if rt.db.is_sqlite:
            names = set(tx.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        else:
            names = set(tx.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
    assert set(auth_store.trigger_names()) <= names


def _people(rt):
    owner = make_user(rt, "owner@example.com")
    person = make_user(rt, "person@example.com")
    ws = workspaces.create_workspace(system(rt), "W", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, person.id, "annotator")
    make_token(rt, person.id)
    from bastion.services import users

    users.create_session(rt, person)
    return ws.id, person.id


def _same_value(table: str, column: str, where: str) -> str:
    return f"UPDATE {table} SET {column} = {column} WHERE {where}"


def test_each_watched_write_moves_it_and_the_marks_do_not(rt):
    ws, person = _people(rt)
    where = {
        "api_tokens": f"user_id = '{person}'",
        "web_sessions": f"user_id = '{person}'",
        "users": f"id = '{person}'",
        "memberships": f"user_id = '{person}' AND workspace_id = '{ws}'",
    }
    for table, (columns, _inserts) in auth_store.WATCHED.items():
        for column in columns or ("role", "created_at"):
            before = _generation(rt)
            with operator_tx(rt) as tx:
                assert tx.execute(text(_same_value(table, column, where[table]))).rowcount == 1
            assert _generation(rt) != before, f"updating {table}.{column} left the generation"
    for table, column in sorted(OWN_COPIES):
        before = _generation(rt)
        with operator_tx(rt) as tx:
            tx.execute(text(_same_value(table, column, where[table])))
        assert _generation(rt) == before, f"{table}.{column} is written once a minute: it must not move it"
    # Deletions, a membership's insertion, and a workspace deletion's cascade.
    for table in ("api_tokens", "web_sessions", "memberships"):
        before = _generation(rt)
        with operator_tx(rt) as tx:
            tx.execute(text(f"DELETE FROM {table} WHERE {where[table]}"))
        assert _generation(rt) != before, f"deleting from {table} left the generation"
    before = _generation(rt)
    with operator_tx(rt) as tx:
        memberships_store.insert_membership(tx, ws, person, "reviewer", 1)
    assert _generation(rt) != before
    before = _generation(rt)
    with operator_tx(rt) as tx:
        tx.execute(text(f"DELETE FROM workspaces WHERE id = '{ws}'"))
        assert tx.execute(text(f"SELECT count(*) FROM memberships WHERE workspace_id = '{ws}'")).scalar() == 0
    assert _generation(rt) != before, "the cascade from a deleted workspace left the generation"


def test_a_rolled_back_change_leaves_no_generation_behind(rt):
    _ws, person = _people(rt)
    before = _generation(rt)
    with pytest.raises(RuntimeError), operator_tx(rt) as tx:
        tx.execute(text(f"UPDATE api_tokens SET revoked_at = 1 WHERE user_id = '{person}'"))
        raise RuntimeError("roll back")
    assert _generation(rt) == before
