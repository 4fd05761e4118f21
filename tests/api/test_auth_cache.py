"""The credential cache never outlives a revocation: the next request is refused, in any process.

Each test runs two servers on one database (SQLite file or PostgreSQL): ``client`` and a
second app over a runtime of its own (``other``) — its own engine and its own credential
cache, as a second ``bastion serve`` process has. Both have served the credential (so
both hold it cached) before the change, made through one of them; the next request to
either is refused.
"""

from __future__ import annotations

import threading

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from bastion.domain.errors import Unauthenticated
from bastion.services import users
from bastion.services.auth_cache import AuthCache, Credential
from bastion.services.context import Context
from bastion.services.runtime import Runtime
from bastion.web.app import create_app
from bastion.web.auth import ConfirmCredentials, api_context
from factories import as_user, system

ME = "/api/v1/me"


@pytest.fixture
def other(settings, rt):
    runtime = Runtime.open(settings, migrate_schema="never")
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c
    runtime.close()


def _warm(clients, path: str, headers=None, method: str = "GET", session: str | None = None) -> None:
    """Each client serves the request twice: the second comes from its cache."""
    for c in clients:
        _signed_in(c, session)
        for _ in range(2):
            r = c.request(method, path, headers=headers)
            assert r.status_code in (200, 204), r.text


def _signed_in(c, session: str | None):
    c.cookies.clear()
    if session is not None:
        c.cookies.set("bastion_session", session)
    return c


def _count_resolutions(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = users._resolve_apart

    def counting(rt, kind, digest):
        seen.append(kind)
        return original(rt, kind, digest)

    monkeypatch.setattr(users, "_resolve_apart", counting)
    return seen


def test_a_cached_token_opens_no_transaction_of_its_own(client, world, monkeypatch):
    headers = world.a.headers("annotator")
    assert client.get(ME, headers=headers).status_code == 200
    seen = _count_resolutions(monkeypatch)
    for _ in range(3):
        assert client.get(ME, headers=headers).status_code == 200
    assert seen == []


@pytest.mark.parametrize("revoker", ["same", "other"])
def test_a_revoked_token_is_refused_on_the_next_request(client, other, world, revoker):
    headers = world.a.headers("annotator")
    _warm([client, other], ME, headers)
    (token,) = client.get("/api/v1/tokens", headers=headers).json()
    by = client if revoker == "same" else other
    assert by.delete(f"/api/v1/tokens/{token['id']}", headers=headers).status_code == 204
    for c in (client, other):
        r = c.get(ME, headers=headers)
        assert r.status_code == 401, r.text


def test_a_deactivated_person_is_refused_on_the_next_request(client, other, world):
    headers = world.a.headers("reviewer")
    _warm([client, other], ME, headers)
    admin = {"Authorization": f"Bearer {world.admin_token}"}
    assert other.post(f"/api/v1/users/{world.a.users['reviewer']}/deactivate", headers=admin).status_code == 200
    for c in (client, other):
        assert c.get(ME, headers=headers).status_code == 401


def test_a_role_change_and_a_removal_take_effect_on_the_next_request(client, other, world):
    ws, project, person = world.a.workspace_id, world.a.project_id, world.a.users["annotator"]
    headers = world.a.headers("annotator")
    owner = world.a.headers("owner")
    _warm([client, other], f"/api/v1/projects/{project}", headers)  # a read: roles cached at this generation
    _warm([client, other], f"/api/v1/projects/{project}/next", headers, method="POST")
    r = other.post(f"/api/v1/workspaces/{ws}/members", json={"user": person, "role": "auditor"}, headers=owner)
    assert r.status_code in (200, 201), r.text
    for c in (client, other):
        assert c.post(f"/api/v1/projects/{project}/next", headers=headers).status_code == 403
    _warm([client, other], f"/api/v1/projects/{project}", headers)
    assert client.delete(f"/api/v1/workspaces/{ws}/members/{person}", headers=owner).status_code == 204
    for c in (client, other):
        assert c.get(f"/api/v1/projects/{project}", headers=headers).status_code == 404
        assert c.post(f"/api/v1/projects/{project}/next", headers=headers).status_code == 404
    # Back as an annotator (through the other process): the next request works again, in both.
    r = other.post(f"/api/v1/workspaces/{ws}/members", json={"user": person, "role": "annotator"}, headers=owner)
    assert r.status_code in (200, 201), r.text
    for c in (client, other):
        assert c.get(f"/api/v1/projects/{project}", headers=headers).status_code == 200


def test_a_signed_out_session_is_refused_on_the_next_request(client, other, rt, world):
    person = world.a.users["annotator"]
    secret, _csrf = users.create_session(rt, users.get_user(system(rt), person))
    _warm([client, other], ME, session=secret)
    _warm([client, other], "/", session=secret)
    users.end_all_sessions(as_user(other.app.state.rt, person), person)  # signs out everywhere
    for c in (client, other):
        assert _signed_in(c, secret).get(ME).status_code == 401
        page = c.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_changed_password_ends_cached_sessions(client, other, rt, world):
    person = world.a.users["manager"]
    secret, _csrf = users.create_session(rt, users.get_user(system(rt), person))
    _warm([client, other], ME, session=secret)
    users.set_password(system(other.app.state.rt), person, "a new password, long enough")
    for c in (client, other):
        assert _signed_in(c, secret).get(ME).status_code == 401


def test_a_request_that_opens_no_transaction_is_checked_before_it_answers(rt, world):
    """``ConfirmCredentials``: an answer built from the cached actor alone waits for the check."""
    app = FastAPI()
    app.state.rt = rt

    @app.get("/api/v1/whoami")
    def whoami(ctx=Depends(api_context)):
        return {"user": ctx.actor.user_id}

    app.add_middleware(ConfirmCredentials)
    headers = world.a.headers("annotator")
    with TestClient(app, raise_server_exceptions=False) as c:
        for _ in range(2):
            assert c.get("/api/v1/whoami", headers=headers).json() == {"user": world.a.users["annotator"]}
        assert rt.auth_cache.sizes()[0] >= 1
        users.deactivate_user(system(rt), world.a.users["annotator"])
        r = c.get("/api/v1/whoami", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_a_change_of_generation_that_leaves_the_credential_valid_resolves_it_again(client, world, rt):
    headers = world.a.headers("owner")
    _warm([client], ME, headers)
    users.create_token(system(rt), world.a.users["reviewer"])  # inserts move nothing
    users.revoke_token(system(rt), users.list_tokens(system(rt), world.a.users["reviewer"])[0].id)  # moves it
    assert client.get(ME, headers=headers).status_code == 200
    assert client.get(ME, headers=headers).status_code == 200


def _credential(i: int) -> Credential:
    from bastion.access import Actor

    return Credential(Actor(kind="user", user_id=f"usr_{i}"), 1, 0)


def test_the_cache_is_bounded_least_recently_used_first_out():
    cache = AuthCache(capacity=3)
    for i in range(3):
        cache.keep(f"d{i}", _credential(i))
    assert cache.credential("d0") is not None  # used: d1 is now the oldest
    cache.keep("d3", _credential(3))
    assert cache.credential("d1") is None
    assert all(cache.credential(f"d{i}") is not None for i in (0, 2, 3))
    for i in range(5):
        cache.keep_roles(f"usr_{i}", 7, {"ws": "owner"})
    assert cache.sizes() == (3, 3)
    assert cache.roles("usr_4", 7) == {"ws": "owner"}
    assert cache.roles("usr_4", 8) is None  # read at another generation
    assert cache.roles("usr_0", 7) is None  # out
    with pytest.raises(ValueError):
        AuthCache(capacity=0)


def test_the_cache_is_safe_across_threads():
    cache = AuthCache(capacity=50)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                key = f"d{(i * 7 + n) % 120}"
                cache.keep(key, _credential(i))
                cache.credential(f"d{(i + n) % 120}")
                cache.keep_roles(f"usr_{i % 90}", n, {})
                cache.roles(f"usr_{(i + 1) % 90}", n)
                if i % 17 == 0:
                    cache.forget(key)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    credentials, people = cache.sizes()
    assert credentials <= 50 and people <= 50


def test_pending_checks_refuse_a_revoked_credential_inside_the_requests_transaction(rt, world):
    """The check a cached credential's context makes in its first transaction, of either kind."""
    token = world.a.tokens["auditor"]
    assert users.token_context(rt, token).pending is None  # not cached yet: resolved apart
    cached = users.token_context(rt, token)
    assert cached.pending is not None
    users.deactivate_user(system(rt), world.a.users["auditor"])
    for opening in ("read", "write"):
        ctx = Context(rt, cached.actor, pending=cached.pending)
        with pytest.raises(Unauthenticated), getattr(ctx, opening)():
            pass
    assert rt.auth_cache.credential(users.session_id(token)) is None
    with pytest.raises(Unauthenticated):
        users.token_context(rt, token)


def test_a_real_second_server_process_refuses_the_next_request(client, world, settings, database_url):
    """``bastion serve`` in a process of its own, on the same database: a revocation made through
    either server is seen by the other on the next request."""
    import httpx
    from benchmarks.servers import Server

    from environment import MASTER_KEY

    server = Server(settings.data_dir, database_url, name="auth-cache", extra_env={"BASTION_MASTER_KEY": MASTER_KEY})
    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        for role in ("annotator", "reviewer"):
            headers = world.a.headers(role)
            for _ in range(2):
                assert http.get(ME, headers=headers).status_code == 200
                assert client.get(ME, headers=headers).status_code == 200
        (token,) = client.get("/api/v1/tokens", headers=world.a.headers("annotator")).json()
        assert client.delete(f"/api/v1/tokens/{token['id']}", headers=world.a.headers("annotator")).status_code == 204
        assert http.get(ME, headers=world.a.headers("annotator")).status_code == 401
        (token,) = http.get("/api/v1/tokens", headers=world.a.headers("reviewer")).json()
        assert http.delete(f"/api/v1/tokens/{token['id']}", headers=world.a.headers("reviewer")).status_code == 204
        assert client.get(ME, headers=world.a.headers("reviewer")).status_code == 401
