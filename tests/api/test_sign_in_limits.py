"""Attacks on the sign-in and password-change limits, and what failed sign-ins leave in the database.

The limits are checked with real concurrency (threads against the service, which the
login page and ``POST /api/v1/me/password`` call): however many guesses arrive at once,
at most ``MAX_FAILURES`` of them are ever checked against the password per window.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from sqlalchemy import select, text

from bastion.domain.errors import PermissionDenied, RateLimited, Unauthenticated
from bastion.services import users, workspaces
from bastion.storage import schema
from factories import as_user, fold_audit, make_side, make_user, operator_tx, system

PASSWORD = "a good long password"
PARALLEL = 24


def _actions(rt, ws):
    fold_audit(rt)  # queued entries (PostgreSQL) into the log first
    with operator_tx(rt, write=False) as tx:
        leaves = (
            tx.execute(
                select(schema.audit_events.c.leaf)
                .where(schema.audit_events.c.workspace_id == ws)
                .order_by(schema.audit_events.c.seq)
            )
            .scalars()
            .all()
        )
    return [orjson.loads(x)["action"] for x in leaves]


def _count_verifications(monkeypatch) -> list[int]:
    """Every password check (argon2 verification) the service makes, counted."""
    calls = []
    real = users._verify

    def counted(stored, password):
        calls.append(1)
        return real(stored, password)

    monkeypatch.setattr(users, "_verify", counted)
    return calls


def _all_at_once(fn, n: int) -> list[BaseException | None]:
    """Run ``fn`` in ``n`` threads released together; each one's exception (or None)."""
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        try:
            fn()
        except Exception as exc:  # collected and asserted on by the caller
            return exc
        return None

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_parallel_wrong_passwords_are_checked_at_most_the_limit(rt, monkeypatch):
    side = make_side(rt, "race", n_tasks=0)
    user = make_user(rt, "racer@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
    checked = _count_verifications(monkeypatch)

    outcomes = _all_at_once(lambda: users.sign_in(rt, "racer@example.com", "wrong password!", "10.0.0.9"), PARALLEL)

    limit = users.MAX_FAILURES["email"]
    assert len(checked) == limit, f"{len(checked)} guesses were checked against the password"
    assert sum(isinstance(x, Unauthenticated) for x in outcomes) == limit
    assert sum(isinstance(x, RateLimited) for x in outcomes) == PARALLEL - limit
    # The right password waits for the window too, and is not even checked.
    with pytest.raises(RateLimited):
        users.sign_in(rt, "racer@example.com", PASSWORD, "10.0.0.10")
    assert len(checked) == limit
    actions = _actions(rt, side.workspace_id)
    assert actions.count("auth.login_failed") == limit
    assert actions.count("auth.login_locked") == 1  # one record per lockout, not one per refused guess


def test_parallel_guesses_at_an_unknown_account_are_limited_the_same(rt, monkeypatch):
    checked = _count_verifications(monkeypatch)
    outcomes = _all_at_once(lambda: users.sign_in(rt, "nobody@example.com", "wrong password!"), PARALLEL)
    assert len(checked) == users.MAX_FAILURES["email"]
    assert sum(isinstance(x, RateLimited) for x in outcomes) == PARALLEL - users.MAX_FAILURES["email"]


def test_a_successful_sign_in_clears_the_account_counter(rt):
    make_user(rt, "forgetful@example.com", password=PASSWORD)
    for _ in range(users.MAX_FAILURES["email"] - 1):
        with pytest.raises(Unauthenticated):
            users.sign_in(rt, "forgetful@example.com", "wrong password!")
    assert users.sign_in(rt, "forgetful@example.com", PASSWORD).email == "forgetful@example.com"
    for _ in range(users.MAX_FAILURES["email"]):  # a fresh allowance after the success
        with pytest.raises(Unauthenticated):
            users.sign_in(rt, "forgetful@example.com", "wrong password!")
    with pytest.raises(RateLimited):
        users.sign_in(rt, "forgetful@example.com", PASSWORD)


def test_successful_sign_ins_do_not_use_up_their_address(rt, monkeypatch):
    """Many people behind one address (an office) sign in: only failures count against it."""
    monkeypatch.setitem(users.MAX_FAILURES, "address", 3)
    people = [make_user(rt, f"office{i}@example.com", password=PASSWORD) for i in range(5)]
    for person in people:
        assert users.sign_in(rt, person.email, PASSWORD, "192.0.2.1").id == person.id
    for i in range(3):
        with pytest.raises(Unauthenticated):
            users.sign_in(rt, f"office{i}@example.com", "wrong password!", "192.0.2.1")
    with pytest.raises(RateLimited):  # the address's failures are used up, even for a right password
        users.sign_in(rt, "office4@example.com", PASSWORD, "192.0.2.1")
    assert users.sign_in(rt, "office4@example.com", PASSWORD, "192.0.2.2").id == people[4].id


def test_password_change_with_a_stolen_session_is_limited(client, rt, monkeypatch):
    """An attacker holding someone's token guesses their current password through the API."""
    side = make_side(rt, "pw", n_tasks=0)
    victim = make_user(rt, "victim.pw@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, victim.id, "annotator")
    token = users.create_token(system(rt), victim.id)[0]
    headers = {"Authorization": f"Bearer {token}"}
    checked = _count_verifications(monkeypatch)
    limit = users.MAX_FAILURES["password"]

    statuses = []
    for i in range(limit + 3):
        r = client.post(
            "/api/v1/me/password",
            headers=headers,
            json={"current_password": f"guess number {i}", "new_password": "attacker's password"},
        )
        statuses.append(r.status_code)
    assert statuses == [403] * limit + [429] * 3
    r = client.post(
        "/api/v1/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "attacker's password"},
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert len(checked) == limit
    assert users.authenticate(rt, victim.email, PASSWORD).id == victim.id  # unchanged
    actions = _actions(rt, side.workspace_id)
    assert actions.count("auth.password_change_failed") == limit
    assert actions.count("auth.password_change_locked") == 1


def test_parallel_password_guesses_are_checked_at_most_the_limit(rt, monkeypatch):
    victim = make_user(rt, "victim.par@example.com", password=PASSWORD)
    ctx = as_user(rt, victim.id)
    checked = _count_verifications(monkeypatch)

    outcomes = _all_at_once(
        lambda: users.set_password(ctx, victim.id, "attacker's password", old_password="a wrong guess"), PARALLEL
    )

    limit = users.MAX_FAILURES["password"]
    assert len(checked) == limit
    assert sum(type(x) is PermissionDenied for x in outcomes) == limit
    assert sum(isinstance(x, RateLimited) for x in outcomes) == PARALLEL - limit


def test_a_right_password_change_clears_the_counter(rt):
    person = make_user(rt, "changer@example.com", password=PASSWORD)
    ctx = as_user(rt, person.id)
    for _ in range(users.MAX_FAILURES["password"] - 1):
        with pytest.raises(PermissionDenied):
            users.set_password(ctx, person.id, "a new long password", old_password="not it at all")
    users.set_password(ctx, person.id, "a new long password", old_password=PASSWORD)
    for _ in range(users.MAX_FAILURES["password"]):
        with pytest.raises(PermissionDenied):
            users.set_password(ctx, person.id, "a third long password", old_password="not it at all")
    # An admin resetting it is not a guess, and is never limited.
    users.set_password(system(rt), person.id, "reset by the operator")
    assert users.authenticate(rt, person.email, "reset by the operator").id == person.id


def _database_text(rt) -> str:
    """Everything the data database holds, as text: its files on SQLite, every table's rows on PostgreSQL."""
    if rt.db.is_sqlite:
        path = rt.db.engine.url.database
        blobs = []
        for suffix in ("", "-wal"):
            try:
                with open(path + suffix, "rb") as fh:
                    blobs.append(fh.read())
            except FileNotFoundError:
                pass
        return b"".join(blobs).decode("latin-1")
    with operator_tx(rt, write=False) as conn:  # every workspace's rows (row-level security)
        tables = (
            conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars().all()
        )
        return "\n".join(
            row for table in tables for row in conn.execute(text(f'SELECT t::text FROM "{table}" t')).scalars().all()
        )


def test_failed_sign_ins_leave_no_typed_secret_in_the_database(client, rt):
    make_user(rt, "typist@example.com", password=PASSWORD)
    typed = ["Password-In-The-Email-Field-7Q", "Second-Guess-In-Email-Field-3Z", "typist-Wrong-Guess-5KX"]

    def login(email, password):
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
        )

    assert login(typed[0], typed[1]).status_code == 401  # a password typed into the e-mail field
    assert login("typist@example.com", typed[2]).status_code == 401
    with pytest.raises(Unauthenticated):
        users.sign_in(rt, typed[1], typed[0], "198.51.100.7")
    stored = _database_text(rt)
    for secret in typed:
        assert secret not in stored and secret.lower() not in stored, secret
    with rt.db.transaction(write=False) as tx:
        subjects = tx.execute(select(schema.login_failures.c.subject)).scalars().all()
    assert subjects and all(re.fullmatch(r"(email|address|password):[0-9a-f]{64}", s) for s in subjects)


def test_a_read_only_token_cannot_change_the_password(client, rt):
    person = make_user(rt, "reader.pw@example.com", password=PASSWORD)
    token = users.create_token(system(rt), person.id, scope="read")[0]
    r = client.post(
        "/api/v1/me/password",
        headers={"Authorization": f"Bearer {token}"},
        json={"current_password": PASSWORD, "new_password": "taken over by a reader"},
    )
    assert r.status_code == 403
    assert users.authenticate(rt, person.email, PASSWORD).id == person.id


def test_the_counters_key_lives_in_the_keyring_and_survives_rotation(rt):
    from bastion.services import keys
    from bastion.storage.keyproviders import FileKeyProvider, KeyProviderError
    from bastion.storage.keyring import Keyring
    from environment import MASTER_KEY

    before = rt.keyring.deployment_secret("attempt-subjects")
    assert before not in _database_text(rt).encode("latin-1") and before.hex() not in _database_text(rt)
    new_key = "22" * 32
    keys.rotate_master_key(system(rt), new_master_key=new_key)
    reopened = Keyring(rt.keyring.url, FileKeyProvider.from_hex(new_key))
    try:
        assert reopened.deployment_secret("attempt-subjects") == before  # re-wrapped, not remade
    finally:
        reopened.dispose()
    stale = Keyring(rt.keyring.url, FileKeyProvider.from_hex(MASTER_KEY))
    try:
        with pytest.raises(KeyProviderError):
            stale.deployment_secret("attempt-subjects")
    finally:
        stale.dispose()
