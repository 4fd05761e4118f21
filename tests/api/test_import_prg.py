"""An import from the project page is Post/Redirect/Get: the POST answers 303 to a page showing
its report, so a reload shows the report again and imports nothing; the same form sent twice
answers the first import's report."""

from __future__ import annotations

import re

from bastion.services import audit, projects, users, workspaces
from factories import as_user, make_side, make_user, system

PASSWORD = "import prg password"
FILE = b'{"data": {"text": "one"}, "external_id": "a"}\n{"data": {"text": "two"}}\n{"oops"\n'


def _sign_in(client, rt, side, tag):
    person = make_user(rt, f"importer.{tag}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "manager")
    projects.get_project(as_user(rt, person.id), side.project_id)  # opened: bound
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def _key(html: str) -> str:
    return re.search(r'name="import_key" value="([^"]+)"', html).group(1)


def _imports(rt, workspace_id) -> int:
    log = audit.list_entries(system(rt), workspace_id, limit=1000)["items"]
    return len([e for e in log if e["action"] == "tasks.imported"])


def test_import_redirects_to_its_report_and_a_reload_imports_nothing(client, rt):
    side = make_side(rt, "prg", 0)
    csrf = _sign_in(client, rt, side, "prg")
    page = f"/projects/{side.project_id}"
    key = _key(client.get(page).text)
    form = {"csrf_token": csrf, "import_key": key}
    r = client.post(f"{page}/import", data=form, files={"file": ("t.jsonl", FILE)}, follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location == f"{page}?import={key}#import-report"
    shown = client.get(location.split("#")[0])
    assert shown.status_code == 200
    assert (
        "Imported <strong>2</strong>" in shown.text
        and "rejected 1" in shown.text
        and 'id="import-report"' in shown.text
    )
    assert _key(shown.text) != key  # the form on the report's page is a new import
    imported = _imports(rt, side.workspace_id)
    assert client.get(location.split("#")[0]).text.count("Imported <strong>2</strong>") == 1  # a reload: the report
    # The same form and file sent again (back, then submit): the first report, nothing imported.
    again = client.post(f"{page}/import", data=form, files={"file": ("t.jsonl", FILE)}, follow_redirects=False)
    assert again.headers["location"] == location
    assert _imports(rt, side.workspace_id) == imported
    assert projects.get_project(system(rt), side.project_id).counts.tasks == 2
    # The same form with another file: a new import, under a new key.
    other = client.post(
        f"{page}/import",
        data=form,
        files={"file": ("u.jsonl", b'{"data": {"text": "three"}}\n')},
        follow_redirects=False,
    )
    assert other.status_code == 303 and other.headers["location"] != location
    assert "Imported <strong>1</strong>" in client.get(other.headers["location"].split("#")[0]).text
    assert projects.get_project(system(rt), side.project_id).counts.tasks == 3
    client.cookies.clear()
    # Someone else with the key sees no report.
    _sign_in(client, rt, side, "prg-other")
    theirs = client.get(location.split("#")[0])
    assert "Imported <strong>" not in theirs.text and "no longer kept" in theirs.text
    client.cookies.clear()
