"""What authenticating a request costs, in microseconds: a bearer token to the request's first transaction.

    PYTHONPATH=src python -m benchmarks.auth_step [--db postgresql]

In-process, no HTTP: per request, the token is resolved the way ``web/auth.py`` does it and the
request's first read transaction is opened with the person's roles loaded (what every service
call does first). With the credential cache (``services/auth_cache.py``) a cached token costs
that transaction's one-row generation read; without it (code before the cache, run this file
against that tree with ``PYTHONPATH=<old tree>/src``) a transaction of its own resolves the token
first. Five rounds of 3,000 requests, one person in three workspaces; prints the median and
every round. Also the transaction alone (no authentication), for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bastion.access import Actor
from bastion.services import users, workspaces
from bastion.services.context import Context
from bastion.services.runtime import Runtime
from bastion.settings import Settings

ROUNDS, REQUESTS = 5, 3_000
MASTER_KEY = "42" * 32


def _runtime(url: str | None) -> Runtime:
    data_dir = Path(tempfile.mkdtemp(prefix="bastion-auth-"))
    settings = Settings(data_dir=data_dir / "data", database_url=url, master_key=MASTER_KEY, job_workers=0)
    return Runtime.open(settings, migrate_schema="always")  # current already on PostgreSQL: opens the keyring


def _per_request_us(request) -> float:
    start = time.perf_counter()
    for _ in range(REQUESTS):
        request()
    return (time.perf_counter() - start) / REQUESTS * 1e6


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auth_step")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    if args.db == "postgresql":
        from benchmarks.servers import postgres_database

        with postgres_database("bastion_auth_step") as url:
            run(_runtime(url))
    else:
        run(_runtime(None))


def run(rt: Runtime) -> None:
    operator = Context(rt, Actor.system())
    person = users.create_user(operator, "annotator@example.com", name="A")
    for i in range(3):
        ws = workspaces.create_workspace(operator, f"W{i}", owner=None)
        workspaces.add_member(operator, ws.id, person.id, "annotator")
    token, _record = users.create_token(operator, person.id, name="bench")
    cached = hasattr(users, "token_context")
    actor = users.resolve_token(rt, token)

    def authenticated() -> None:
        ctx = users.token_context(rt, token) if cached else Context(rt, users.resolve_token(rt, token))
        with ctx.read() as unit:
            unit.access.roles  # noqa: B018  (what every service call loads first)

    def bare() -> None:
        with Context(rt, actor).read() as unit:
            unit.access.roles  # noqa: B018

    for f in (authenticated, bare):
        for _ in range(300):
            f()
    rounds: dict[str, list[float]] = {"authenticated": [], "bare": []}
    for _ in range(ROUNDS):
        rounds["authenticated"].append(_per_request_us(authenticated))
        rounds["bare"].append(_per_request_us(bare))
    label = "with the credential cache" if cached else "without a credential cache"
    for name, text in (("authenticated", f"token + first read tx ({label})"), ("bare", "first read tx alone")):
        values = rounds[name]
        print(f"{text}: median {statistics.median(values):.0f} µs  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    rt.close()


if __name__ == "__main__":
    main(sys.argv[1:])
