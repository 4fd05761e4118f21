"""Guidelines over HTTP: the labelling page's gate and its acknowledge button (CSRF), the reading and
comparing pages, writing a version and adding an FAQ entry from the questions page, and the JSON API
(409 guidelines_unacknowledged on next, submit-and-next saying which version is owed, the unified diff)."""

from __future__ import annotations

from bastion.client import Conflict, GuidelinesUnacknowledged
from bastion.client.errors import error_from_response
from bastion.services import content, guidelines, questions, queue, users, workspaces
from factories import as_user, make_side, make_user, system

PASSWORD = "guidelines pages password"
HX = {"HX-Request": "true"}
V1 = "# How to label\n\nPick **pos** when the text praises.\n\n<script>alert(1)</script>\n"


def _sign_in(client, rt, person):
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def _member(rt, side, role, tag):
    person = make_user(rt, f"{role}.{tag}.gpage@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    return person


def test_the_labelling_page_waits_for_the_acknowledgement(client, rt):
    side = make_side(rt, "gp", n_tasks=3, settings={"overlap": 1})
    person = _member(rt, side, "annotator", "gp")
    guidelines.create_version(side.ctx(rt, "manager"), side.project_id, V1)
    csrf = _sign_in(client, rt, person)
    # Start (with htmx): no task, the guidelines and the button instead.
    shown = client.post(f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, headers=HX)
    assert shown.status_code == 200 and "data-task-id" not in shown.text
    assert 'id="acknowledge-form"' in shown.text and "<strong>pos</strong>" in shown.text
    assert "<script>alert" not in shown.text and "&lt;script&gt;" in shown.text  # no raw HTML
    assert f'data-overlay="{person.id}' in shown.text
    # Without htmx the POST goes back to the page, which shows the same.
    plain = client.post(f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/projects/{side.project_id}/label"
    assert 'id="acknowledge-form"' in client.get(f"/projects/{side.project_id}/label").text
    # The acknowledgement is a POST with the form's token.
    refused = client.post(f"/projects/{side.project_id}/guidelines/acknowledge", data={"version": "1"})
    assert refused.status_code == 403
    done = client.post(
        f"/projects/{side.project_id}/guidelines/acknowledge",
        data={"version": "1", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/projects/{side.project_id}/label"
    task = client.post(f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, headers=HX)
    assert "data-task-id" in task.text
    label = client.get(f"/projects/{side.project_id}/label").text
    assert 'id="guidelines-link"' in label
    # The German page says it in German.
    guidelines.create_version(side.ctx(rt, "manager"), side.project_id, V1 + "\nMore.\n")
    german = client.get(f"/projects/{side.project_id}/label", headers={"Accept-Language": "de"}).text
    assert 'id="guidelines-next"' in german and "nach dieser Aufgabe" in german
    client.cookies.clear()


def test_reading_comparing_writing_and_the_faq(client, rt):
    side = make_side(rt, "gw", n_tasks=2, settings={"overlap": 1})
    manager = _member(rt, side, "manager", "gw")
    worker = _member(rt, side, "annotator", "gw")
    csrf = _sign_in(client, rt, manager)
    assert "no guidelines yet" in client.get(f"/projects/{side.project_id}/guidelines").text
    edit = client.get(f"/projects/{side.project_id}/guidelines/edit")
    assert edit.status_code == 200 and 'id="guidelines-form"' in edit.text
    bad = client.post(f"/projects/{side.project_id}/guidelines", data={"csrf_token": csrf, "body": "  "})
    assert bad.status_code == 422 and "body: write a few words" in bad.text
    made = client.post(
        f"/projects/{side.project_id}/guidelines", data={"csrf_token": csrf, "body": V1}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"].endswith("/guidelines?version=1")
    client.post(f"/projects/{side.project_id}/guidelines", data={"csrf_token": csrf, "body": V1 + "\nBe brief.\n"})
    page = client.get(f"/projects/{side.project_id}/guidelines").text
    assert "Be brief." in page and 'data-version="2"' in page and 'data-version="1"' in page
    diff = client.get(f"/projects/{side.project_id}/guidelines/diff?from=1&to=2").text
    assert '<ins class="diff-added">+Be brief.</ins>' in diff
    # An answered question goes into the FAQ as the manager edits it.
    guidelines.acknowledge(as_user(rt, worker.id), side.project_id, 2)
    task = queue.next_task(as_user(rt, worker.id), side.project_id)
    asked = questions.ask_question(as_user(rt, worker.id), side.project_id, task["id"], "Quote: 'secret'. Praise?")
    questions.answer_question(as_user(rt, manager.id), side.project_id, asked["id"], "Yes.")
    listing = client.get(f"/projects/{side.project_id}/questions?state=answered").text
    assert f'action="/projects/{side.project_id}/questions/{asked["id"]}/promote"' in listing
    promoted = client.post(
        f"/projects/{side.project_id}/questions/{asked['id']}/promote",
        data={"csrf_token": csrf, "question": "Is praise pos?", "answer": "Yes.", "minor": "yes"},
        follow_redirects=False,
    )
    assert promoted.status_code == 303 and promoted.headers["location"].endswith("?version=3")
    body = guidelines.read_version(system(rt), side.project_id, 3)["body"]
    assert "**Q:** Is praise pos?" in body and "secret" not in body
    client.cookies.clear()
    # The annotator reads, compares, but does not write.
    _sign_in(client, rt, worker)
    assert client.get(f"/projects/{side.project_id}/guidelines").status_code == 200
    assert client.get(f"/projects/{side.project_id}/guidelines/edit").status_code == 403
    assert client.get(f"/projects/{side.project_id}/guidelines?version=9").status_code == 404
    client.cookies.clear()


def test_the_api(client, rt):
    side = make_side(rt, "gapi", n_tasks=3, settings={"overlap": 1})
    base = f"/api/v1/projects/{side.project_id}"
    worker, manager = side.headers("annotator"), side.headers("manager")
    task = client.post(f"{base}/next", headers=worker).json()
    made = client.post(f"{base}/guidelines", json={"body": V1}, headers=manager)
    assert made.status_code == 201 and made.json()["version"] == 1
    assert made.headers["location"] == f"{base}/guidelines/1"
    # The held task is finished; submit-and-next says what is owed instead of a next task.
    after = client.post(
        f"/api/v1/tasks/{task['id']}/submit-and-next", json={"result": {"label": "pos"}}, headers=worker
    )
    assert after.status_code == 200 and after.json()["next"] is None and after.json()["guidelines_owed"] == 1
    refused = client.post(f"{base}/next", headers=worker)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "guidelines_unacknowledged"
    assert refused.json()["error"]["details"] == {"project_id": side.project_id, "version": 1}
    raised = error_from_response(refused)  # the SDK raises it by its own name
    assert isinstance(raised, GuidelinesUnacknowledged) and isinstance(raised, Conflict)
    assert raised.details["version"] == 1
    listed = client.get(f"{base}/guidelines", headers=worker).json()
    assert listed["owed"] == 1 and [v["version"] for v in listed["items"]] == [1]
    read = client.get(f"{base}/guidelines/1", headers=worker).json()
    assert "How to label" in read["body"] and read["owed"] == 1
    ack = client.post(f"{base}/guidelines/acknowledge", json={"version": 1}, headers=worker)
    assert ack.status_code == 200 and ack.json()["owed"] is None
    assert client.post(f"{base}/next", headers=worker).status_code == 200
    client.post(f"{base}/guidelines", json={"body": V1 + "More.\n", "requires_ack": False}, headers=manager)
    diff = client.get(f"{base}/guidelines/diff?from=1&to=2", headers=worker).json()
    assert diff["unified"].startswith("--- version 1\n+++ version 2\n") and "\n+More." in diff["unified"]
    assert client.post(f"{base}/guidelines", json={"body": "x"}, headers=worker).status_code == 403
    assert client.get(f"{base}/guidelines/7", headers=worker).status_code == 404
    assert client.get(f"{base}/guidelines", headers=side.headers("auditor")).status_code == 403
    bad = client.post(f"{base}/guidelines", json={"body": ""}, headers=manager)
    assert bad.status_code == 422 and "body" in bad.json()["error"]["message"]
