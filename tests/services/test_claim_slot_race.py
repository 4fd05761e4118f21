"""Two annotators racing for a task's last slot (PostgreSQL): only one takes it.

On PostgreSQL the candidate is claimed ``FOR UPDATE SKIP LOCKED`` and its slot taken in one
statement (``queue_store.CLAIM_SLOT``). While one person's claim holds the row, another person's
next passes over it (and does not wait); once the first has committed, the slot is gone and the
guarded update refuses it. SQLite runs one writer at a time: no two claims interleave there.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.services import queue, workspaces
from bastion.storage import queue_store as qs
from bastion.storage import schema
from factories import as_user, make_side, make_user, operator_tx, system

pytestmark = pytest.mark.postgres


def _people(rt, ws: str, tag: str, names: str) -> list[str]:
    ids = []
    for name in names:
        user = make_user(rt, f"{name}.{tag}@example.com")
        workspaces.add_member(system(rt), ws, user.id, "annotator")
        ids.append(user.id)
    return ids


def _counts(rt, task_id: str) -> tuple[int, int]:
    T = schema.tasks
    with operator_tx(rt) as tx:
        row = tx.execute(select(T.c.annotation_count, T.c.lease_count).where(T.c.id == task_id)).one()
    return row[0], row[1]


class _Undo(Exception):
    pass


@pytest.mark.parametrize("db_kind", ["postgresql"])
@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_the_last_slot_goes_to_one_claim_only(rt, outcome):
    tag = f"race{outcome[0]}"
    side = make_side(rt, tag, n_tasks=1, settings={"overlap": 2})
    ws, project = side.workspace_id, side.project_id
    x, y, z = _people(rt, ws, tag, "xyz")
    task = queue.next_task(as_user(rt, x), project)["id"]  # one slot of two left
    assert _counts(rt, task) == (0, 1)
    try:
        with operator_tx(rt) as tx:  # y's claim of the last slot, not yet committed
            taken = qs.first_open(tx, ws, project, y, 2, None, take=True)
            assert taken is not None and taken[1] == task
            # z's next meanwhile: its peek sees the task (a plain read), its claim passes over the
            # locked row without waiting, and nothing else is left for z.
            assert queue.next_task(as_user(rt, z), project) is None
            if outcome == "rollback":
                raise _Undo
    except _Undo:
        pass
    if outcome == "commit":
        assert _counts(rt, task) == (0, 2)
        assert queue.next_task(as_user(rt, z), project) is None  # full: the guarded update refuses it
    else:  # y's claim undone: the slot is free again, and z's next finds the task it passed over
        assert _counts(rt, task) == (0, 1)
        assert queue.next_task(as_user(rt, z), project)["id"] == task
        assert _counts(rt, task) == (0, 2)


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_claim_of_a_full_task_takes_nothing(rt):
    """The claim's own guard: a task whose slots are all taken is never claimed, whatever the start."""
    tag = "racef"
    side = make_side(rt, tag, n_tasks=1, settings={"overlap": 1})
    ws, project = side.workspace_id, side.project_id
    x, y = _people(rt, ws, tag, "xy")
    task = queue.next_task(as_user(rt, x), project)["id"]
    with operator_tx(rt) as tx:
        assert qs.first_open(tx, ws, project, y, 1, None, take=True) is None
        assert qs.first_open(tx, ws, project, y, 1, (0, task), take=True) is None
    assert _counts(rt, task) == (0, 1)
