"""kill -9 while webhooks are delivered: no event is lost, every attempt is signed.

A real ``bastion serve`` process (two job runners, a one-second lease) delivers the workspace's
``tasks.imported`` events to tests/webhook_receiver.py on 127.0.0.1, which answers slowly, while this
process keeps importing (each import one event, its delivery queued in the same transaction). The
server is SIGKILLed mid-way — some deliveries in flight — restarted, and every delivery ends
delivered. The proof: every event of the feed reached the receiver at least once, under its own id as
``webhook-id``, every request received verified against the secret (checked from the spec, not with
the server's code), and nothing arrived that is not an event of the feed (a duplicate is only ever
the same webhook-id again, which the spec lets receivers dedupe). On SQLite (the services tests
cover delivery on PostgreSQL).
"""

from __future__ import annotations

import time

import pytest
from benchmarks.servers import Server

from bastion.services import events, webhooks
from bastion.services.runtime import Runtime
from environment import MASTER_KEY, make_settings
from factories import add_tasks, make_side
from webhook_receiver import start_receiver

BEFORE, DURING, AFTER = 8, 8, 4


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite"])  # the runner's semantics are the database's; keep it short
def test_no_event_is_lost_over_a_kill_and_every_attempt_is_signed(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    rt = Runtime.open(settings, migrate_schema="never")
    receiver = start_receiver()
    receiver.delay = 0.05
    try:
        side = make_side(rt, "wk", n_tasks=0)
        owner = side.ctx(rt, "owner")
        made = webhooks.create_webhook(
            owner,
            side.workspace_id,
            url=receiver.url(),
            events=["tasks.imported"],
            allowed_hosts=[f"127.0.0.1:{receiver.port}"],
        )
        receiver.secret = made["secret"]
        n = 0

        def emit(count: int) -> None:
            nonlocal n
            for _ in range(count):
                add_tasks(rt, side.project_id, 1, start=n, prefix="wk")
                n += 1

        emit(BEFORE)
        server = Server(
            settings.data_dir,
            database_url,
            name="hooks",
            extra_env={
                "BASTION_MASTER_KEY": MASTER_KEY,
                "BASTION_JOB_WORKERS": "2",
                "BASTION_JOB_LEASE_SECONDS": "1",
                "BASTION_JOB_POLL_SECONDS": "0.05",
                "BASTION_JOB_RETRY_SECONDS": "0.1",
            },
        )
        server.start()
        try:
            deadline = time.monotonic() + 60
            while len(receiver.received) < 4:
                assert time.monotonic() < deadline, server.log_tail()
                time.sleep(0.01)
            emit(DURING // 2)
            server.kill()
            cut = len(receiver.by_id())
            emit(DURING // 2)
            server.start()
            emit(AFTER)
            while True:
                states = {d["state"] for d in webhooks.list_deliveries(owner, made["id"], limit=500)}
                if states == {"delivered"}:
                    break
                assert time.monotonic() < deadline + 60 and "dead" not in states, server.log_tail()
                time.sleep(0.1)
        finally:
            server.stop()
        feed = events.list_events(owner, side.workspace_id, limit=500)["events"]
        ids = {e["id"] for e in feed if e["kind"] == "tasks.imported"}
        assert len(ids) == BEFORE + DURING + AFTER and 0 < cut < len(ids)
        got = receiver.by_id()
        assert set(got) == ids, "an event lost or a stranger delivered"
        assert all(r.valid for r in receiver.received), "an attempt not signed with the secret"
        assert {r.body["data"]["seq"] for r in receiver.received} == {e["seq"] for e in feed if e["id"] in ids}
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        rt.close()
