"""The annotator-facing pages speak the person's language (Accept-Language); the others stay English.

German is the shipped second language (src/bastion/web/locale/de); see docs/translations.md.
"""

from __future__ import annotations

import re

from bastion.demo import setup_demo
from bastion.services import content, projects, queue, users, workspaces
from factories import add_tasks, as_user, make_project, make_user, system

PASSWORD = "translated pages password"
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def _sign_in(client, rt, email):
    secret, _ = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)


def _annotator_holding_a_task(rt):
    owner = make_user(rt, "owner.i18n@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Übersetzt", owner=owner.id)
    project = make_project(rt, ws.id, name="Stimmung")
    add_tasks(rt, project.id, 2, prefix="ein Satz")
    person = make_user(rt, "annotator.i18n@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), ws.id, person.id, "annotator")
    assert queue.next_task(as_user(rt, person.id), project.id) is not None
    content.open_workspace(as_user(rt, owner.id), ws.id)
    return owner, person, project


def test_the_labelling_page_is_in_the_persons_language(client, rt):
    _owner, person, project = _annotator_holding_a_task(rt)
    _sign_in(client, rt, person.email)
    german = client.get(f"/projects/{project.id}/label", headers=GERMAN)
    assert german.status_code == 200
    assert '<html lang="de">' in german.text and german.headers["content-language"] == "de"
    assert "accept-language" in german.headers["vary"].lower()  # a cache keeps one copy per language
    for words in ("Absenden", "Überspringen", "Eine Antwort wählen", "Abmelden"):
        assert words in german.text, words
    assert "ein Satz" in german.text  # the task itself, as it is
    assert not re.search(r">\s*(Submit|Skip|Sign out|Choose one)\b", german.text)

    english = client.get(f"/projects/{project.id}/label")
    assert '<html lang="en">' in english.text and english.headers["content-language"] == "en"
    assert "Submit" in english.text and "Absenden" not in english.text
    french = client.get(f"/projects/{project.id}/label", headers={"Accept-Language": "fr-CH, fr;q=0.9"})
    assert '<html lang="en">' in french.text  # not shipped: English


def test_the_htmx_fragment_and_the_error_pages_are_translated_too(client, rt):
    _owner, person, project = _annotator_holding_a_task(rt)
    _sign_in(client, rt, person.email)
    page = client.get(f"/projects/{project.id}/label", headers=GERMAN)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    task_id = re.search(r'data-task-id="([^"]+)"', page.text).group(1)
    refused = client.post(
        f"/projects/{project.id}/label",
        data={"csrf_token": csrf, "task_id": task_id, "shown_at": "0"},
        headers={**GERMAN, "HX-Request": "true"},
    )
    assert refused.status_code == 200 and "Absenden" in refused.text and 'class="error"' in refused.text
    missing = client.get("/projects/prj_00000000000000000000000000", headers={**GERMAN, "Accept": "text/html"})
    assert missing.status_code == 404
    assert "Nicht gefunden" in missing.text and "Zurück zu Ihren Arbeitsbereichen" in missing.text
    home = client.get("/", headers=GERMAN)
    assert "Ihre Arbeitsbereiche" in home.text and "Annotieren" in home.text


def test_a_data_leads_page_stays_english_whole(client, rt):
    owner, _person, project = _annotator_holding_a_task(rt)
    _sign_in(client, rt, owner.email)
    page = client.get(f"/projects/{project.id}", headers=GERMAN)
    assert page.status_code == 200
    assert '<html lang="en">' in page.text and page.headers["content-language"] == "en"
    assert "Sign out" in page.text and "Abmelden" not in page.text  # no half-translated page


def test_signing_in_in_german(client, rt):
    make_user(rt, "someone.i18n@example.com", password=PASSWORD)
    form = client.get("/login", headers=GERMAN)
    assert '<html lang="de">' in form.text and "Passwort" in form.text and "Anmelden" in form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    wrong = client.post(
        "/login",
        data={"email": "someone.i18n@example.com", "password": "not it", "csrf_token": csrf, "next": "/"},
        headers=GERMAN,
    )
    assert wrong.status_code == 401 and "E-Mail-Adresse oder Passwort falsch" in wrong.text
    expired = client.post(
        "/login", data={"email": "x@example.com", "password": "y", "csrf_token": "stale", "next": "/"}, headers=GERMAN
    )
    assert expired.status_code == 403 and "Dieses Formular ist abgelaufen" in expired.text


# One phrase of each widget that the demo's config always shows, in German.
WIDGET_PHRASES = {
    "classification": "Eine Antwort wählen",
    "spans": "Markierungen",
    "preference": "Welche Antwort ist besser?",
    "ranking": "Rang von Antwort 1",
    "writing": "Vor dem Absenden bestätigen",
    "rubric": "zu bewertende Antwort",
    "image": "Das zu annotierende Bild",
}


def test_every_task_types_widget_is_translated(client, rt):
    setup_demo(rt)
    # The demo's workspace with a project of every task type (it may hold other workspaces besides).
    kinds = {
        ws.id: {p.task_type: p for p in projects.list_projects(system(rt), ws.id)}
        for ws in workspaces.list_workspaces(system(rt))
    }
    demo = max(kinds, key=lambda ws: len(kinds[ws]))
    person = make_user(rt, "polyglot.i18n@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), demo, person.id, "annotator")
    _sign_in(client, rt, person.email)
    found = {}
    for project in kinds[demo].values():
        assert queue.next_task(as_user(rt, person.id), project.id) is not None
        page = client.get(f"/projects/{project.id}/label", headers=GERMAN)
        assert page.status_code == 200 and 'lang="de"' in page.text, project.task_type
        found[project.task_type] = WIDGET_PHRASES[project.task_type] in page.text
    assert found == dict.fromkeys(WIDGET_PHRASES, True)
