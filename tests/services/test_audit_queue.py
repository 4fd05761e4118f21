"""PostgreSQL's audited writes queue their entries and feed events; one fold at a time gives them their
places (services/_audit_append.py). These tests try to break what that must keep: no writer waits for
another's log, every committed entry is in the log exactly once and nothing rolled back is, a
transaction's entries stay together and in order, the log verifies, and a feed poller never skips an
event however writers and folds interleave."""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bastion.audit import leaf_bytes
from bastion.audit.errors import InvalidAuditEntry
from bastion.services import _audit_append, audit, events
from bastion.services._audit_append import PendingEvent
from bastion.storage import schema
from factories import fold_audit, make_side, operator_tx, system

WRITERS = 6
WRITES = 20


def _require_postgres(rt) -> None:
    if rt.db.is_sqlite:
        pytest.skip("SQLite's one writer appends in place: nothing is queued there (test_appends_in_place_on_sqlite)")


def _queued(rt) -> int:
    with operator_tx(rt, write=False) as tx:
        return sum(
            tx.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (schema.audit_queue, schema.event_queue)
        )


def _log(rt, ws) -> list[dict]:
    with operator_tx(rt, write=False) as tx:
        rows = tx.execute(
            select(schema.audit_events.c.seq, schema.audit_events.c.leaf)
            .where(schema.audit_events.c.workspace_id == ws)
            .order_by(schema.audit_events.c.seq)
        ).all()
    assert [row.seq for row in rows] == list(range(len(rows))), "the log's positions have a gap"
    return [orjson.loads(row.leaf) for row in rows]


def test_appends_in_place_on_sqlite(rt):
    """SQLite's writer appends in the writing transaction: the entry is in the log at its commit."""
    if not rt.db.is_sqlite:
        pytest.skip("PostgreSQL queues (the other tests of this file)")
    side = make_side(rt, "inplace", n_tasks=0)
    with system(rt).write() as w:
        w.audit(side.workspace_id, "test.written", None, n=1)
    assert _queued(rt) == 0
    assert _log(rt, side.workspace_id)[-1]["action"] == "test.written"


def test_a_writer_does_not_wait_for_another_writers_log(rt):
    """A transaction that has audited (and, before the queue, held the log's head to its commit) is left
    open; another audited write to the same log commits meanwhile. Both are in the log afterwards."""
    _require_postgres(rt)
    side = make_side(rt, "nowait", n_tasks=0)
    ws = side.workspace_id
    finished = threading.Event()

    def second() -> None:
        with system(rt).write() as w:
            w.audit(ws, "test.second", None)
        finished.set()

    with system(rt).write() as w:
        w.audit(ws, "test.first", None)
        w.flush_audit()
        w.tx.raw.execute("SELECT 1")  # the queued entry is sent: this transaction has written it
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(30)
        assert finished.is_set(), "the second writer waited for the first one's commit"
    fold_audit(rt)
    actions = [e["action"] for e in _log(rt, ws)]
    assert actions[-2:] == ["test.first", "test.second"]  # in the order they were queued
    assert _queued(rt) == 0


def test_concurrent_writers_and_folds_make_one_verifiable_log(rt):
    """Writers (two entries a transaction, some rolled back) and folders run together: every committed
    entry is in the log once, its pair next to it and in order, nothing rolled back is, and it verifies."""
    _require_postgres(rt)
    side = make_side(rt, "race", n_tasks=0)
    ws = side.workspace_id
    stop = threading.Event()
    errors: list[BaseException] = []

    class Rollback(Exception):
        pass

    def writer(n: int) -> None:
        try:
            for i in range(WRITES):
                try:
                    with system(rt).write() as w:
                        w.audit(ws, "test.one", f"w{n}-{i}")
                        w.audit(ws, "test.two", f"w{n}-{i}")
                        if i % 5 == 4:
                            w.flush_audit()
                            raise Rollback
                except Rollback:
                    pass
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    def folder() -> None:
        try:
            while not stop.is_set():
                audit.fold_apart(rt, [ws])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    folders = [threading.Thread(target=folder) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in folders + writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    stop.set()
    for thread in folders:
        thread.join(60)
    assert not errors, errors
    owner = side.ctx(rt, "owner")
    report, _ = audit.verify_stored(owner, ws)  # folds what is left first
    assert report.ok, report
    fold_audit(rt)  # the verification's own audit.read, queued as it read
    entries = [e for e in _log(rt, ws) if e["action"].startswith("test.")]
    committed = {f"w{n}-{i}" for n in range(WRITERS) for i in range(WRITES) if i % 5 != 4}
    assert sorted(e["target"] for e in entries if e["action"] == "test.one") == sorted(committed)
    for one, two in zip(entries[::2], entries[1::2], strict=True):
        assert (one["action"], two["action"], one["target"]) == ("test.one", "test.two", two["target"])
        assert two["seq"] == one["seq"] + 1
    assert len({e["id"] for e in entries}) == len(entries)
    assert _queued(rt) == 0


def test_a_feed_poller_never_skips_an_event(rt):
    """Writers announce events while an owner polls the feed (each poll folds first): each page starts
    right after the cursor, and the whole feed is every committed event once, numbered 1, 2, 3, …"""
    _require_postgres(rt)
    side = make_side(rt, "feed", n_tasks=0)
    ws = side.workspace_id
    owner = side.ctx(rt, "owner")
    start = events.list_events(owner, ws, limit=500)["next"]
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(WRITES):
                with system(rt).write() as w:
                    w.event(ws, "tasks.imported", f"prj_w{n}i{i}", count=i)
                    w.audit(ws, "test.announced", f"w{n}-{i}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    seen: list[dict] = []
    cursor = start

    def poll() -> None:
        nonlocal cursor
        page = events.list_events(owner, ws, after=cursor, limit=7)
        numbers = [e["seq"] for e in page["events"]]
        assert numbers == list(range(cursor + 1, cursor + 1 + len(numbers))), (cursor, numbers)
        seen.extend(page["events"])
        cursor = page["next"]

    while any(thread.is_alive() for thread in writers):
        poll()
    for thread in writers:
        thread.join()
    done.set()
    for _ in range(WRITERS * WRITES):  # what is left, a page at a time
        before = cursor
        poll()
        if cursor == before:
            break
    assert not errors, errors
    subjects = [e["subject"] for e in seen]
    assert sorted(subjects) == sorted(f"prj_w{n}i{i}" for n in range(WRITERS) for i in range(WRITES))
    assert len({e["id"] for e in seen}) == len(seen)
    assert _queued(rt) == 0


def test_what_the_log_cannot_hold_fails_the_writer_not_the_folder(rt):
    """An entry is checked as it is queued: the write fails and nothing is left for a fold to choke on."""
    side = make_side(rt, "bad", n_tasks=0)
    fold_audit(rt)
    before = len(_log(rt, side.workspace_id))
    with pytest.raises(InvalidAuditEntry), system(rt).write() as w:
        w.audit(side.workspace_id, "test.bad", None, value=float("nan"))
    assert _queued(rt) == 0
    fold_audit(rt)
    assert len(_log(rt, side.workspace_id)) == before


def test_a_checkpoint_covers_what_was_queued_before_it(rt):
    """Signing folds first: the checkpoint an owner fetches covers every entry committed before."""
    side = make_side(rt, "cover", n_tasks=0)
    with system(rt).write() as w:
        w.audit(side.workspace_id, "test.before_the_checkpoint", None)
    checkpoint = audit.latest_checkpoint(side.ctx(rt, "owner"), side.workspace_id)
    entries = _log(rt, side.workspace_id)
    last = next(e for e in entries if e["action"] == "test.before_the_checkpoint")
    assert last["seq"] < checkpoint["size"]
    assert entries[checkpoint["size"] - 1]["action"] == "audit.read"  # the read that fetched it, then nothing


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(details=st.dictionaries(st.text(min_size=1, max_size=8), _json, max_size=5))
def test_a_folded_leaf_is_the_leaf_an_in_place_append_makes(details):
    """The queue keeps details as JSON: read back and folded, the leaf is byte for byte the one SQLite's
    in-place append makes from the original values (or the value is refused as it is queued)."""
    event = PendingEvent("ws_x", 1_765_000_000_123, "usr_x", "test.prop", None, details)
    try:
        original = leaf_bytes(_audit_append._entry("ws_x", 7, "aud_x", event))
    except InvalidAuditEntry:
        return  # refused as it is queued (_queue checks it the same way)
    back = PendingEvent("ws_x", event.at, event.actor, event.action, None, orjson.loads(orjson.dumps(details)))
    assert leaf_bytes(_audit_append._entry("ws_x", 7, "aud_x", back)) == original


def test_queue_positions_increase_within_a_process():
    first = _audit_append.queue_ords(3)
    time.sleep(0)
    second = _audit_append.queue_ords(2)
    assert list(first) == sorted(first) and second[0] > first[-1]


def test_the_servers_folder_folds_without_a_reader(tmp_path, database_url):
    """A running server folds what writes queued on its own (``BASTION_AUDIT_FOLD_MS``): nobody reads the
    log here, and the entry still gets its place within moments."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's one writer appends in place: nothing is queued there (test_appends_in_place_on_sqlite)")
    from starlette.testclient import TestClient

    from bastion.services.runtime import Runtime
    from bastion.web.app import create_app
    from environment import make_settings

    rt = Runtime.open(make_settings(tmp_path, database_url, audit_fold_ms=50), migrate_schema="never")
    try:
        side = make_side(rt, "folder", n_tasks=0)
        with TestClient(create_app(rt)):
            with system(rt).write() as w:
                w.audit(side.workspace_id, "test.left_for_the_folder", None)
            deadline = time.monotonic() + 20
            while _queued(rt) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _queued(rt) == 0, "the server's folder left the entry queued"
        assert _log(rt, side.workspace_id)[-1]["action"] == "test.left_for_the_folder"
    finally:
        rt.close()


def test_a_fold_that_need_not_wait_leaves_a_log_being_folded(rt):
    """After a commit and on the server's timer, a fold in progress is left to run (no writer queues
    behind another's fold); a reader's fold waits for it and then sees what it could not."""
    _require_postgres(rt)
    side = make_side(rt, "busy", n_tasks=0)
    ws = side.workspace_id
    fold_audit(rt)
    answered: list[int] = []
    with system(rt).write() as holder:
        _audit_append.fold(holder, ws)  # holds the head to its commit
        with system(rt).write() as w:
            w.audit(ws, "test.while_folding", None)
        thread = threading.Thread(target=lambda: answered.append(audit.fold_apart(rt, [ws], wait=False)))
        thread.start()
        thread.join(30)
        assert answered == [0], "a fold that need not wait waited (or folded under another's lock)"
        assert _queued(rt) == 1
    assert audit.fold_apart(rt, [ws]) == 1
    assert _log(rt, ws)[-1]["action"] == "test.while_folding"
