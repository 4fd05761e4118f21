"""The task page (/tasks/{task_id}): who may open it, which text it shows, every annotation in its widget,
the review history, who was shown the task — and that reading it is on the record."""

from __future__ import annotations

import html
import re

import orjson

from bastion.leaks.simulation import generate_items
from bastion.leaks.slots import find_slots
from bastion.services import annotations, audit, content, imports, projects, queue, reviews, tasks, users, workspaces
from factories import as_user, make_side, make_user, system

PASSWORD = "task page password long"
SPANS = {"type": "spans", "labels": ["THING", "PHRASE"]}


def _member(rt, side, role, tag=""):
    """A member who has opened the workspace (a page view may not be a first access: it would bind them)."""
    person = make_user(rt, f"{role}{tag}.{side.workspace_id[-8:]}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    return person


def _sign_in(client, rt, email):
    secret, _ = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)


def _task_ids(rt, project_id):
    return [t["id"] for t in tasks.list_tasks(system(rt), project_id)["items"]]


def _shown_data(page: str):
    found = re.search(r'<pre class="task-text" id="task-json">(.*?)</pre>', page, re.S)
    assert found, page[:500]
    return orjson.loads(html.unescape(found.group(1)))


def _widgets(page: str, section: str) -> list[str]:
    """The widgets' HTML inside one section of the page, in order."""
    body = re.search(rf'<section class="card" id="{section}".*?</section>', page, re.S)
    assert body, section
    return re.split(r'(?=<div class="widget )', body.group(0))[1:]


def _checked(fragment: str) -> list[str]:
    return re.findall(r'<input[^>]*?value="([^"]*)"[^>]*?\bchecked\b', fragment)


def test_who_may_open_a_task_page(client, rt):
    side, other = make_side(rt, "tp", n_tasks=2), make_side(rt, "tpo", n_tasks=1)
    (task_id, _), (foreign,) = _task_ids(rt, side.project_id), _task_ids(rt, other.project_id)
    for role, status in (("owner", 200), ("manager", 200), ("reviewer", 200), ("annotator", 403), ("auditor", 403)):
        person = _member(rt, side, role)
        _sign_in(client, rt, person.email)
        assert client.get(f"/tasks/{task_id}").status_code == status, role
        # Another workspace's task, and a task that never was, do not exist for them.
        assert client.get(f"/tasks/{foreign}").status_code == 404, role
        assert client.get("/tasks/tsk_" + "0" * 32).status_code == 404, role
        assert client.get("/tasks/not-an-id").status_code == 404, role
    r = client.get(f"/tasks/{task_id}", params={"as": "x" * 61})
    assert r.status_code == 422 and "as" in r.text
    client.cookies.clear()
    assert client.get(f"/tasks/{task_id}", follow_redirects=False).status_code in (303, 401)


def test_every_annotation_in_its_widget_with_the_review_history_and_who_was_shown_it(client, rt):
    side = make_side(rt, "hist", n_tasks=1, settings={"overlap": 2, "quality": {"review": "all"}})
    (task_id,) = _task_ids(rt, side.project_id)
    worker = side.ctx(rt, "annotator")
    queue.next_task(worker, side.project_id)
    annotations.submit_annotation(worker, task_id, {"label": "pos"}, lead_time_ms=800)
    second = make_user(rt, "second.hist@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, second.id, "annotator")
    queue.next_task(as_user(rt, second.id), side.project_id)
    annotations.submit_annotation(as_user(rt, second.id), task_id, {"label": "neg"})
    reviewer = side.ctx(rt, "reviewer")
    held = reviews.review_next(reviewer, side.project_id)
    reviews.review_annotation(
        reviewer,
        held["annotation"]["id"],
        "correct",
        comment="It reads <b>neutral</b>",
        correction={"label": "neutral"},
    )

    manager = _member(rt, side, "manager")
    _sign_in(client, rt, manager.email)
    page = client.get(f"/tasks/{task_id}").text
    shown = _widgets(page, "annotations")
    assert len(shown) == 2 and all(
        'data-mode="read"' in w and 'fieldset class="widget-lock" disabled' in w for w in shown
    )
    assert sorted(_checked(w)[0] for w in shown) == ["neg", "pos"]  # each in its own widget, its own answer
    assert all('class="choice differs"' in w for w in shown)  # the labels they differ on are marked
    assert "annotator.hist" in page and "second.hist" in page and "0.8 s" in page
    assert "corrected" in page and "waiting for review" in page
    (correction,) = _widgets(page, "reviews")
    assert _checked(correction) == ["neutral"]
    assert "It reads &lt;b&gt;neutral&lt;/b&gt;" in page and "<b>neutral" not in page
    assert "for the workspace's owners" in page and 'id="as-form"' not in page  # who saw what: owners only
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids clash between the widgets"

    owner = _member(rt, side, "owner", "2")
    _sign_in(client, rt, owner.email)
    page = client.get(f"/tasks/{task_id}").text
    table = re.search(r'<section class="card" id="shown".*?</section>', page, re.S).group(0)
    for who, how in (("annotator.hist", "leased it, and answered"), ("second.hist", "was shown it in the queue")):
        assert re.search(rf"<td>{re.escape(who)}</td><td>{how}</td>", table), (who, table)
    assert "reviewer.hist</td><td>reviewed an annotation of it" in table
    assert f"<td>{manager.email.split('@')[0]}</td><td>read it</td>" in table  # the manager's reading is on record
    client.cookies.clear()

    events = audit.list_entries(system(rt), side.workspace_id, limit=1000)["items"]
    reads = [e for e in events if e["action"] == "task.read" and e["target"] == task_id]
    assert {e["actor"] for e in reads} == {manager.id, owner.id}
    assert all(e["details"]["view"] == "page" and e["details"]["annotations"] == 2 for e in reads), reads


def test_owners_see_the_original_and_each_persons_variant_with_annotations_on_it(client, rt):
    side = make_side(rt, "tv", n_tasks=0)
    project = projects.create_project(
        system(rt), side.workspace_id, name="Variants", config=SPANS, settings={"overlap": 1}
    )
    text = generate_items(1, seed=11)[0]
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": text}})])
    (task_id,) = _task_ids(rt, project.id)
    slots = find_slots(text)
    word = next(
        m
        for m in re.finditer(r"[A-Za-z]{7,}", text)
        if text.count(m.group()) == 1 and not any(s.start < m.end() and m.start() < s.end for s in slots)
    )
    worker = side.ctx(rt, "annotator")
    theirs = queue.next_task(worker, project.id)["data"]["text"]
    at = theirs.index(word.group())
    annotations.submit_annotation(
        worker, task_id, {"spans": [{"start": at, "end": at + len(word.group()), "label": "THING"}]}
    )
    reviewer = _member(rt, side, "reviewer", "v")
    mine = tasks.get_task(as_user(rt, reviewer.id), task_id)["data"]["text"]
    assert len({text, theirs, mine}) == 3  # a text rich in slots: three people, three texts

    def span_text(page):
        (widget,) = _widgets(page, "annotations")
        shown = orjson.loads(html.unescape(re.search(r'data-text="([^"]*)"', widget).group(1)))
        initial = orjson.loads(html.unescape(re.search(r'data-initial="([^"]*)"', widget).group(1)))
        ((start, end),) = [(s["start"], s["end"]) for s in initial["spans"]]
        return shown, shown[start:end]

    # A reviewer: their own variant, the annotation's offsets on it.
    _sign_in(client, rt, reviewer.email)
    page = client.get(f"/tasks/{task_id}").text
    assert _shown_data(page)["text"] == mine and 'data-text="yours"' in page
    assert span_text(page) == (mine, word.group())
    assert client.get(f"/tasks/{task_id}", params={"as": side.users["annotator"]}).status_code == 403

    # A manager: the original (as exports carry it), and no one else's text.
    manager = _member(rt, side, "manager", "v")
    _sign_in(client, rt, manager.email)
    page = client.get(f"/tasks/{task_id}").text
    assert _shown_data(page)["text"] == text and 'data-text="original"' in page
    assert span_text(page) == (text, word.group())
    assert client.get(f"/tasks/{task_id}", params={"as": side.users["annotator"]}).status_code == 403

    # An owner: the original, and the text each person who was shown the task was shown.
    owner = _member(rt, side, "owner", "v")
    _sign_in(client, rt, owner.email)
    page = client.get(f"/tasks/{task_id}").text
    assert _shown_data(page)["text"] == text
    assert f'value="{side.users["annotator"]}"' in page and f'value="{reviewer.id}"' in page
    page = client.get(f"/tasks/{task_id}", params={"as": side.users["annotator"]}).text
    assert _shown_data(page)["text"] == theirs and 'data-text="theirs"' in page
    assert span_text(page) == (theirs, word.group())
    assert _shown_data(client.get(f"/tasks/{task_id}", params={"as": reviewer.id}).text)["text"] == mine
    # Someone the record says was never shown it: refused, naming the parameter.
    idle = make_user(rt, "idle.tv@example.com")
    workspaces.add_member(system(rt), side.workspace_id, idle.id, "annotator")
    never = client.get(f"/tasks/{task_id}", params={"as": idle.id})
    assert never.status_code == 422 and "as:" in never.text
    client.cookies.clear()

    events = audit.list_entries(system(rt), side.workspace_id, limit=1000)["items"]
    asked = [e["details"].get("as_user") for e in events if e["action"] == "task.read" and e["actor"] == owner.id]
    assert sorted(a for a in asked if a) == sorted([side.users["annotator"], reviewer.id])
