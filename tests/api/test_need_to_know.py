"""Need-to-know over HTTP: owner-only routes, tracing a leak, and what an annotator is ever served.

The end-to-end test records every HTTP response an annotator receives during a
labelling run — JSON API and pages — and finds none of the seeded personal
data, secrets or codenames in any of them.
"""

from __future__ import annotations

import html
import json
import random
import re
from pathlib import Path

import orjson
import pytest

from bastion.leaks.simulation import ATTACKS, CANARY_TEXT, generate_items
from bastion.services import imports, projects, users, workspaces
from factories import approval, make_side, make_user, system

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "redaction"
PASSWORD = "need to know password"
NON_OWNERS = ("manager", "reviewer", "annotator", "auditor")


def _routes(project_id: str, task_id: str, canary_id: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/api/v1/tasks/{task_id}/reidentified", None),
        ("GET", f"/api/v1/projects/{project_id}/export?reidentify=true", None),
        ("GET", f"/api/v1/projects/{project_id}/held", None),
        ("POST", f"/api/v1/tasks/{task_id}/release", None),
        ("GET", f"/api/v1/projects/{project_id}/canaries", None),
        ("POST", f"/api/v1/projects/{project_id}/canaries", {"data": {"text": CANARY_TEXT}}),
        ("GET", f"/api/v1/canaries/{canary_id}", None),
        ("POST", f"/api/v1/canaries/{canary_id}/approve", None),
        ("POST", f"/api/v1/canaries/{canary_id}/retire", None),
        ("POST", f"/api/v1/projects/{project_id}/trace", {"excerpts": ["some leaked text"]}),
    ]


def test_owner_only_routes_answer_403_to_every_other_role_and_404_elsewhere(client, rt):
    a = make_side(rt, "nka", n_tasks=0)
    b = make_side(rt, "nkb", n_tasks=0)
    config = {"type": "classification", "labels": ["x", "y"], "redaction": {"dictionaries": {"codename": ["Falcon"]}}}
    project = projects.create_project(system(rt), a.workspace_id, name="P", config=config)
    imports.import_tasks(
        system(rt), project.id, [(1, {"data": {"text": "Falcon token eyJub3RqdXN0.eyJhYmNkZWZn.c2ln"}})]
    )
    task_id = client.get(f"/api/v1/projects/{project.id}/held", headers=a.headers("owner")).json()["items"][0][
        "task_id"
    ]
    canary = client.post(
        f"/api/v1/projects/{project.id}/canaries", headers=a.headers("owner"), json={"data": {"text": CANARY_TEXT}}
    )
    assert canary.status_code == 201, canary.text
    canary_id = canary.json()["id"]
    for method, path, body in _routes(project.id, task_id, canary_id):
        for role in NON_OWNERS:
            r = client.request(method, path, headers=a.headers(role), json=body)
            assert r.status_code == 403, (method, path, role, r.text)
            assert r.json()["error"]["code"] == "forbidden"
            assert "Falcon" not in r.text
        for role in ("owner", "manager", "annotator"):
            r = client.request(method, path, headers=b.headers(role), json=body)
            assert r.status_code == 404, (method, path, "other workspace", role, r.text)
    # Owners: every route works (in an order that keeps each meaningful).
    owner = a.headers("owner")
    # (the two-person operations with a second owner's approval each: tests/api/test_approvals.py covers them)
    shown = client.get(
        f"/api/v1/tasks/{task_id}/reidentified",
        headers=owner,
        params={"approval": a.approval(rt, "redaction.reidentify", {"task": task_id})},
    )
    assert shown.status_code == 200 and shown.json()["data"]["text"].startswith("Falcon token")
    assert (
        client.get(
            f"/api/v1/projects/{project.id}/export",
            headers=owner,
            params={"reidentify": "true", "approval": a.approval(rt, "redaction.reidentify", {"project": project.id})},
        )
        .json()["data"]["text"]
        .startswith("Falcon")
    )
    assert client.post(f"/api/v1/tasks/{task_id}/release", headers=owner).json() == {"task_id": task_id, "held": False}
    assert client.post(f"/api/v1/tasks/{task_id}/release", headers=owner).status_code == 422
    assert [
        c["id"]
        for c in client.get(
            f"/api/v1/projects/{project.id}/canaries",
            headers=owner,
            params={"approval": a.approval(rt, "canary.list", {"project": project.id})},
        ).json()
    ] == [canary_id]
    assert client.post(f"/api/v1/canaries/{canary_id}/approve", headers=owner).json()["state"] == "approved"
    assert client.post(f"/api/v1/canaries/{canary_id}/approve", headers=owner).status_code == 409
    assert (
        client.get(
            f"/api/v1/canaries/{canary_id}",
            headers=owner,
            params={"approval": a.approval(rt, "canary.list", {"canary": canary_id})},
        ).json()["recipients"]
        == []
    )
    assert client.post(f"/api/v1/canaries/{canary_id}/retire", headers=owner).json()["state"] == "retired"
    r = client.post(f"/api/v1/projects/{project.id}/trace", headers=owner, json={"excerpts": ["unrelated words"]})
    assert r.status_code == 200 and r.json()["verdict"] == "inconclusive" and r.json()["suspects"] == []
    # Bad input: a clear 422 naming the field, nothing written.
    for body, field in (
        ({"excerpts": []}, "excerpts"),
        ({"excerpts": ["x"], "alpha": 2}, "alpha"),
        ({"excerpts": ["x"], "extra": 1}, "extra"),
    ):
        r = client.post(f"/api/v1/projects/{project.id}/trace", headers=owner, json=body)
        assert r.status_code == 422 and field in r.text, r.text
    r = client.post(f"/api/v1/projects/{project.id}/canaries", headers=owner, json={"data": {"text": "no facts"}})
    assert r.status_code == 422 and "data" in r.json()["error"]["message"]


def test_trace_through_the_api_recovers_the_leaker_of_a_task_shown_to_several_people(client, rt):
    side = make_side(rt, "api-trace", n_tasks=0)
    project = projects.create_project(
        system(rt),
        side.workspace_id,
        name="T",
        config={"type": "classification", "labels": ["a", "b"]},
        settings={"overlap": 4},
    )
    imports.import_tasks(
        system(rt), project.id, [(i + 1, {"data": {"text": t}}) for i, t in enumerate(generate_items(3, seed=5))]
    )
    people = []
    for i in range(4):
        user = make_user(rt, f"worker{i}.api@example.com")
        workspaces.add_member(system(rt), side.workspace_id, user.id, "annotator")
        token = client.post(
            "/api/v1/tokens",
            headers={"Authorization": f"Bearer {_token(rt, user.id)}"},
            json={"name": "w", "scope": "full"},
        ).json()["token"]
        people.append((user.id, {"Authorization": f"Bearer {token}"}))
    copies = {}
    for user_id, headers in people:
        task = client.post(f"/api/v1/projects/{project.id}/next", headers=headers).json()
        copies[user_id] = (task["id"], task["data"]["text"])
    assert len({t for t, _ in copies.values()}) == 1  # one task, shown to all four
    assert len({text for _, text in copies.values()}) == 4
    guilty = people[2][0]
    leaked = ATTACKS["html_sanitiser"](ATTACKS["half_excerpt"](copies[guilty][1], random.Random(1)), random.Random(2))
    r = client.post(f"/api/v1/projects/{project.id}/trace", headers=side.headers("owner"), json={"excerpts": [leaked]})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["verdict"] == "conclusive" and report["suspects"] == [guilty]
    assert report["sources"] == [{**report["sources"][0], "task_id": copies[guilty][0], "recipients": 4}]
    assert report["ranking"][0]["user_id"] == guilty and report["ranking"][0]["email"] == "worker2.api@example.com"
    assert report["ranking"][0]["p_innocent_as_good"] < 1e-4 < report["ranking"][1]["p_innocent_as_good"]


def _token(rt, user_id: str) -> str:
    from factories import make_token

    return make_token(rt, user_id)


# -- what an annotator is served ---------------------------------------------------------


def _seeded() -> tuple[list[dict], dict[str, list[str]], list[str]]:
    lines = [json.loads(line) for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
    dictionary = json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))
    values = sorted({e["value"] for line in lines for e in line["entities"]})
    return lines, dictionary, values


def _needles(value: str) -> list[str]:
    """How a value could appear in a response: as is, JSON-escaped, HTML-escaped (long lines of a key block)."""
    parts = [p for p in value.splitlines() if len(p) >= 16 and "-----" not in p] if "\n" in value else [value]
    out = set()
    for part in parts:
        out.update({part, orjson.dumps(part).decode()[1:-1], html.escape(part), html.escape(part, quote=False)})
    return sorted(out)


def test_no_seeded_secret_or_codename_reaches_an_annotator(client, rt):
    lines, dictionary, values = _seeded()
    owner = make_user(rt, "owner.e2e@example.com", password=PASSWORD)
    annotator = make_user(rt, "annotator.e2e@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "E2E", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, annotator.id, "annotator")
    policy = {"dictionaries": dictionary}
    pages_project = projects.create_project(
        system(rt),
        ws.id,
        name="Pages",
        config={
            "type": "classification",
            "labels": ["ok", "sensitive"],
            "redaction": policy,
            "instructions": "Is the message sensitive?",
        },
    )
    api_project = projects.create_project(
        system(rt), ws.id, name="API", config={"type": "spans", "labels": ["SECRET", "NAME"], "redaction": policy}
    )
    half = len(lines) // 2
    for project, chunk in ((pages_project, lines[:half]), (api_project, lines[half:])):
        report = imports.import_tasks(
            system(rt), project.id, [(i + 1, {"data": {"text": line["text"]}}) for i, line in enumerate(chunk)]
        )
        assert report.rejected == []

    served: list[tuple[str, str]] = []

    def record(response):
        response.read()
        served.append((f"{response.request.method} {response.request.url.path}", response.text))

    client.event_hooks["response"].append(record)
    # Through the pages, signed in: home, project, labelling with htmx swaps, a skip.
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (
        client.post(
            "/login",
            data={"email": "annotator.e2e@example.com", "password": PASSWORD, "csrf_token": token, "next": "/"},
        ).status_code
        == 200
    )
    client.get("/")
    client.get(f"/projects/{pages_project.id}")
    view = client.get(f"/projects/{pages_project.id}/label")  # a Start button: a GET leases nothing
    assert 'id="start-form"' in view.text and 'data-task-id="' not in view.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', view.text).group(1)
    view = client.post(f"/projects/{pages_project.id}/next", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    labelled = 0
    while 'data-task-id="' in view.text:
        task_id = re.search(r'data-task-id="([^"]+)"', view.text).group(1)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', view.text).group(1)
        if labelled == 3:
            view = client.post(
                f"/projects/{pages_project.id}/skip",
                data={"csrf_token": csrf, "task_id": task_id},
                headers={"HX-Request": "true"},
            )
        else:
            view = client.post(
                f"/projects/{pages_project.id}/label",
                headers={"HX-Request": "true"},
                data={"csrf_token": csrf, "task_id": task_id, "label": "ok", "shown_at": "0"},
            )
        assert view.status_code == 200, view.text
        labelled += 1
    assert labelled >= half - 5  # held items are never served
    # Through the API, with a token: the queue, reads, submissions, the owner-only routes (refused).
    headers = {"Authorization": f"Bearer {_token(rt, annotator.id)}"}
    client.get("/api/v1/me", headers=headers)
    client.get(f"/api/v1/workspaces/{ws.id}/projects", headers=headers)
    client.get(f"/api/v1/projects/{api_project.id}", headers=headers)
    task = client.post(f"/api/v1/projects/{api_project.id}/next", headers=headers).json()
    steps = 0
    while task:
        client.get(f"/api/v1/tasks/{task['id']}", headers=headers)
        client.get(f"/api/v1/tasks/{task['id']}/reidentified", headers=headers)
        text = task["data"]["text"]
        spans = [
            {"start": m.start(), "end": m.end(), "label": "SECRET"} for m in re.finditer(r"\[[A-Z_]+_\d+\]", text)
        ][:3]
        if steps % 2:
            r = client.post(
                f"/api/v1/tasks/{task['id']}/annotations", headers=headers, json={"result": {"spans": spans}}
            )
            assert r.status_code == 201, r.text
            client.get(f"/api/v1/tasks/{task['id']}/annotations", headers=headers)
            r = client.post(f"/api/v1/projects/{api_project.id}/next", headers=headers)
            task = r.json() if r.status_code == 200 else None
        else:
            r = client.post(
                f"/api/v1/tasks/{task['id']}/submit-and-next", headers=headers, json={"result": {"spans": spans}}
            )
            assert r.status_code == 200, r.text
            task = r.json()["next"]
        steps += 1
    assert steps >= len(lines) - half - 5
    client.post("/api/v1/queue/next", headers=headers)
    client.get(f"/api/v1/projects/{api_project.id}/export?reidentify=true", headers=headers)
    client.get(f"/api/v1/projects/{api_project.id}/held", headers=headers)
    client.post(f"/api/v1/projects/{api_project.id}/trace", headers=headers, json={"excerpts": ["x"]})

    assert len(served) > 2 * len(lines) // 2
    assert any("[CODENAME_" in body for _, body in served) and any("[EMAIL_" in body for _, body in served)
    leaks_found = []
    for value in values:
        for needle in _needles(value):
            # Names and codenames: any case, as a word ("falconry" is not "Falcon"); the rest exactly.
            pattern = (
                re.compile(rf"(?<![^\W\d_]){re.escape(needle)}(?![^\W\d_])", re.IGNORECASE)
                if value.replace(" ", "").isalpha()
                else re.compile(re.escape(needle))
            )
            for where, body in served:
                for m in pattern.finditer(body):
                    leaks_found.append((value, where, body[max(0, m.start() - 60) : m.end() + 60]))
    assert leaks_found == []
    # The same values, as a control, are in what the owner exports with re-identification.
    owner_token = _token(rt, owner.id)
    allowed = approval(rt, ws.id, "redaction.reidentify", {"project": api_project.id}, requester=owner.id)
    restored = client.get(
        f"/api/v1/projects/{api_project.id}/export",
        headers={"Authorization": f"Bearer {owner_token}"},
        params={"reidentify": "true", "approval": allowed},
    ).text
    assert sum(1 for line in lines[half:] for e in line["entities"] if e["value"] in restored) >= 10


@pytest.mark.parametrize("role", NON_OWNERS)
def test_the_redaction_policy_is_not_in_the_config_others_read(client, rt, role):
    side = make_side(rt, f"cfg-{role}", n_tasks=0)
    config = {"type": "classification", "labels": ["x"], "redaction": {"dictionaries": {"codename": ["Bluewhistle"]}}}
    project = projects.create_project(system(rt), side.workspace_id, name="P", config=config)
    r = client.get(f"/api/v1/projects/{project.id}", headers=side.headers(role))
    assert r.status_code == 200 and "Bluewhistle" not in r.text and "redaction" not in r.json()["config"]
    listed = client.get(f"/api/v1/workspaces/{side.workspace_id}/projects", headers=side.headers(role)).text
    assert "Bluewhistle" not in listed
    assert "Bluewhistle" in client.get(f"/api/v1/projects/{project.id}", headers=side.headers("owner")).text


# -- pseudonyms are not an oracle ----------------------------------------------------------

ORACLE_POLICY = {
    "dictionaries": {
        "codename": ["Nightjar", "Bluewhistle", "Kestrel Prime"],
        "person": ["Dana Whitlock", "Priya Raghunathan"],
    }
}


def _guesses(value: str) -> list[dict]:
    """A manager's guesses about ``value``: the whole text of a real task, and a question with a prediction."""
    question = f"Who owns {value}? Ask Dana Whitlock about {value}."
    return [
        {"data": {"text": f"Dana Whitlock will ship {value} in May. {value} is late."}},
        {
            "data": {"text": question},
            "predictions": [
                {
                    "spans": [
                        {"start": question.index(value), "end": question.index(value) + len(value), "label": "TOPIC"},
                        {"start": question.index("Dana"), "end": question.index("Dana") + 13, "label": "PERSON"},
                    ]
                }
            ],
        },
    ]


def _what_a_manager_reads(client, headers, project_id: str, before: set[str], counts: dict, report: dict) -> dict:
    """Everything a manager can read about one import, its own ids and times taken out."""
    listed = client.get(f"/api/v1/projects/{project_id}/tasks?limit=1000", headers=headers).json()["items"]
    new = sorted(t["id"] for t in listed if t["id"] not in before)
    names = {task_id: f"task-{i}" for i, task_id in enumerate(new)}

    def neutral(value):
        if isinstance(value, dict):
            return {k: neutral(v) for k, v in value.items() if k not in ("created_at", "updated_at", "import_id")}
        if isinstance(value, list):
            return [neutral(v) for v in value]
        if isinstance(value, str):
            for task_id, name in names.items():
                value = value.replace(task_id, name)
        return value

    exported = [
        orjson.loads(line)
        for line in client.get(
            f"/api/v1/projects/{project_id}/export?format=jsonl", headers=headers
        ).content.splitlines()
    ]
    page = client.get(f"/projects/{project_id}/tasks").text
    rows = re.findall(
        r"<tr><td><a class=\"task-link\" href=\"/tasks/tsk_\w+\"><code>(tsk_\w+)</code></a>(.*?)</tr>", page, re.S
    )
    project = client.get(f"/api/v1/projects/{project_id}", headers=headers).json()
    return neutral(
        {
            "report": report,
            "listed": [t for t in listed if t["id"] in names],
            "read": [client.get(f"/api/v1/tasks/{task_id}", headers=headers).json() for task_id in new],
            "exported": [row for row in exported if row["id"] in names],
            "browse_page": [row for task_id, row in rows if task_id in names],
            "counts": {k: project["counts"][k] - counts[k] for k in counts},  # what the import added
        }
    )


def test_a_guess_imported_by_a_manager_links_to_nothing_they_can_read(client, rt):
    """A manager may import but not re-identify. They import guesses about "Nightjar" (in the data)
    and the same guesses about "Bluewhistle" (in no task): had a guess linked to a real task — the
    same pseudonym, a duplicate, a number counting the values already stored — what they read about
    the two imports would differ."""
    side = make_side(rt, "oracle", n_tasks=0)
    project = projects.create_project(
        system(rt),
        side.workspace_id,
        name="Oracle",
        config={
            "type": "spans",
            "labels": ["PERSON", "TOPIC"],
            "redaction": ORACLE_POLICY,
            "leak_tracing": {"variants": {"enabled": False}},
        },
    )
    real = [
        {"data": {"text": "Kestrel Prime is on track, says Priya Raghunathan."}},
        {"data": {"text": "Dana Whitlock will ship Nightjar in May. Nightjar is late."}},
    ]
    assert imports.import_tasks(system(rt), project.id, list(enumerate(real, start=1))).imported == 2
    manager = make_user(rt, "manager.oracle.page@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, manager.id, "manager")
    headers = {"Authorization": f"Bearer {_token(rt, manager.id)}"}
    client.cookies.set("bastion_session", users.create_session(rt, manager)[0])
    try:
        views, ids = {}, {}
        for value in ("Nightjar", "Bluewhistle"):
            before = {
                t["id"]
                for t in client.get(f"/api/v1/projects/{project.id}/tasks?limit=1000", headers=headers).json()["items"]
            }
            counts = client.get(f"/api/v1/projects/{project.id}", headers=headers).json()["counts"]
            r = client.post(f"/api/v1/projects/{project.id}/tasks", headers=headers, json=_guesses(value))
            assert r.status_code == 200, r.text
            views[value] = _what_a_manager_reads(client, headers, project.id, before, counts, r.json())
            ids[value] = sorted(
                {
                    t["id"]
                    for t in client.get(f"/api/v1/projects/{project.id}/tasks?limit=1000", headers=headers).json()[
                        "items"
                    ]
                }
                - before
            )
        seen = views["Nightjar"]
        assert seen["report"]["imported"] == 2 and seen["counts"]["tasks"] == 2
        assert all(len(seen[k]) == 2 for k in ("listed", "read", "exported", "browse_page"))
        assert "Who owns [CODENAME_1]? Ask [PERSON_1] about [CODENAME_1]." in seen["browse_page"][1]
        assert seen["read"][1]["predictions"][0]["spans"][0]["text"] == "[CODENAME_1]"
        assert views["Nightjar"] == views["Bluewhistle"]
        # Re-running one's own import is still idempotent.
        again = client.post(f"/api/v1/projects/{project.id}/tasks", headers=headers, json=_guesses("Nightjar"))
        assert (again.json()["imported"], again.json()["duplicates"]) == (0, 2)
    finally:
        client.cookies.clear()
    # The control: the two imports do differ, for an owner who re-identifies them.
    owner = side.ctx(rt, "owner")
    from bastion.services import redaction

    texts = {
        value: [
            redaction.reidentify_task(
                owner, task_id, approval=side.approval(rt, "redaction.reidentify", {"task": task_id})
            )["data"]["text"]
            for task_id in ids[value]
        ]
        for value in ids
    }
    assert "Dana Whitlock will ship Nightjar in May. Nightjar is late." in texts["Nightjar"]
    assert "Dana Whitlock will ship Bluewhistle in May. Bluewhistle is late." in texts["Bluewhistle"]
