"""Many annotators at once against a live server: overlap and uniqueness hold in the database."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from bastion.services import workspaces
from bastion.storage import schema
from factories import make_side, make_token, make_user, operator_tx, system
from live_server import serving

CLIENTS = 12
TASKS = 60
OVERLAP = 2


@pytest.fixture
def live_server(rt):
    with serving(rt) as url:
        yield url


def test_parallel_annotators_never_exceed_overlap(rt, live_server):
    side = make_side(rt, "cc", n_tasks=TASKS, settings={"overlap": OVERLAP})
    tokens = []
    for i in range(CLIENTS):
        user = make_user(rt, f"par{i}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        tokens.append(make_token(rt, user.id))
    acknowledged: list[tuple[str, str]] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def work(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=live_server, headers=headers, timeout=30) as http:
            start.wait()
            while True:
                r = http.post(f"/api/v1/projects/{side.project_id}/next")
                if r.status_code == 204:
                    return
                if r.status_code != 200:
                    errors.append(f"next {r.status_code} {r.text}")
                    return
                task_id = r.json()["id"]
                r = http.post(f"/api/v1/tasks/{task_id}/annotations", json={"result": {"label": "pos"}})
                if r.status_code == 201:
                    with lock:
                        acknowledged.append((r.json()["id"], task_id))
                else:
                    errors.append(f"submit {r.status_code} {r.text}")

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    with operator_tx(rt, write=False) as tx:
        stored = tx.execute(
            select(schema.annotations.c.id, schema.annotations.c.task_id, schema.annotations.c.user_id)
        ).all()
        tasks = tx.execute(
            select(schema.tasks.c.id, schema.tasks.c.annotation_count, schema.tasks.c.lease_count, schema.tasks.c.done)
        ).all()
    per_task = Counter(row.task_id for row in stored)
    assert max(per_task.values()) <= OVERLAP
    assert len({(row.task_id, row.user_id) for row in stored}) == len(stored)
    assert {a for a, _ in acknowledged} <= {row.id for row in stored}  # nothing acknowledged is lost
    assert len(stored) == TASKS * OVERLAP  # every slot was filled
    assert all(t.annotation_count == OVERLAP and t.lease_count == 0 and t.done for t in tasks)
