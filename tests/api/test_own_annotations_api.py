"""A person's own work over HTTP: progress, their annotations, edit and undo (services/own_annotations.py),
on both databases; nobody reaches another person's annotations or another workspace's project."""

from __future__ import annotations

import pytest

from factories import make_side


def _label(client, side, role, label):
    h = side.headers(role)
    task = client.post(f"/api/v1/projects/{side.project_id}/next", headers=h).json()
    made = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=h, json={"result": {"label": label}})
    assert made.status_code == 201, made.text
    return made.json()


def test_progress_list_edit_and_undo_of_ones_own_annotations(client, rt):
    side = make_side(rt, "own", n_tasks=3, settings={"overlap": 1})
    h, p = side.headers("annotator"), side.project_id
    first = _label(client, side, "annotator", "pos")
    second = _label(client, side, "annotator", "neg")

    progress = client.get(f"/api/v1/projects/{p}/me/progress", headers=h).json()
    assert progress == {"done": 2, "done_last_day": 2, "left": 1, "paused": None}

    page = client.get(f"/api/v1/projects/{p}/me/annotations", headers=h, params={"limit": 1}).json()
    assert [a["id"] for a in page["items"]] == [second["id"]] and page["next_cursor"]
    rest = client.get(f"/api/v1/projects/{p}/me/annotations", headers=h, params={"cursor": page["next_cursor"]}).json()
    assert [a["id"] for a in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    item = rest["items"][0]
    assert item["result"] == {"label": "pos"} and item["version"] == 1 and item["can_change"]
    assert item["review_status"] == "none" and item["review"] is None and item["data"]["text"]

    edited = client.patch(
        f"/api/v1/projects/{p}/me/annotations/{first['id']}", headers=h, json={"result": {"label": "neutral"}}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["result"] == {"label": "neutral"} and edited.json()["version"] == 2
    bad = client.patch(f"/api/v1/projects/{p}/me/annotations/{first['id']}", headers=h, json={"result": {"label": "x"}})
    assert bad.status_code == 422 and "label" in bad.json()["error"]["message"]

    undone = client.post(f"/api/v1/projects/{p}/me/undo", headers=h)
    assert undone.status_code == 200, undone.text
    assert undone.json()["task"]["id"] == second["task_id"] and undone.json()["previous"] == {"label": "neg"}
    assert undone.json()["task"]["lease"]["expires_at"] > 0
    assert client.get(f"/api/v1/projects/{p}/me/progress", headers=h).json()["done"] == 1
    mine = client.get(f"/api/v1/projects/{p}/me/annotations", headers=h).json()["items"]
    assert [(a["id"], a["result"]) for a in mine] == [(first["id"], {"label": "neutral"})]


def test_another_persons_annotation_and_another_workspaces_project_are_out_of_reach(client, rt):
    side = make_side(rt, "mine", n_tasks=2, settings={"overlap": 2})
    other = make_side(rt, "theirs", n_tasks=1)
    theirs = _label(client, side, "annotator", "pos")
    p = side.project_id
    # The reviewer works the same project, but the annotator's annotation is not theirs to change.
    refused = client.patch(
        f"/api/v1/projects/{p}/me/annotations/{theirs['id']}",
        headers=side.headers("reviewer"),
        json={"result": {"label": "neg"}},
    )
    assert refused.status_code == 403
    assert client.get(f"/api/v1/projects/{p}/me/annotations", headers=side.headers("reviewer")).json()["items"] == []
    # Another workspace's people: the project does not exist for them.
    for r in (
        client.get(f"/api/v1/projects/{p}/me/progress", headers=other.headers("annotator")),
        client.get(f"/api/v1/projects/{p}/me/annotations", headers=other.headers("owner")),
        client.post(f"/api/v1/projects/{p}/me/undo", headers=other.headers("annotator")),
        client.patch(
            f"/api/v1/projects/{p}/me/annotations/{theirs['id']}",
            headers=other.headers("owner"),
            json={"result": {"label": "neg"}},
        ),
        client.patch(
            f"/api/v1/projects/{other.project_id}/me/annotations/{theirs['id']}",
            headers=other.headers("annotator"),
            json={"result": {"label": "neg"}},
        ),
    ):
        assert r.status_code == 404, (r.request.url, r.text)
    # An auditor does not work the queue.
    assert client.get(f"/api/v1/projects/{p}/me/progress", headers=side.headers("auditor")).status_code == 403


@pytest.mark.parametrize("cursor", ["nope", "tsk_" + "0" * 32])
def test_a_cursor_that_was_not_given_is_refused(client, rt, cursor):
    side = make_side(rt, "cur", n_tasks=1)
    r = client.get(
        f"/api/v1/projects/{side.project_id}/me/annotations",
        headers=side.headers("annotator"),
        params={"cursor": cursor},
    )
    assert r.status_code == 422 and "cursor" in r.json()["error"]["message"]
