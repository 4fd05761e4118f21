"""The annotator's pages: their progress, undo on the labelling page, their answers and an answer
changed in its widget, questions asked while labelling and answered by a manager."""

from __future__ import annotations

import re

from bastion.services import annotations, content, queue, reviews, users, workspaces
from factories import as_user, make_side, make_user, system

PASSWORD = "answers pages password"
HX = {"HX-Request": "true"}


def _sign_in(client, rt, person):
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def _member(rt, side, role, tag):
    person = make_user(rt, f"{role}.{tag}.page@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    return person


def _task_id(html):
    return re.search(r'data-task-id="(tsk_\w+)"', html).group(1)


def _count(html, dd_id):
    return int(re.search(rf'id="{dd_id}"[^>]*>(\d+)<', html).group(1))


def test_the_project_page_shows_my_own_progress_not_only_completed_tasks(client, rt):
    """The reported bug: "Done 0" after an annotator's work, because it counts tasks with all their annotations."""
    side = make_side(rt, "pp", n_tasks=3, settings={"overlap": 2})
    person = _member(rt, side, "annotator", "pp")
    csrf = _sign_in(client, rt, person)
    start = client.post(f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, headers=HX)
    client.post(
        f"/projects/{side.project_id}/label",
        data={"csrf_token": csrf, "task_id": _task_id(start.text), "label": "pos", "shown_at": "0"},
        headers=HX,
    )
    page = client.get(f"/projects/{side.project_id}").text
    assert _count(page, "count-done") == 0  # the project: no task has its two answers yet
    assert _count(page, "my-done") == 1 and _count(page, "my-today") == 1 and _count(page, "my-left") == 2
    label = client.get(f"/projects/{side.project_id}/label").text
    assert _count(label, "my-done") == 1 and f'href="/projects/{side.project_id}/mine"' in label
    client.cookies.clear()


def test_submit_then_undo_shows_the_task_again_with_my_answer(client, rt):
    side = make_side(rt, "pu", n_tasks=2, settings={"overlap": 1})
    person = _member(rt, side, "annotator", "pu")
    csrf = _sign_in(client, rt, person)
    start = client.post(f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, headers=HX)
    first = _task_id(start.text)
    assert 'id="undo-form"' in start.text and 'id="ask-form"' in start.text
    after = client.post(
        f"/projects/{side.project_id}/label",
        data={"csrf_token": csrf, "task_id": first, "label": "neutral", "shown_at": "0"},
        headers=HX,
    )
    assert 'data-event="submitted"' in after.text and _task_id(after.text) != first
    undone = client.post(f"/projects/{side.project_id}/undo", data={"csrf_token": csrf}, headers=HX)
    assert undone.status_code == 200 and 'data-event="undone"' in undone.text
    assert _task_id(undone.text) == first
    assert re.search(r'value="neutral"[^>]*checked', undone.text)  # the widget starts from my answer
    again = client.post(f"/projects/{side.project_id}/undo", data={"csrf_token": csrf}, headers=HX)
    assert again.status_code == 200 and "no annotation here to take back" in again.text  # htmx swaps 200s only
    assert 'data-event="undone"' not in again.text
    plain = client.post(f"/projects/{side.project_id}/undo", data={"csrf_token": csrf})
    assert plain.status_code == 422 and "no annotation here to take back" in plain.text
    refused = client.post(f"/projects/{side.project_id}/undo", data={"csrf_token": "forged"}, headers=HX)
    assert refused.status_code == 403
    client.cookies.clear()


def test_my_annotations_list_and_an_answer_changed_in_its_widget(client, rt):
    side = make_side(rt, "pl", n_tasks=3, settings={"overlap": 1, "quality": {"review": "all"}})
    person = _member(rt, side, "annotator", "pl")
    me = as_user(rt, person.id)
    given = []
    for label in ("pos", "neg"):
        task = queue.next_task(me, side.project_id)
        given.append(annotations.submit_annotation(me, task["id"], {"label": label}))
    reviewer = side.ctx(rt, "reviewer")
    reviews.review_next(reviewer, side.project_id)
    reviews.review_annotation(reviewer, given[0]["id"], "reject", comment="<b>sarcasm</b> is negative")
    csrf = _sign_in(client, rt, person)
    mine = client.get(f"/projects/{side.project_id}/mine")
    assert mine.status_code == 200
    assert mine.text.index(given[1]["id"]) < mine.text.index(given[0]["id"])  # newest first
    assert "&lt;b&gt;sarcasm&lt;/b&gt; is negative" in mine.text and "waiting for review" in mine.text
    edit_links = re.findall(r'href="(/projects/[^"]+/mine/(ann_\w+)/edit)"', mine.text)
    assert [a for _, a in edit_links] == [given[1]["id"]]  # the rejected one is final
    form = client.get(edit_links[0][0])
    assert form.status_code == 200 and re.search(r'value="neg"[^>]*checked', form.text)
    bad = client.post(edit_links[0][0], data={"csrf_token": csrf})
    assert bad.status_code == 422 and "choose a label" in bad.text
    saved = client.post(edit_links[0][0], data={"csrf_token": csrf, "label": "pos"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"?edited={given[1]['id']}")
    mine = client.get(saved.headers["location"]).text
    assert 'id="edited-notice"' in mine and "(version 2)" in mine
    assert client.get(f"/projects/{side.project_id}/mine/{given[0]['id']}/edit").status_code == 409
    assert client.post(edit_links[0][0], data={"csrf_token": "forged", "label": "neg"}).status_code == 403
    # Someone else's answer; another workspace's project.
    other = make_user(rt, "other.pl@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, other.id, "annotator")
    task = queue.next_task(as_user(rt, other.id), side.project_id)
    theirs = annotations.submit_annotation(as_user(rt, other.id), task["id"], {"label": "pos"})
    assert client.get(f"/projects/{side.project_id}/mine/{theirs['id']}/edit").status_code == 403
    b = make_side(rt, "pl-b", n_tasks=1)
    assert client.get(f"/projects/{b.project_id}/mine").status_code == 404
    assert client.get(f"/projects/{b.project_id}/mine/{given[1]['id']}/edit").status_code == 404
    assert client.get(f"/projects/{side.project_id}/mine?cursor=junk").status_code == 422
    client.cookies.clear()


def test_a_question_asked_while_labelling_answered_by_a_manager(client, rt):
    side = make_side(rt, "pq", n_tasks=2, settings={"overlap": 1})
    person = _member(rt, side, "annotator", "pq")
    manager = _member(rt, side, "manager", "pq")
    csrf = _sign_in(client, rt, person)
    start = client.post(f"/projects/{side.project_id}/next", data={"csrf_token": csrf}, headers=HX)
    task_id = _task_id(start.text)
    empty = client.post(
        f"/projects/{side.project_id}/ask", data={"csrf_token": csrf, "task_id": task_id, "text": " "}, headers=HX
    )
    assert empty.status_code == 200 and "text: write a few words" in empty.text
    asked = client.post(
        f"/projects/{side.project_id}/ask",
        data={"csrf_token": csrf, "task_id": task_id, "text": "Is <irony> negative?", "keep": "yes"},
        headers=HX,
    )
    assert "went to the project&#39;s managers" in asked.text and _task_id(asked.text) == task_id
    assert client.get(f"/projects/{side.project_id}/questions").status_code == 403  # annotators do not answer
    client.cookies.clear()

    csrf_m = _sign_in(client, rt, manager)
    assert 'id="questions-link"' in client.get(f"/projects/{side.project_id}").text
    listed = client.get(f"/projects/{side.project_id}/questions").text
    assert "Is &lt;irony&gt; negative?" in listed and "annotator.pq.page@example.com" in listed
    question_id = re.search(r'data-question-id="(qst_\w+)"', listed).group(1)
    url = f"/projects/{side.project_id}/questions/{question_id}/answer"
    assert client.post(url, data={"csrf_token": csrf_m, "answer": ""}).status_code == 422
    done = client.post(url, data={"csrf_token": csrf_m, "answer": "Yes, when it mocks."}, follow_redirects=False)
    assert done.status_code == 303
    assert 'id="no-questions"' in client.get(f"/projects/{side.project_id}/questions").text
    assert "Yes, when it mocks." in client.get(f"/projects/{side.project_id}/questions?state=answered").text
    assert client.get(f"/projects/{side.project_id}/questions?state=nope").status_code == 422
    client.cookies.clear()

    csrf = _sign_in(client, rt, person)
    label = client.get(f"/projects/{side.project_id}/label").text
    assert 'id="answers-notice"' in label
    mine = client.get(f"/projects/{side.project_id}/mine").text
    assert "Yes, when it mocks." in mine and 'id="mark-read-form"' in mine
    client.post(f"/projects/{side.project_id}/mine/read", data={"csrf_token": csrf})
    assert 'id="answers-notice"' not in client.get(f"/projects/{side.project_id}/label").text
    client.cookies.clear()
