"""Tasks after import over HTTP: every role, foreign ids answer 404, bad bodies 422."""

from __future__ import annotations

import pytest

from factories import make_side

ROLES = ("owner", "manager", "reviewer", "annotator", "auditor")
MAY = {"owner", "manager"}


def _task_ids(client, side) -> list[str]:
    r = client.get(f"/api/v1/projects/{side.project_id}/tasks", headers=side.headers("owner"))
    return [t["id"] for t in r.json()["items"]]


@pytest.mark.parametrize("role", ROLES)
def test_who_may_change_delete_and_assign(client, rt, role):
    side = make_side(rt, f"r{role[:3]}", n_tasks=4, settings={"overlap": 1})
    h = side.headers(role)
    first, second, third, fourth = _task_ids(client, side)
    allowed = role in MAY
    answers = [
        client.patch(f"/api/v1/tasks/{first}", headers=h, json={"priority": 3}),
        client.patch(
            f"/api/v1/projects/{side.project_id}/tasks",
            headers=h,
            json={"filter": {"ids": [second]}, "patch": {"meta": {"a": 1}}},
        ),
        client.post(f"/api/v1/tasks/{third}/assignee", headers=h, json={"user": f"annotator.r{role[:3]}@example.com"}),
        client.delete(f"/api/v1/tasks/{third}/assignee", headers=h),
        client.delete(f"/api/v1/tasks/{fourth}", headers=h),
        client.post(f"/api/v1/projects/{side.project_id}/tasks/delete", headers=h, json={"filter": {"ids": [first]}}),
    ]
    for r in answers:
        assert r.status_code == (200 if allowed else 403), (role, r.request.url, r.text)
    if allowed:
        assert answers[0].json() == {"id": first, "fields": ["priority"]}
        assert answers[1].json() == {"updated": 1, "fields": ["meta"]}
        assert answers[2].json()["user_id"] == side.users["annotator"]
        assert answers[3].json() == {"id": third, "released": 1}
        assert answers[4].json()["tasks"] == 1 and answers[5].json()["tasks"] == 1


def test_foreign_ids_are_not_found_and_bad_bodies_are_refused(client, rt):
    a, b = make_side(rt, "fa", n_tasks=1), make_side(rt, "fb", n_tasks=1)
    task = _task_ids(client, a)[0]
    h = b.headers("owner")
    assert client.patch(f"/api/v1/tasks/{task}", headers=h, json={"priority": 1}).status_code == 404
    assert client.delete(f"/api/v1/tasks/{task}", headers=h).status_code == 404
    assert (
        client.post(f"/api/v1/tasks/{task}/assignee", headers=h, json={"user": "owner.fb@example.com"}).status_code
        == 404
    )
    assert client.delete(f"/api/v1/tasks/{task}/assignee", headers=h).status_code == 404
    body = {"filter": {"ids": [task]}, "patch": {"priority": 1}}
    assert client.patch(f"/api/v1/projects/{a.project_id}/tasks", headers=h, json=body).status_code == 404
    r = client.patch(f"/api/v1/projects/{b.project_id}/tasks", headers=h, json=body)
    assert r.json() == {"updated": 0, "fields": ["priority"]}  # another project's id matches nothing
    own = a.headers("owner")
    for bad in ({"priority": 5000}, {"data": {}}, {"predictions": [{"label": "nope"}]}, {}):
        r = client.patch(f"/api/v1/tasks/{task}", headers=own, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] in ("invalid_input", "validation_error"), r.text
    r = client.patch(
        f"/api/v1/projects/{a.project_id}/tasks", headers=own, json={"filter": {}, "patch": {"priority": 1}}
    )
    assert r.status_code == 422
    r = client.post(f"/api/v1/tasks/{task}/assignee", headers=own, json={"user": "auditor.fa@example.com"})
    assert r.status_code == 409 and "role auditor" in r.json()["error"]["message"]
