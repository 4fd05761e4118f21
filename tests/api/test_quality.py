"""Quality control over the API: gold mixing, feedback, auto-pause, the review loop, the report, aggregation."""

from __future__ import annotations

import math

import orjson

from bastion.quality import agreement_report
from bastion.services import imports, workspaces
from factories import make_project, make_side, make_token, make_user, system


def _annotators(rt, side, n, tag):
    headers = []
    for i in range(n):
        user = make_user(rt, f"{tag}{i}@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        headers.append({"Authorization": f"Bearer {make_token(rt, user.id)}"})
    return headers


def _gold_project(rt, side, quality):
    project = make_project(rt, side.workspace_id, name="gold", settings={"overlap": 1, "quality": quality})
    items = [(i, {"data": {"text": f"regular {i}"}}) for i in range(1, 4)]
    items += [(10 + i, {"data": {"text": f"known {i}"}, "gold": {"label": "pos"}}) for i in range(2)]
    assert imports.import_tasks(system(rt), project.id, items).imported == 5
    return project


def test_gold_tasks_are_mixed_in_and_look_like_any_other(client, rt):
    side = make_side(rt, "gm", n_tasks=0)
    project = _gold_project(rt, side, {"gold_rate": 1.0})
    (ann,) = _annotators(rt, side, 1, "gm")
    seen = []
    while (r := client.post(f"/api/v1/projects/{project.id}/next", headers=ann)).status_code == 200:
        task = r.json()
        assert set(task) == {"id", "project_id", "data", "predictions", "lease"}  # no tell
        seen.append(task["data"]["text"])
        s = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=ann, json={"result": {"label": "neg"}})
        assert s.status_code == 201 and "feedback" not in s.json()
    assert seen[:2] == ["known 0", "known 1"] and sorted(seen[2:]) == ["regular 1", "regular 2", "regular 3"]
    counts = client.get(f"/api/v1/projects/{project.id}", headers=side.headers("owner")).json()["counts"]
    assert counts["tasks"] == 3 and counts["annotations"] == 3  # gold answers are calibration, not work
    report = client.get(f"/api/v1/projects/{project.id}/quality", headers=side.headers("manager")).json()
    (row,) = report["gold_accuracy"]
    assert row["gold_answers"] == 2 and row["accuracy"] == 0.0 and 0 <= row["low"] <= row["high"] <= 1
    assert row["per_label"] == [
        {"label": "pos", "gold_answers": 2, "mean_score": 0.0, "accuracy": 0.0, "low": row["low"], "high": row["high"]}
    ]


def test_gold_feedback_and_auto_pause(client, rt):
    side = make_side(rt, "gp", n_tasks=0)
    project = _gold_project(rt, side, {"gold_rate": 1.0, "gold_feedback": True, "pause_below": 0.9, "pause_after": 2})
    (ann,) = _annotators(rt, side, 1, "gp")
    first = client.post(f"/api/v1/projects/{project.id}/next", headers=ann).json()
    r = client.post(f"/api/v1/tasks/{first['id']}/annotations", headers=ann, json={"result": {"label": "neg"}})
    assert r.json()["feedback"] == {"expected": {"label": "pos"}, "score": 0.0}
    second = client.post(f"/api/v1/projects/{project.id}/next", headers=ann).json()
    client.post(f"/api/v1/tasks/{second['id']}/annotations", headers=ann, json={"result": {"label": "neg"}})
    r = client.post(f"/api/v1/projects/{project.id}/next", headers=ann)
    assert r.status_code == 403 and "paused" in r.json()["error"]["message"]
    report = client.get(f"/api/v1/projects/{project.id}/quality", headers=side.headers("manager")).json()
    (pause,) = report["pauses"]
    assert (
        client.delete(
            f"/api/v1/projects/{project.id}/pauses/{pause['user_id']}", headers=side.headers("annotator")
        ).status_code
        == 403
    )
    assert (
        client.delete(
            f"/api/v1/projects/{project.id}/pauses/{pause['user_id']}", headers=side.headers("manager")
        ).status_code
        == 204
    )
    assert client.post(f"/api/v1/projects/{project.id}/next", headers=ann).status_code == 200
    feedback = client.get(f"/api/v1/workspaces/{side.workspace_id}/feedback", headers=ann).json()
    assert [f["expected"] for f in feedback] == [{"label": "pos"}, {"label": "pos"}]


def test_the_review_loop(client, rt):
    side = make_side(rt, "rv", n_tasks=0)
    project = make_project(
        rt, side.workspace_id, name="reviewed", settings={"overlap": 1, "quality": {"review": "all"}}
    )
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": "one"}}), (2, {"data": {"text": "two"}})])
    a1, a2 = _annotators(rt, side, 2, "rv")
    reviewer = side.headers("reviewer")
    t1 = client.post(f"/api/v1/projects/{project.id}/next", headers=a1).json()
    client.post(f"/api/v1/tasks/{t1['id']}/annotations", headers=a1, json={"result": {"label": "pos"}})
    t2 = client.post(f"/api/v1/projects/{project.id}/next", headers=a1).json()
    client.post(f"/api/v1/tasks/{t2['id']}/annotations", headers=a1, json={"result": {"label": "neg"}})
    assert client.post(f"/api/v1/projects/{project.id}/next", headers=a2).status_code == 204  # all taken

    item = client.post(f"/api/v1/projects/{project.id}/review/next", headers=reviewer).json()
    assert item["task"]["data"] == {"text": "one"} and item["annotator"]["annotations"] == 2
    assert (
        client.post(f"/api/v1/projects/{project.id}/review/next", headers=reviewer).json()["annotation"]["id"]
        == item["annotation"]["id"]
    )  # the same one while held
    assert client.post(f"/api/v1/projects/{project.id}/review/next", headers=a2).status_code == 403
    r = client.post(
        f"/api/v1/annotations/{item['annotation']['id']}/review", headers=reviewer, json={"decision": "reject"}
    )
    assert r.status_code == 422 and "comment" in r.json()["error"]["message"]
    r = client.post(
        f"/api/v1/annotations/{item['annotation']['id']}/review",
        headers=reviewer,
        json={"decision": "reject", "comment": "This one is clearly <b>neutral</b>."},
    )
    assert r.status_code == 201
    again = client.post(f"/api/v1/projects/{project.id}/next", headers=a2)  # back in the pool
    assert again.status_code == 200 and again.json()["id"] == t1["id"]
    feedback = client.get(f"/api/v1/workspaces/{side.workspace_id}/feedback", headers=a1).json()
    assert feedback[-1]["review"]["comment"] == "This one is clearly <b>neutral</b>."

    second = client.post(f"/api/v1/projects/{project.id}/review/next", headers=reviewer).json()
    r = client.post(
        f"/api/v1/annotations/{second['annotation']['id']}/review",
        headers=reviewer,
        json={"decision": "correct", "correction": {"label": "nope"}},
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/annotations/{second['annotation']['id']}/review",
        headers=reviewer,
        json={"decision": "correct", "correction": {"label": "neutral"}},
    )
    assert r.status_code == 201
    r = client.post(
        f"/api/v1/annotations/{second['annotation']['id']}/review", headers=reviewer, json={"decision": "accept"}
    )
    assert r.status_code == 409  # already reviewed

    export = client.get(f"/api/v1/projects/{project.id}/export?accepted_only=true", headers=side.headers("owner"))
    rows = [orjson.loads(line) for line in export.content.splitlines()]
    kept = {row["data"]["text"]: row["annotations"] for row in rows}
    assert kept["one"] == []  # the rejected annotation is not exported as accepted
    (corrected,) = kept["two"]
    assert corrected["result"] == {"label": "neutral"} and corrected["original_result"] == {"label": "neg"}
    full = [
        orjson.loads(line)
        for line in client.get(
            f"/api/v1/projects/{project.id}/export", headers=side.headers("owner")
        ).content.splitlines()
    ]
    statuses = sorted(a["review"]["status"] for row in full for a in row["annotations"])
    assert statuses == ["corrected", "rejected"]


def test_reviewers_never_review_their_own_work(client, rt):
    side = make_side(rt, "own", n_tasks=1, settings={"quality": {"review": "all"}})
    reviewer = side.headers("reviewer")
    task = client.post(f"/api/v1/projects/{side.project_id}/next", headers=reviewer).json()
    ann = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=reviewer, json={"result": {"label": "pos"}})
    assert client.post(f"/api/v1/projects/{side.project_id}/review/next", headers=reviewer).status_code == 204
    r = client.post(f"/api/v1/annotations/{ann.json()['id']}/review", headers=reviewer, json={"decision": "accept"})
    assert r.status_code == 403


def test_report_agrees_with_the_library_and_aggregation_exports(client, rt):
    side = make_side(rt, "qr", n_tasks=0)
    project = make_project(rt, side.workspace_id, name="agree", settings={"overlap": 3})
    imports.import_tasks(system(rt), project.id, [(i, {"data": {"text": f"t{i}"}}) for i in range(1, 7)])
    people = _annotators(rt, side, 3, "qr")
    answers = [
        ["pos", "pos", "neg", "neutral", "pos", "neg"],
        ["pos", "neg", "neg", "neutral", "pos", "neg"],
        ["pos", "pos", "neg", "pos", "pos", "neutral"],
    ]
    table = ([], [], [])
    for who, headers in enumerate(people):
        while (r := client.post(f"/api/v1/projects/{project.id}/next", headers=headers)).status_code == 200:
            task = r.json()
            label = answers[who][int(task["data"]["text"][1:]) - 1]
            client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=headers, json={"result": {"label": label}})
            table[0].append(task["id"])
            table[1].append(who)
            table[2].append(label)
    report = client.get(f"/api/v1/projects/{project.id}/quality?method=mv", headers=side.headers("reviewer")).json()
    expected = agreement_report(*table).to_dict()
    got = report["agreement"]
    for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha"):
        assert math.isclose(got[key]["value"], expected[key]["value"], abs_tol=1e-12), key
    assert got["summary"].startswith("α = ")
    assert report["aggregation"]["tasks"] == 6 and report["aggregation"]["confusion"]["labels"]
    rows = [
        orjson.loads(line)
        for line in client.get(
            f"/api/v1/projects/{project.id}/export?aggregate=mv", headers=side.headers("owner")
        ).content.splitlines()
    ]
    majority = {row["data"]["text"]: row["aggregate"]["label"] for row in rows}
    assert majority == {"t1": "pos", "t2": "pos", "t3": "neg", "t4": "neutral", "t5": "pos", "t6": "neg"}
    assert client.get(f"/api/v1/projects/{project.id}/quality", headers=side.headers("annotator")).status_code == 403


def test_empty_and_degenerate_projects_have_defined_figures(client, rt):
    side = make_side(rt, "dg", n_tasks=2)
    report = client.get(f"/api/v1/projects/{side.project_id}/quality", headers=side.headers("owner"))
    assert report.status_code == 200 and report.json()["agreement"]["n_ratings"] == 0
    task = client.post(f"/api/v1/projects/{side.project_id}/next", headers=side.headers("annotator")).json()
    client.post(
        f"/api/v1/tasks/{task['id']}/annotations", headers=side.headers("annotator"), json={"result": {"label": "pos"}}
    )
    body = client.get(f"/api/v1/projects/{side.project_id}/quality", headers=side.headers("owner")).text
    assert "NaN" not in body and "Infinity" not in body
    alpha = orjson.loads(body)["agreement"]["krippendorff_alpha"]
    assert alpha["value"] is None and alpha["reason"]
