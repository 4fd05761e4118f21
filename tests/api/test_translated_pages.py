"""The annotator-facing pages speak the person's language (Accept-Language); the others stay English.

German is the shipped second language (src/bastion/web/locale/de); see docs/translations.md.
"""

from __future__ import annotations

import re

from bastion.demo import setup_demo
from bastion.services import content, projects, queue, users, workforce, workspaces
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


def test_the_annotators_own_pages_are_in_german_too(client, rt):
    """Progress, asking, undo (with the services' refusals) on the labelling page; their annotations and the edit page."""
    _owner, person, project = _annotator_holding_a_task(rt)
    _sign_in(client, rt, person.email)
    page = client.get(f"/projects/{project.id}/label", headers=GERMAN)
    for words in ("Ihr Fortschritt", "Heute von Ihnen annotiert", "Ihre Annotationen", "Ihre Frage", "Tasten"):
        assert words in page.text, words
    assert (
        "Die Manager zu dieser Aufgabe fragen" in page.text and "Meine letzte Annotation rückgängig machen" in page.text
    )
    assert not re.search(
        r">\s*(Your annotations|Undo my last annotation|Keep this task|Send the question)\b", page.text
    )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    task_id = re.search(r'data-task-id="([^"]+)"', page.text).group(1)
    hx = {**GERMAN, "HX-Request": "true"}
    url = f"/projects/{project.id}"
    nothing = client.post(f"{url}/undo", data={"csrf_token": csrf}, headers=hx)
    assert 'class="error"' in nothing.text and "Sie haben hier keine Annotation" in nothing.text
    blank = client.post(f"{url}/ask", data={"csrf_token": csrf, "task_id": task_id, "text": " "}, headers=hx)
    assert "Ihre Frage: Schreiben Sie ein paar Worte" in blank.text and "write a few words" not in blank.text
    asked = client.post(
        f"{url}/ask", data={"csrf_token": csrf, "task_id": task_id, "text": "Ironie?", "keep": "no"}, headers=hx
    )
    assert (
        "Ihre Frage ging an die Manager" in asked.text and "Die Aufgabe ist zurück in der Warteschlange" in asked.text
    )
    held = re.search(r'data-task-id="([^"]+)"', asked.text).group(1)
    client.post(f"{url}/label", data={"csrf_token": csrf, "task_id": held, "label": "pos", "shown_at": "0"}, headers=hx)

    mine = client.get(f"{url}/mine", headers=GERMAN)
    assert '<html lang="de">' in mine.text and mine.headers["content-language"] == "de"
    for words in ("Ihre Annotationen", "Ihre Fragen", "wartet auf Antwort", "nicht geprüft", "Zurück zum Annotieren"):
        assert words in mine.text, words
    assert "Ironie?" in mine.text  # the question itself, as it was asked
    edit = re.search(r'href="(/projects/[^"]+/mine/ann_\w+/edit)"', mine.text).group(1)
    form = client.get(edit, headers=GERMAN)
    assert '<html lang="de">' in form.text and "Änderung speichern" in form.text and "Abbrechen" in form.text
    assert "Eine Antwort wählen" in form.text  # the widget in the page's language
    assert "Your annotations" in client.get(f"{url}/mine").text  # English without the header


def test_the_walled_off_workspaces_line_is_in_german(client, rt):
    a = make_project(rt, workspaces.create_workspace(system(rt), "Acme", owner=make_user(rt, "o.a.i18n@x.org").id).id)
    b_ws = workspaces.create_workspace(system(rt), "Globex", owner=make_user(rt, "o.b.i18n@x.org").id)
    add_tasks(rt, a.id, 1)
    workforce.add_conflict(system(rt), a.workspace_id, b_ws.id)
    person = make_user(rt, "walled.i18n@example.com", password=PASSWORD)
    for ws in (a.workspace_id, b_ws.id):
        workspaces.add_member(system(rt), ws, person.id, "annotator")
    assert queue.next_task(as_user(rt, person.id), a.id) is not None  # works for Acme: Globex is walled off
    _sign_in(client, rt, person.email)
    page = client.get("/", headers=GERMAN)
    section = page.text[page.text.index('id="walled-off"') :].split("</section>")[0]
    assert "Für Sie gesperrt" in section and "Sie sind Mitglied dieses Arbeitsbereichs" in section
    assert "Globex" in section


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
    "chat": "Ihre Nachricht",
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


def test_each_refusal_the_labelling_page_translates_is_one_a_service_says():
    """REFUSALS are the services' own words: a reworded refusal would silently go untranslated."""
    from pathlib import Path

    from bastion.web.pages.projects import REFUSALS

    services = Path(__file__).resolve().parents[2] / "src" / "bastion" / "services"
    said = "\n".join(path.read_text() for path in services.glob("*.py"))
    named = {m: m.replace("text: ", "{field}: ", 1) for m in REFUSALS}  # services/questions.py names its field
    assert [m for m in REFUSALS if m not in said and named[m] not in said] == []
