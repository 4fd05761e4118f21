"""The data browser page: keyset pages of a project's tasks, for those who may browse them."""

from __future__ import annotations

import html
import re

from bastion.services import audit, content, users, workspaces
from factories import add_tasks, as_user, make_side, make_user, system

PASSWORD = "browse password long"


def _sign_in(client, rt, email):
    user = users.authenticate(rt, email, PASSWORD)
    secret, _ = users.create_session(rt, user)
    client.cookies.set("bastion_session", secret)


def _member(rt, side, role):
    """A member who has opened the workspace (a page view may not be their first access: it would bind them)."""
    person = make_user(rt, f"{role}.{side.workspace_id[-8:]}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    return person


def test_manager_pages_through_every_task_once(client, rt):
    side = make_side(rt, "br", n_tasks=0)
    add_tasks(rt, side.project_id, 120, prefix="row")
    manager = _member(rt, side, "manager")
    _sign_in(client, rt, manager.email)
    project_page = client.get(f"/projects/{side.project_id}")
    assert 'id="browse-link"' in project_page.text
    seen, url = [], f"/projects/{side.project_id}/tasks"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        ids = re.findall(r"<code>(tsk_\w+)</code>", page.text)
        assert len(ids) <= 50
        seen += ids
        found = re.search(r'id="next-page" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 120 and len(set(seen)) == 120 and seen == sorted(seen)
    assert "row 0" in client.get(f"/projects/{side.project_id}/tasks").text
    # Reading tasks is on the record.
    events = audit.list_entries(system(rt), side.workspace_id, limit=1000)["items"]
    assert sum(e.get("action") == "tasks.listed" for e in events) >= 3, events[-1]
    client.cookies.clear()


def test_the_page_escapes_task_text(client, rt):
    side = make_side(rt, "esc", n_tasks=0)
    from bastion.services import imports

    imports.import_tasks(system(rt), side.project_id, [(1, {"data": {"text": "<script>alert(1)</script> hi"}})])
    manager = _member(rt, side, "manager")
    _sign_in(client, rt, manager.email)
    page = client.get(f"/projects/{side.project_id}/tasks")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    client.cookies.clear()


def test_only_roles_that_may_browse_see_it(client, rt):
    side, other = make_side(rt, "rol", n_tasks=3), make_side(rt, "oth", n_tasks=3)
    people = {}
    for role, status in (("owner", 200), ("manager", 200), ("reviewer", 200), ("annotator", 403), ("auditor", 403)):
        person = people[role] = _member(rt, side, role)
        _sign_in(client, rt, person.email)
        assert client.get(f"/projects/{side.project_id}/tasks").status_code == status, role
        # Another workspace's project does not exist for them.
        assert client.get(f"/projects/{other.project_id}/tasks").status_code == 404, role
    # A refused filter: the form again with the message naming the field (422), for those who may browse.
    _sign_in(client, rt, people["manager"].email)
    for params, field in (({"cursor": "x" * 61}, "cursor"), ({"agreement_below": "high"}, "agreement_below")):
        r = client.get(f"/projects/{side.project_id}/tasks", params=params)
        assert r.status_code == 422 and field in r.text and 'id="browse-filters"' in r.text, r.text
    client.cookies.clear()
    assert client.get(f"/projects/{side.project_id}/tasks", follow_redirects=False).status_code in (303, 401)


def _sign_out_from(client, url):
    """Sign out with the form the page at ``url`` rendered (its CSRF token): answers the page's status."""
    page = client.get(url, headers={"accept": "text/html"})
    token = re.search(r'action="/logout".*?name="csrf_token" value="([^"]*)"', page.text, re.S)
    assert token and token.group(1), page.text
    signed_out = client.post("/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert signed_out.status_code == 303, signed_out.text
    return page.status_code


def test_sign_out_works_from_the_browser_and_its_error_pages(client, rt):
    side, other = make_side(rt, "out", n_tasks=2), make_side(rt, "oth2", n_tasks=1)
    manager, annotator = _member(rt, side, "manager"), _member(rt, side, "annotator")
    for person, url, status in (
        (manager, f"/projects/{side.project_id}/tasks", 200),  # the data browser
        (annotator, f"/projects/{side.project_id}/tasks", 403),  # the 403 page
        (manager, f"/projects/{other.project_id}/tasks", 404),  # the 404 page (another workspace's project)
    ):
        _sign_in(client, rt, person.email)
        assert _sign_out_from(client, url) == status, url
        client.cookies.clear()


def test_filters_are_a_plain_get_form_and_the_pages_keep_them(client, rt):
    side = make_side(rt, "flt", n_tasks=0)
    from bastion.services import imports

    lines = [
        (i + 1, {"data": {"text": f"note {i} {'refund' if i % 2 else 'other'}"}, "meta": {"n": i % 3}})
        for i in range(130)
    ]
    imports.import_tasks(system(rt), side.project_id, lines)
    manager = _member(rt, side, "manager")
    _sign_in(client, rt, manager.email)
    page = client.get(f"/projects/{side.project_id}/tasks", params={"q": "refund", "meta": "n=1"})
    assert page.status_code == 200 and 'method="get"' in page.text and 'value="refund"' in page.text
    links = re.findall(r'<a class="task-link" href="/tasks/(tsk_\w+)">', page.text)
    assert len(links) == 22  # odd i with i % 3 == 1: 1, 7, 13, … below 130
    nxt = re.search(r'id="next-page" href="([^"]+)"', page.text)
    assert nxt is None
    page = client.get(f"/projects/{side.project_id}/tasks", params={"q": "refund"})
    nxt = re.search(r'id="next-page" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert nxt.startswith(
        f"/projects/{side.project_id}/tasks?q=refund&cursor=tsk_"
    )  # readable: the filters, then where
    second = client.get(nxt)
    assert len(re.findall(r'class="task-link"', second.text)) == 15 and "note" in second.text
    assert "{" not in re.search(r'<td class="preview">([^<]*)</td>', second.text).group(1)  # a line of text, not JSON
    client.cookies.clear()


def test_owners_read_the_original_text_in_the_browser(client, rt):
    """The owner's data browser showed the owner's wording variant (a reported bug): owners read the
    task as imported; others still read their own variant (short texts: the whole text is the preview)."""
    from bastion.services import imports

    side = make_side(rt, "own", n_tasks=0)
    texts = [
        f"Note {i}: we do not organise it. They are late, it is grey. I am sure we cannot colour it." for i in range(6)
    ]
    imports.import_tasks(system(rt), side.project_id, [(i + 1, {"data": {"text": t}}) for i, t in enumerate(texts)])
    shown = {}
    for role in ("owner", "manager"):
        _sign_in(client, rt, _member(rt, side, role).email)
        page = client.get(f"/projects/{side.project_id}/tasks")
        shown[role] = sorted(html.unescape(p) for p in re.findall(r'<td class="preview">([^<]*)</td>', page.text))
        client.cookies.clear()
    assert shown["owner"] == sorted(texts)
    assert shown["manager"] != sorted(texts) and len(shown["manager"]) == len(texts)
