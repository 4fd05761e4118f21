"""An export's worker processes (services/export_pool.py): they end with the export, a worker that dies
costs nothing but time, and Parquet built a page at a time reads back as the JSON Lines rows."""

from __future__ import annotations

import io
import os
import random
import signal
import time

import orjson
import pytest

from bastion.exporting.base import Encoding
from bastion.exporting.parquet import PARQUET, write_parquet
from bastion.services import annotations, exports, imports, projects, reviews, tasks, workspaces
from bastion.services.exports import ExportRequest
from factories import as_user, make_user, system


@pytest.fixture
def paged(rt, monkeypatch):
    """Exports of a few tasks go to two workers: pages of three tasks, workers from the second page."""
    monkeypatch.setattr(exports, "FIRST_PAGE", 3)
    monkeypatch.setattr(exports, "PAGE", 3)
    monkeypatch.setattr(exports, "PARALLEL_AFTER_TASKS", 1)
    monkeypatch.setattr(exports, "WAIT_FOR_WORKERS", True)
    monkeypatch.setattr(rt.settings, "export_workers", 2)
    return rt


def _project(rt, n: int = 40):
    owner = make_user(rt, "owner.workers@example.com")
    second = make_user(rt, "second.workers@example.com")
    ws = workspaces.create_workspace(system(rt), "Workers", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, second.id, "manager")
    project = projects.create_project(
        system(rt), ws.id, name="Workers", config={"type": "preference", "criteria": []}, settings={"overlap": 2}
    )
    items = [
        {
            "external_id": f"x{i}",
            "data": {"prompt": f"Question {i}? ✓", "responses": [f"yes {i}", f"no {i}"]},
            "meta": {"batch": i % 3} if i % 2 else None,
        }
        for i in range(n)
    ]
    imports.import_tasks(system(rt), project.id, list(enumerate(items, start=1)))
    listed = {t["external_id"]: t["id"] for t in tasks.list_tasks(system(rt), project.id, limit=100)["items"]}
    made = []
    for i in range(n):
        if i % 5 == 4:
            continue  # some tasks nobody answered
        made.append(
            annotations.submit_annotation(
                as_user(rt, owner.id), listed[f"x{i}"], {"preferred": i % 2, "strength": "clear"}, lead_time_ms=10 + i
            )
        )
        if i % 3 == 0:
            annotations.submit_annotation(as_user(rt, second.id), listed[f"x{i}"], {"preferred": "tie"}, lead_time_ms=7)
    reviews.review_annotation(as_user(rt, second.id), made[0]["id"], "accept")
    return project


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_closed_download_ends_its_workers(paged):
    project = _project(paged)
    export = exports.start_export(system(paged), project.id, request=ExportRequest(fmt="jsonl"))
    stream = export.stream()
    got = [next(stream), next(stream)]  # the first page (made here), then one the workers made
    assert got[0] and got[1]
    pids = export.worker_pids
    assert pids and all(_alive(pid) for pid in pids)
    stream.close()  # what the HTTP route does when the client goes away (web/api/projects.py _closing)
    assert not any(_alive(pid) for pid in pids)
    assert export.manifest is None  # cut short: no manifest
    with pytest.raises(Exception, match="did not finish"):
        exports.get_manifest(system(paged), export.id)


def test_a_worker_that_dies_costs_nothing_but_time(paged, monkeypatch):
    project = _project(paged)
    monkeypatch.setattr(paged.settings, "export_workers", 0)
    whole = b"".join(exports.start_export(system(paged), project.id, request=ExportRequest(fmt="jsonl")).stream())
    monkeypatch.setattr(paged.settings, "export_workers", 2)
    export = exports.start_export(system(paged), project.id, request=ExportRequest(fmt="jsonl"))
    stream = export.stream()
    got = [next(stream), next(stream)]
    pids = export.worker_pids
    assert pids
    os.kill(pids[0], signal.SIGKILL)
    got.extend(stream)  # the pages the pool had are made here, in order
    assert b"".join(got) == whole
    assert export.manifest is not None and export.manifest["file"]["bytes"] == len(whole)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


def test_parquet_reads_back_as_the_jsonl_rows(paged):
    """Built a page at a time in workers, read back with pyarrow: row by row the JSON Lines export."""
    pq = pytest.importorskip("pyarrow.parquet")
    project = _project(paged)
    for per in ("task", "annotation"):
        lines = b"".join(
            exports.start_export(system(paged), project.id, request=ExportRequest(fmt="jsonl", per=per)).stream()
        )
        export = exports.start_export(system(paged), project.id, request=ExportRequest(fmt="parquet", per=per))
        data = b"".join(export.stream())
        assert export.worker_pids
        want = [orjson.loads(line) for line in lines.splitlines()]
        got = pq.read_table(io.BytesIO(data)).to_pylist()
        assert len(got) == len(want) > 0
        for row, line in zip(got, want):
            assert set(row) == set(line)
            for key, value in line.items():
                if key in ("data", "meta", "predictions"):
                    assert (orjson.loads(row[key]) if row[key] is not None else None) == value
                elif key in ("annotations", "annotation"):
                    answers = value if key == "annotations" else [value]
                    stored = row[key] if key == "annotations" else [row[key]]
                    assert len(stored) == len(answers)
                    for a, b in zip(stored, answers):
                        assert orjson.loads(a["result"]) == b["result"]
                        assert {k: a[k] for k in a if k != "result"} == {
                            k: b[k] for k in ("id", "task_id", "project_id", "user_id", "lead_time_ms", "created_at")
                        }
                else:
                    assert row[key] == value, key


@pytest.mark.parametrize("lossless", [True, False])
def test_parquet_pages_join_to_the_same_file(lossless):
    """Any cut of the rows into pages (batches built apart, held, cut into row groups) makes the
    file that the rows written in one go make, byte for byte — over several row groups."""
    rng = random.Random(7)
    if lossless:
        rows = [
            {
                "id": f"tsk_{i:06d}",
                "data": {"text": "é" * (i % 7), "n": i},
                "external_id": None if i % 4 else f"e{i}",
                "meta": None if i % 3 else {"k": i},
                "priority": i % 5,
                "done": bool(i % 2),
                "annotations": [
                    {"id": f"ann_{i}_{k}", "user_id": "u", "result": {"v": k}, "lead_time_ms": None, "created_at": i}
                    for k in range(i % 3)
                ],
            }
            for i in range(12_345)
        ]
    else:
        rows = [{"prompt": f"p{i}", "chosen": "a" * (i % 9), "rejected": "b", "tie": False} for i in range(12_345)]
    whole = b"".join(write_parquet(iter(rows), lossless=lossless))
    pages = PARQUET.pages
    assert pages is not None
    encoding = Encoding("lossless" if lossless else "dpo", "preference")
    fixed = pages.fix(rows[:1], encoding)
    parts = []
    at = 0
    while at < len(rows):
        size = rng.choice([1, 7, 777, 2000, 5000, 6100])
        parts.append(pages.encode(rows[at : at + size], encoding, fixed))
        parts.append(None)  # a page without rows
        at += size
    assert b"".join(pages.join(iter(parts), encoding)) == whole
    assert pq_groups(whole) == 3


def pq_groups(data: bytes) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(io.BytesIO(data)).num_row_groups


def test_an_opener_opens_what_open_opens_and_refuses_what_it_refuses(rt):
    """Sealer.opener (an export's pages): the same associated data and the same refusals as Sealer.open."""
    from bastion.storage.crypto import Sealer, TamperedCiphertext

    project = _project(rt, 1)
    ws = project.workspace_id
    sealer = Sealer(rt.keyring, ws, project.key_id)
    older = Sealer(rt.keyring, ws, rt.keyring.create_key(ws, project.id))  # a value sealed under another key
    blob, old_blob = sealer.seal("tasks", "tsk_1", "payload", b"one"), older.seal("tasks", "tsk_2", "payload", b"two")
    opener = sealer.opener("tasks", "payload")
    assert opener("tsk_1", blob) == b"one" == sealer.open("tasks", "tsk_1", "payload", blob)
    assert opener("tsk_2", old_blob) == b"two"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    for table, column, record_id, value in (
        ("tasks", "payload", "tsk_9", blob),  # copied onto another record
        ("tasks", "predictions", "tsk_1", blob),  # another column
        ("annotations", "payload", "tsk_1", blob),  # another table
        ("tasks", "payload", "tsk_1", tampered),
        ("tasks", "payload", "tsk_2", old_blob[:-1] + bytes([old_blob[-1] ^ 1])),
        ("tasks", "payload", "tsk_1", blob[:20]),  # not a sealed value
    ):
        with pytest.raises(TamperedCiphertext):
            sealer.opener(table, column)(record_id, value)
        with pytest.raises(TamperedCiphertext):
            sealer.open(table, record_id, column, value)


def test_workers_end_themselves_when_the_exporting_process_is_killed(tmp_path):
    """A process killed outright cannot end its pool: its export workers notice and exit."""
    import subprocess
    import sys

    script = tmp_path / "killed.py"
    script.write_text(
        "import os, time, types\n"
        "from bastion.exporting.base import Encoding\n"
        "from bastion.services.export_pool import PagePool\n"
        "if __name__ == '__main__':\n"
        "    pool = PagePool(2, types.SimpleNamespace(config=None), len, Encoding('lossless', 'x'), None)\n"
        "    while not pool.ready():\n"
        "        time.sleep(0.05)\n"
        "    time.sleep(0.5)\n"
        "    print(*pool.pids(), flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    pids = [int(p) for p in done.stdout.split()]
    assert pids, done.stderr  # (processes are started as pages need them: one at least)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
