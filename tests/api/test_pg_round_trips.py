"""PostgreSQL's path: how many round trips one annotator's next and submit cost (a behaviour, not a timing).

Counted on psycopg itself, as ``python -m benchmarks.pg_path`` counts them (a pipelined batch is one
round trip; BEGIN and COMMIT count): SQLAlchemy's statements, ``storage/fast.py``'s and the batches of
``fast.together`` / ``Statement.defer`` alike. A change that adds a round trip to the hot path fails
here: raise the figure only with a reason, and record it in docs/benchmarks.md.
"""

from __future__ import annotations

from collections import Counter

import pytest
from benchmarks.pg_path import counting

from factories import add_tasks, make_project

# The figures of docs/benchmarks.md ("PostgreSQL's path", "2026-12-06, later"), steady state (past the
# first access, connections used a moment ago: no pre-ping).
NEXT_ROUND_TRIPS = 7
SUBMIT_ROUND_TRIPS = 6
SUBMIT_AND_NEXT_ROUND_TRIPS = 11

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_next_and_submit_round_trips(rt, client, world):
    """One annotator of an overlap-2 project (as benchmarks.pg_path): no submit here completes a task
    (a completion also writes the event feed, the task's agreement and checks the project's end)."""
    side = world.a
    project_id = make_project(rt, side.workspace_id, name="Round trips", settings={"overlap": 2}).id
    add_tasks(rt, project_id, 6)
    auth = {"Authorization": f"Bearer {side.tokens['annotator']}"}
    body = {"result": {"label": "pos"}}

    def lease() -> str:
        r = client.post(f"/api/v1/projects/{project_id}/next", headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["id"]

    task_id = lease()  # the first access binds the person (a write and an audit event more)
    assert client.post(f"/api/v1/tasks/{task_id}/annotations", headers=auth, json=body).status_code == 201
    with counting(rt.db.engine) as counts:
        before = counts.snapshot()
        task_id = lease()
        after_next = counts.snapshot()
        seen = Counter(counts.statements)
        r = client.post(f"/api/v1/tasks/{task_id}/annotations", headers=auth, json=body)
        assert r.status_code == 201, r.text
        after_submit = counts.snapshot()
        submitted = counts.statements - seen
        r = client.post(f"/api/v1/tasks/{r.json()['task_id']}/annotations", headers=auth, json=body)
        assert r.status_code == 409  # refused: still counted, not measured below
        task_id = lease()
        start = counts.snapshot()
        r = client.post(f"/api/v1/tasks/{task_id}/submit-and-next", headers=auth, json=body)
        assert r.status_code == 200 and r.json()["next"] is not None, r.text
        end = counts.snapshot()
    next_trips = after_next[1] - before[1]
    submit_trips = after_submit[1] - after_next[1]
    loop_trips = end[1] - start[1]
    # The counter sees the work: BEGIN, COMMIT and at least the lease's and the audit's statements.
    assert after_next[0] - before[0] >= 6 and next_trips >= 4
    assert next_trips <= NEXT_ROUND_TRIPS, counts.statements
    assert submit_trips <= SUBMIT_ROUND_TRIPS, "\n".join(f"{n} {sql}" for sql, n in submitted.items())
    assert loop_trips <= SUBMIT_AND_NEXT_ROUND_TRIPS, counts.statements


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_transaction_of_deferred_writes_only_commits_them(rt):
    """Writes sent later (``Statement.defer``) that nothing followed still go with the COMMIT; a
    transaction that fails takes them with it."""
    from bastion.storage.fast import Statement
    from factories import make_user

    person = make_user(rt, "deferred@example.com").id
    rename = Statement("UPDATE users SET name = :name WHERE id = :id")

    def name() -> str:
        with rt.db.transaction(write=False) as tx:
            return Statement("SELECT name FROM users WHERE id = :id").scalar(tx, id=person)

    with rt.db.transaction() as tx:
        rename.defer(tx, name="First", id=person)  # the only thing the transaction asks
    assert name() == "First"
    with pytest.raises(RuntimeError), rt.db.transaction() as tx:
        rename.defer(tx, name="Never", id=person)
        raise RuntimeError("rolled back")
    assert name() == "First"
    with rt.db.transaction() as tx:
        rename.defer(tx, name="Second", id=person)
        rename.defer(tx, name="Third", id=person)  # in the order asked
    assert name() == "Third"
