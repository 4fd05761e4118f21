"""The event feed and webhooks, on both databases, against tests/webhook_receiver.py (127.0.0.1).

Invariants tried: an event is in the feed exactly when its change committed; the feed and the
webhooks of another workspace do not exist for anyone outside it, and within it only the roles
docs/permissions.md names read or change them; every delivery attempt is signed (checked by the
receiver from the spec) with the event's id as webhook-id, recorded and audited without the body;
failures retry, run out into the dead-letter list and replay; the egress guard's refusals hold;
the signing secret is shown once and sealed at rest.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bastion.services import annotations, audit, events, queue, webhooks
from bastion.services.job_runner import Runner
from bastion.services.runtime import Runtime
from bastion.storage import schema
from environment import make_settings
from factories import ROLES, add_tasks, make_side, operator_tx, system
from webhook_receiver import start_receiver, verify

ALL = list(events.KINDS)


@pytest.fixture
def hrt(tmp_path, database_url):
    """A runtime whose deliveries retry at once and die after 3 tries."""
    runtime = Runtime.open(
        make_settings(tmp_path, database_url, job_retry_seconds=0, webhook_attempts=3), migrate_schema="never"
    )
    yield runtime
    runtime.close()


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def drain(rt) -> int:
    """Run due jobs until none is left; how many runs."""
    runner = Runner(rt, name="test")
    runs = 0
    while runner.run_once():
        runs += 1
    return runs


def hook(rt, side, receiver, kinds=None):
    made = webhooks.create_webhook(
        side.ctx(rt, "owner"),
        side.workspace_id,
        url=receiver.url(),
        events=kinds or ALL,
        allowed_hosts=[f"127.0.0.1:{receiver.port}"],
    )
    receiver.secret = made["secret"]
    return made


def kinds(rt, side, after=0) -> list[str]:
    return [e["kind"] for e in events.list_events(side.ctx(rt, "owner"), side.workspace_id, after=after)["events"]]


def test_events_come_with_their_change_and_only_then(hrt, receiver):
    side = make_side(hrt, "ev", n_tasks=2)
    assert kinds(hrt, side) == ["tasks.imported"]
    made = hook(hrt, side, receiver)
    ctx = side.ctx(hrt, "annotator")
    for _ in range(2):  # the annotator's own transactions queue the deliveries (row-level security allows it)
        task = queue.next_task(ctx, side.project_id)
        annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    drain(hrt)
    delivered = webhooks.list_deliveries(side.ctx(hrt, "owner"), made["id"])
    assert [d["state"] for d in delivered] == ["delivered"] * 3 and len(receiver.received) == 3
    assert sorted(r.body["type"] for r in receiver.received) == [
        "project.completed",
        "task.completed",
        "task.completed",
    ]
    assert all(r.valid for r in receiver.received)
    feed = events.list_events(side.ctx(hrt, "owner"), side.workspace_id)
    assert [e["kind"] for e in feed["events"]] == [
        "tasks.imported",
        "task.completed",
        "task.completed",
        "project.completed",
    ]
    assert [e["seq"] for e in feed["events"]] == [1, 2, 3, 4] and feed["next"] == 4
    first = feed["events"][0]
    assert first["data"]["count"] == 2 and first["data"]["project"] == side.project_id and first["data"]["batch"]
    page = events.list_events(side.ctx(hrt, "owner"), side.workspace_id, after=1, limit=2)
    assert [e["seq"] for e in page["events"]] == [2, 3] and page["next"] == 3
    assert events.list_events(side.ctx(hrt, "owner"), side.workspace_id, after=4)["events"] == []
    # a write that fails after announcing leaves nothing
    with pytest.raises(RuntimeError), system(hrt).write() as w:
        w.event(side.workspace_id, "tasks.imported", side.project_id, project=side.project_id, count=9, batch="b")
        raise RuntimeError("rolled back")
    assert len(kinds(hrt, side)) == 4
    for bad in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 501}, {"after": True}):
        with pytest.raises(InvalidInput):
            events.list_events(side.ctx(hrt, "owner"), side.workspace_id, **bad)


def test_who_reads_the_feed_and_manages_webhooks(hrt, receiver):
    a = make_side(hrt, "fa", n_tasks=1)
    b = make_side(hrt, "fb", n_tasks=1)
    made = hook(hrt, a, receiver)
    for role in ROLES:
        ctx = a.ctx(hrt, role)
        if role in ("owner", "manager", "auditor"):
            assert kinds(hrt, a) and events.list_events(ctx, a.workspace_id)["events"]
            assert webhooks.get_webhook(ctx, made["id"])["url"] == receiver.url()
        else:
            with pytest.raises(PermissionDenied):
                events.list_events(ctx, a.workspace_id)
        if role != "owner":
            with pytest.raises((PermissionDenied, NotFound)):
                webhooks.create_webhook(
                    ctx, a.workspace_id, url=receiver.url(), events=ALL, allowed_hosts=[f"127.0.0.1:{receiver.port}"]
                )
            with pytest.raises((PermissionDenied, NotFound)):
                webhooks.delete_webhook(ctx, made["id"])
        # the other workspace's members, in every role: nothing of a's exists
        other = b.ctx(hrt, role)
        with pytest.raises(NotFound):
            events.list_events(other, a.workspace_id)
        for call, args in (
            (webhooks.get_webhook, ()),
            (webhooks.list_deliveries, ()),
            (webhooks.delete_webhook, ()),
            (webhooks.replay, ("whd_x",)),
        ):
            with pytest.raises(NotFound):
                call(other, made["id"], *args)
    assert "secret" not in webhooks.list_webhooks(a.ctx(hrt, "owner"), a.workspace_id)[0]
    with operator_tx(hrt, write=False) as tx:
        sealed = tx.execute(select(schema.webhook_endpoints.c.secret)).scalar_one()
    assert made["secret"].encode() not in bytes(sealed) and made["secret"][6:].encode() not in bytes(sealed)
    bad = {"url": receiver.url(), "events": ALL, "allowed_hosts": [f"127.0.0.1:{receiver.port}"]}
    for change, words in (
        ({"url": "http://10.9.9.9/hook"}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"events": ["task.deleted"]}, "task.deleted"),
        ({"events": []}, "events"),
        ({"allowed_hosts": []}, "allowed_hosts"),
    ):
        with pytest.raises(InvalidInput, match=words):
            webhooks.create_webhook(a.ctx(hrt, "owner"), a.workspace_id, **{**bad, **change})
    webhooks.delete_webhook(a.ctx(hrt, "owner"), made["id"])
    with pytest.raises(NotFound):
        webhooks.get_webhook(a.ctx(hrt, "owner"), made["id"])


def test_each_attempt_is_signed_retried_dead_lettered_and_replayed(hrt, receiver):
    side = make_side(hrt, "wh", n_tasks=1)
    made = hook(hrt, side, receiver, kinds=["tasks.imported"])
    owner = side.ctx(hrt, "owner")
    add_tasks(hrt, side.project_id, 2, start=10)
    drain(hrt)
    (event_id, got), *rest = receiver.by_id().items()
    assert not rest and len(got) == 1 and got[0].valid
    assert got[0].body["type"] == "tasks.imported" and got[0].body["data"]["count"] == 2
    feed = events.list_events(owner, side.workspace_id)["events"]
    assert event_id == feed[-1]["id"]  # the webhook-id is the event's id
    [delivered] = webhooks.list_deliveries(owner, made["id"])
    assert delivered["state"] == "delivered" and delivered["history"][0]["status"] == 204

    receiver.mode = "fail"
    add_tasks(hrt, side.project_id, 1, start=20)
    drain(hrt)
    dead = webhooks.list_deliveries(owner, made["id"], state="dead")
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and [a["status"] for a in dead[0]["history"]] == [500] * 3
    tries = receiver.by_id()[dead[0]["event_id"]]
    assert len(tries) == 3 and all(t.valid for t in tries)  # one request per attempt, each signed, same id

    with pytest.raises(Conflict):  # still being tried: no replay
        add_tasks(hrt, side.project_id, 1, start=30)
        pending = webhooks.list_deliveries(owner, made["id"], state="pending")[0]
        webhooks.replay(owner, made["id"], pending["id"])
    with operator_tx(hrt) as tx:  # its job failed for good (runners went away too often): nobody tries it now
        tx.execute(schema.jobs.update().where(schema.jobs.c.id == pending["job_id"]).values(state="failed"))
    assert webhooks.replay(owner, made["id"], pending["id"])["state"] == "pending"
    with pytest.raises(PermissionDenied):
        webhooks.replay(side.ctx(hrt, "manager"), made["id"], dead[0]["id"])
    receiver.mode = "ok"
    assert webhooks.replay_dead(owner, made["id"]) == 1
    drain(hrt)
    states = {d["id"]: d for d in webhooks.list_deliveries(owner, made["id"])}
    assert {d["state"] for d in states.values()} == {"delivered"}
    assert states[dead[0]["id"]]["attempts"] == 4
    tries = receiver.by_id()[dead[0]["event_id"]]
    assert len(tries) == 4 and all(t.valid for t in tries)
    entries = audit.list_entries(owner, side.workspace_id, limit=1000)["items"]
    attempts = [e for e in entries if e["action"] == "webhook.attempt"]
    assert len(attempts) == len(receiver.received) == 1 + 4 + 1
    assert all("latency_ms" in e["details"] and "body" not in e["details"] for e in attempts)
    assert {e["action"] for e in entries} >= {"webhook.created", "webhook.dead_lettered", "webhook.replayed"}


def test_receiver_down_redirects_and_hosts_are_refused(hrt, receiver):
    side = make_side(hrt, "eg", n_tasks=1)
    owner = side.ctx(hrt, "owner")
    made = hook(hrt, side, receiver, kinds=["tasks.imported"])
    receiver.mode = "redirect"
    add_tasks(hrt, side.project_id, 1, start=10)
    drain(hrt)
    [dead] = webhooks.list_deliveries(owner, made["id"])
    assert dead["state"] == "dead" and {a["error"] for a in dead["history"]} == {"egress_refused"}
    assert len(receiver.received) == 3  # the redirect is never followed
    port = receiver.port
    receiver.server.shutdown()
    receiver.server.server_close()  # down: connections refused
    add_tasks(hrt, side.project_id, 1, start=20)
    drain(hrt)
    newest = webhooks.list_deliveries(owner, made["id"])[0]
    assert newest["state"] == "dead" and {a["error"] for a in newest["history"]} == {"remote_error"}
    assert all(a["status"] is None for a in newest["history"])
    # an allow-list that no longer names the URL's host (changed under it): the guard refuses, nothing sent
    with operator_tx(hrt) as tx:
        tx.execute(schema.webhook_endpoints.update().values(allowed_hosts=f'["127.0.0.2:{port}"]'))
    add_tasks(hrt, side.project_id, 1, start=30)
    drain(hrt)
    assert {a["error"] for a in webhooks.list_deliveries(owner, made["id"])[0]["history"]} == {"egress_refused"}


def test_the_receiver_verification_rejects_tampering():
    secret = webhooks.new_secret()
    body = b'{"type":"task.completed"}'
    signed = webhooks.headers(secret, "evt_1", 1700000000, body)
    assert not verify(secret, signed, body)  # outside the five-minute window
    assert verify(secret, signed, body, tolerance=None)
    assert not verify(secret, signed, body + b" ", tolerance=None)
    assert not verify(secret, {**signed, "webhook-id": "evt_2"}, body, tolerance=None)
    assert not verify(secret, {**signed, "webhook-timestamp": "1700000001"}, body, tolerance=None)
    assert not verify(webhooks.new_secret(), signed, body, tolerance=None)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_reviewed_export_ready_and_paused_are_announced(hrt):
    from bastion.services import imports, reviews
    from factories import make_export, make_project

    side = make_side(hrt, "rx", n_tasks=1, settings={"quality": {"review": "all"}})
    ctx = side.ctx(hrt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    answer = annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    reviews.review_annotation(side.ctx(hrt, "reviewer"), answer["id"], "accept")
    export_id = make_export(side.ctx(hrt, "owner"), side.project_id)
    gold = make_project(
        hrt, side.workspace_id, name="gold",
        settings={"overlap": 1, "quality": {"gold_rate": 1.0, "pause_below": 0.9, "pause_after": 2}},
    )  # fmt: skip
    items = [(1, {"data": {"text": "regular"}})]
    items += [(10 + i, {"data": {"text": f"known {i}"}, "gold": {"label": "pos"}}) for i in range(2)]
    imports.import_tasks(system(hrt), gold.id, items)
    for _ in range(2):
        shown = queue.next_task(ctx, gold.id)
        annotations.submit_annotation(ctx, shown["id"], {"label": "neg"})
    feed = {e["kind"]: e for e in events.list_events(side.ctx(hrt, "owner"), side.workspace_id)["events"]}
    assert feed["annotation.reviewed"]["data"] == {
        "annotation": answer["id"], "task": task["id"], "project": side.project_id, "decision": "accepted"
    }  # fmt: skip
    assert feed["export.ready"]["subject"] == export_id and feed["export.ready"]["data"]["sha256"]
    assert feed["annotator.paused"]["data"]["user"] == side.users["annotator"]
    assert feed["annotator.paused"]["data"]["project"] == gold.id
