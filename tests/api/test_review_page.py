"""The review page: the annotation in its widget beside the task's others, the correction posted by the widget's
own fields (no JSON), and refusals shown (200 to htmx, 422 to a plain post) with the reviewer's draft kept."""

from __future__ import annotations

import html
import re

import orjson

from bastion.leaks.simulation import generate_items
from bastion.leaks.slots import find_slots
from bastion.services import annotations, content, imports, projects, queue, reviews, users, workspaces
from bastion.tasktypes import installed
from factories import as_user, make_side, make_user, system

PASSWORD = "review page password long"
SPANS = {"type": "spans", "labels": ["THING", "PHRASE"]}
PREFERENCE = {"type": "preference", "responses_field": "responses", "strength": True, "randomize": True}


def _reviewer(client, rt, side):
    person = make_user(rt, f"rp.{side.workspace_id[-8:]}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "reviewer")
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    secret, _ = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    page = client.get(f"/projects/{side.project_id}/review")
    return person, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _annotate(rt, side, project_id, result, role="annotator"):
    ctx = side.ctx(rt, role)
    task = queue.next_task(ctx, project_id)
    return annotations.submit_annotation(ctx, task["id"], result)


def _start(client, project_id, csrf):
    page = client.post(f"/projects/{project_id}/review/next", data={"csrf_token": csrf}, headers={"hx-request": "1"})
    assert page.status_code == 200
    return page.text


def test_the_correction_comes_from_the_widget_and_refusals_show(client, rt):
    side = make_side(rt, "rpc", n_tasks=1, settings={"quality": {"review": "all"}})
    made = _annotate(rt, side, side.project_id, {"label": "pos"})
    reviewer, csrf = _reviewer(client, rt, side)
    page = _start(client, side.project_id, csrf)
    assert 'data-widget="classification" data-mode="correct"' in page
    assert "review-correction" not in page and "as JSON" not in page  # nothing is typed as JSON
    form = {"csrf_token": csrf, "annotation_id": made["id"], "decision": "correct"}

    # Correct without choosing: the widget's own message, to htmx (200) and to a plain post (422).
    for headers, status in (({"hx-request": "1"}, 200), ({}, 422)):
        r = client.post(f"/projects/{side.project_id}/review", data=form, headers=headers)
        assert r.status_code == status and "correction: choose a label" in r.text, r.text[:300]
        assert f'data-annotation-id="{made["id"]}"' in r.text  # still held, still shown
    # A label the project does not have: refused by the type, the draft shown again as posted.
    r = client.post(
        f"/projects/{side.project_id}/review",
        data={**form, "label": "bogus", "comment": "keep me"},
        headers={"hx-request": "1"},
    )
    assert "&#39;bogus&#39; is not a label" in r.text and ">keep me</textarea>" in r.text
    assert re.search(r'value="correct" data-hotkey="c"\s*checked', r.text)
    assert '<fieldset class="widget-lock">' in r.text  # the draft's widget open again, with or without script
    # The widget's fields: stored as the project's type makes it.
    r = client.post(
        f"/projects/{side.project_id}/review", data={**form, "label": "neutral"}, headers={"hx-request": "1"}
    )
    assert r.status_code == 200 and 'id="review-empty"' in r.text
    (feedback,) = reviews.my_feedback(side.ctx(rt, "annotator"), side.workspace_id)
    assert feedback["review"]["decision"] == "corrected" and feedback["review"]["correction"] == {"label": "neutral"}
    client.cookies.clear()


def test_fields_of_a_decision_other_than_correct_are_not_a_correction(client, rt):
    side = make_side(rt, "rpa", n_tasks=1, settings={"quality": {"review": "all"}})
    made = _annotate(rt, side, side.project_id, {"label": "pos"})
    _, csrf = _reviewer(client, rt, side)
    _start(client, side.project_id, csrf)
    r = client.post(
        f"/projects/{side.project_id}/review",
        data={"csrf_token": csrf, "annotation_id": made["id"], "decision": "accept", "label": "neg"},
        headers={"hx-request": "1"},
    )
    assert r.status_code == 200 and "error" not in r.text
    (feedback,) = reviews.my_feedback(side.ctx(rt, "annotator"), side.workspace_id)
    assert feedback["review"]["decision"] == "accepted" and feedback["review"]["correction"] is None
    client.cookies.clear()


def test_a_preference_is_reviewed_in_the_order_its_annotator_saw_and_corrected_by_screen_letter(client, rt):
    side = make_side(rt, "rpp", n_tasks=0)
    project = projects.create_project(
        system(rt), side.workspace_id, name="Pairs", config=PREFERENCE, settings={"quality": {"review": "all"}}
    )
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"prompt": "Hi", "responses": ["FIRST", "SECOND"]}})])
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, project.id)
    preference = installed().get("preference")
    shown = preference.widget_context(
        preference.parse_config(PREFERENCE), task["data"], task_id=task["id"], user_id=side.users["annotator"]
    )["shown"]
    seen = [r["index"] for r in shown]
    made = annotations.submit_annotation(
        ctx, task["id"], {"preferred": seen[0], "strength": "slight", "shown_order": seen}
    )
    _, csrf = _reviewer(client, rt, side)
    page = client.post(
        f"/projects/{project.id}/review/next", data={"csrf_token": csrf}, headers={"hx-request": "1"}
    ).text
    first = "FIRST" if seen[0] == 0 else "SECOND"
    assert page.index(first) < page.index("SECOND" if first == "FIRST" else "FIRST")  # A on the left, as for them
    assert f'name="shown_order" value="{",".join(map(str, seen))}"' in page
    # B is better, clearly: the reviewer's letters read through the order shown.
    r = client.post(
        f"/projects/{project.id}/review",
        data={
            "csrf_token": csrf,
            "annotation_id": made["id"],
            "decision": "correct",
            "choice": "B",
            "strength": "clear",
            "shown_order": ",".join(map(str, seen)),
        },
        headers={"hx-request": "1"},
    )
    assert 'id="review-empty"' in r.text, r.text[:400]
    (feedback,) = reviews.my_feedback(ctx, side.workspace_id)
    assert feedback["review"]["correction"] == {"preferred": seen[1], "strength": "clear", "shown_order": seen}
    client.cookies.clear()


def test_spans_are_reviewed_on_the_reviewers_own_variant_and_corrected_back_onto_the_original(client, rt):
    """The reviewer is shown their own variant (what they leak carries their fingerprint); the annotation's
    offsets are on it, and the widget's correction maps back onto the stored text."""
    side = make_side(rt, "rpv", n_tasks=0)
    project = projects.create_project(
        system(rt), side.workspace_id, name="Spans", config=SPANS, settings={"quality": {"review": "all"}}
    )
    text = generate_items(1, seed=5)[0]
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"text": text}})])
    slots = find_slots(text)
    word = next(
        m
        for m in re.finditer(r"[A-Za-z]{7,}", text)
        if text.count(m.group()) == 1 and not any(s.start < m.end() and m.start() < s.end for s in slots)
    )
    ctx = side.ctx(rt, "annotator")
    theirs = queue.next_task(ctx, project.id)
    at = theirs["data"]["text"].index(word.group())
    made = annotations.submit_annotation(
        ctx, theirs["id"], {"spans": [{"start": at, "end": at + len(word.group()), "label": "THING"}]}
    )
    _, csrf = _reviewer(client, rt, side)
    page = _start(client, project.id, csrf)
    shown = orjson.loads(html.unescape(re.search(r'data-text="([^"]*)"', page).group(1)))
    field = html.unescape(re.search(r'<input type="hidden" name="result"[^>]*value="([^"]*)"', page).group(1))
    (span,) = orjson.loads(field)["spans"]
    assert shown not in (text, theirs["data"]["text"])  # neither the original nor the annotator's text
    assert shown[span["start"] : span["end"]] == word.group()
    # The reviewer adds a span on what they see (the first word of their text): stored on the original.
    first = re.match(r"[A-Za-z]+", shown)
    fixed = {"spans": [span, {"start": 0, "end": first.end(), "label": "PHRASE"}]}
    r = client.post(
        f"/projects/{project.id}/review",
        data={
            "csrf_token": csrf,
            "annotation_id": made["id"],
            "decision": "correct",
            "result": orjson.dumps(fixed).decode(),
        },
        headers={"hx-request": "1"},
    )
    assert 'id="review-empty"' in r.text, r.text[:400]
    (feedback,) = reviews.my_feedback(ctx, side.workspace_id)
    stored = {(s["start"], s["end"], s["text"]) for s in feedback["review"]["correction"]["spans"]}
    assert (word.start(), word.end(), word.group()) in stored
    assert any(start == 0 and text[:end] == got for start, end, got in stored)
    client.cookies.clear()
