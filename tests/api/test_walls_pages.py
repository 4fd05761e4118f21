"""The workforce pages: conflicts, exclusions, explanations, people."""

from __future__ import annotations

import re

from bastion.services import approvals, queue, users, workforce, workspaces
from factories import make_side, make_user, system

PASSWORD = "pages password long"


def _sign_in(client, rt, email):
    user = users.authenticate(rt, email, PASSWORD)
    secret, csrf = users.create_session(rt, user)
    client.cookies.set("bastion_session", secret)
    return csrf


def test_owner_declares_a_competitor_and_explains(client, rt):
    a, b = make_side(rt, "pa", 1), make_side(rt, "pb", 1)
    owner = make_user(rt, "owner.pages@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), a.workspace_id, owner.id, "owner")
    csrf = _sign_in(client, rt, owner.email)
    page = client.get(f"/workspaces/{a.workspace_id}/walls")
    assert page.status_code == 200 and "No competitors declared" in page.text
    r = client.post(
        f"/workspaces/{a.workspace_id}/walls",
        data={"csrf_token": csrf, "action": "add-conflict", "competitor": b.workspace_id, "cooling_off_days": "30"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert b.workspace_id in client.get(f"/workspaces/{a.workspace_id}/walls").text
    r = client.post(
        f"/workspaces/{a.workspace_id}/walls",
        data={"csrf_token": csrf, "action": "add-exclusion", "org": "Rival <Capital>", "kind": "investor"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Rival &lt;Capital&gt;" in client.get(f"/workspaces/{a.workspace_id}/walls").text
    r = client.post(
        f"/workspaces/{a.workspace_id}/walls",
        data={"csrf_token": csrf, "action": "add-conflict", "competitor": "ws_nope"},
    )
    assert r.status_code == 422 and "not found" in r.text
    # A member who worked for B is explained as walled.
    both = make_user(rt, "both.pages@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, both.id, "annotator")
    from factories import as_user

    queue.next_task(as_user(rt, both.id), b.project_id)
    page = client.get(f"/workspaces/{a.workspace_id}/walls", params={"person": both.email})
    assert "Denied" in page.text and b.workspace_id in page.text
    assert (
        client.post(f"/workspaces/{a.workspace_id}/walls", data={"csrf_token": "bad", "action": "x"}).status_code == 403
    )
    assert client.get(f"/workspaces/{b.workspace_id}/walls").status_code == 404  # not a member of B
    client.cookies.clear()


def test_people_page_is_for_admins(client, rt):
    make_user(rt, "admin.pages@example.com", admin=True, password=PASSWORD)
    make_user(rt, "plain.pages@example.com", password=PASSWORD)
    _sign_in(client, rt, "admin.pages@example.com")
    page = client.get("/people")
    assert page.status_code == 200 and "plain.pages@example.com" in page.text
    _sign_in(client, rt, "plain.pages@example.com")
    assert client.get("/people").status_code == 403
    client.cookies.clear()


def _owner_of(rt, email, *sides):
    person = users.find_user_by_email(system(rt), email) or make_user(rt, email, password=PASSWORD)
    for side in sides:
        workspaces.add_member(system(rt), side.workspace_id, person.id, "owner")
    return person


def _text(response) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", response.text))


def test_competitors_by_name_without_revealing_other_clients(client, rt):
    a, b, c = make_side(rt, "na", 1), make_side(rt, "nb", 1), make_side(rt, "nc", 1)
    owner = _owner_of(rt, "owner.names@example.com", a, b)  # an owner of A and B; C is another client's
    csrf = _sign_in(client, rt, owner.email)
    url = f"/workspaces/{a.workspace_id}/walls"
    page = client.get(url)
    names = re.findall(r'<datalist id="workspace-names">(.*?)</datalist>', page.text, re.S)[0]
    assert "Workspace nb" in names and "Workspace nc" not in names and "Workspace na" not in names
    # C's name is not a thing A's owner can probe for.
    r = client.post(url, data={"csrf_token": csrf, "action": "add-conflict", "competitor": "Workspace nc"})
    assert r.status_code == 422 and "none of your workspaces is named" in _text(r)
    assert client.post(url, data={"csrf_token": csrf, "action": "add-conflict", "competitor": ""}).status_code == 422
    r = client.post(
        url,
        data={"csrf_token": csrf, "action": "add-conflict", "competitor": " workspace NB ", "cooling_off_days": "30"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [w["competitor"] for w in workforce.walls_overview(system(rt), a.workspace_id)["walls"]] == [b.workspace_id]
    # By id, as the API takes it: C is declared, and listed by its id alone.
    r = client.post(url, data={"csrf_token": csrf, "action": "add-conflict", "competitor": c.workspace_id})
    assert r.status_code == 200 and "Competitor declared." in r.text
    page = client.get(url)
    rows = page.text.split('id="conflicts"')[1].split("</table>")[0]
    assert "Workspace nb" in rows and "Workspace nc" not in page.text and c.workspace_id in page.text
    assert "30.0 days" in rows and "never lifts" in rows
    # Everyone on C's side of the wall sees A by id, never by name.
    c_owner = make_user(rt, "c.owner.names@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), c.workspace_id, c_owner.id, "owner")
    _sign_in(client, rt, c_owner.email)
    page = client.get(f"/workspaces/{c.workspace_id}/walls")
    assert a.workspace_id in page.text and "Workspace na" not in page.text
    client.cookies.clear()


def test_removing_a_wall_takes_two_owners_and_the_other_side_may_consent(client, rt):
    a, b = make_side(rt, "ra", 1), make_side(rt, "rb", 1)
    owner = _owner_of(rt, "owner.remove@example.com", a)
    co = make_user(rt, "co.remove@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), a.workspace_id, co.id, "owner")
    workforce.add_conflict(system(rt), a.workspace_id, b.workspace_id)
    url = f"/workspaces/{a.workspace_id}/walls"
    csrf = _sign_in(client, rt, owner.email)
    page = client.get(url)
    assert 'value="request-removal"' in page.text
    r = client.post(url, data={"csrf_token": csrf, "action": "request-removal", "competitor": b.workspace_id})
    assert r.status_code == 422 and "reason" in _text(r)  # why, for the audit log
    # Without an approval, withdrawing is refused and named (nothing changes).
    r = client.post(url, data={"csrf_token": csrf, "action": "remove-conflict", "competitor": b.workspace_id})
    assert r.status_code == 422 and "two-person approval" in _text(r)
    r = client.post(
        url,
        data={"csrf_token": csrf, "action": "request-removal", "competitor": b.workspace_id, "reason": "merged"},
    )
    assert r.status_code == 200 and "waiting for a second owner" in _text(r)
    # The second owner sees the request waiting for them, and approves it on the approvals page.
    co_csrf = _sign_in(client, rt, co.email)
    assert "waiting for your approval" in _text(client.get(url))
    pending = approvals.list_approvals(system(rt), a.workspace_id, state="pending")
    r = client.post(
        f"/workspaces/{a.workspace_id}/approvals",
        data={"csrf_token": co_csrf, "action": "approve", "approval": pending[0]["id"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Removal approved: the owner who asked for it withdraws it." in client.get(url).text
    csrf = _sign_in(client, rt, owner.email)
    page = client.get(url)
    approval_id = re.search(r'name="approval" value="(apr_\w+)"', page.text).group(1)
    assert "Withdraw (approved)" in page.text
    r = client.post(
        url,
        data={"csrf_token": csrf, "action": "remove-conflict", "competitor": b.workspace_id, "approval": approval_id},
    )
    assert r.status_code == 200 and "Withdrawal scheduled: the wall falls" in _text(r) and "UTC" in _text(r)
    assert [w["competitor"] for w in workforce.walls_overview(system(rt), a.workspace_id)["walls"]] == [b.workspace_id]
    # B's owner sees A withdrawing, and consents: the wall falls now.
    b_owner = _owner_of(rt, "second.rb@example.com", b)
    b_csrf = _sign_in(client, rt, b_owner.email)
    page = client.get(f"/workspaces/{b.workspace_id}/walls")
    assert "The competitor withdraws its declaration" in _text(page) and "Consent now" in page.text
    r = client.post(
        f"/workspaces/{b.workspace_id}/walls",
        data={"csrf_token": b_csrf, "action": "consent", "competitor": a.workspace_id},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert workforce.walls_overview(system(rt), a.workspace_id)["walls"] == []
    client.cookies.clear()


def test_exclusions_are_removed_and_only_owners_change_walls(client, rt):
    a, b = make_side(rt, "xa", 1), make_side(rt, "xb", 1)
    owner = _owner_of(rt, "owner.excl@example.com", a)
    workforce.add_exclusion(system(rt), a.workspace_id, "Rival Capital", "investor")
    workforce.add_conflict(system(rt), a.workspace_id, b.workspace_id)
    url = f"/workspaces/{a.workspace_id}/walls"
    for role in ("manager", "auditor", "reviewer", "annotator"):
        person = make_user(rt, f"{role}.excl@example.com", password=PASSWORD)
        workspaces.add_member(system(rt), a.workspace_id, person.id, role)
        csrf = _sign_in(client, rt, person.email)
        page = client.get(url)
        assert page.status_code == 200
        assert ("Rival Capital" in page.text) is (role in ("manager", "auditor"))  # walls.read
        assert 'value="remove-exclusion"' not in page.text and 'value="request-removal"' not in page.text
        for data in (
            {"action": "remove-exclusion", "org": "Rival Capital", "kind": "investor"},
            {"action": "add-conflict", "competitor": b.workspace_id},
            {"action": "remove-conflict", "competitor": b.workspace_id},
        ):
            assert client.post(url, data={"csrf_token": csrf, **data}).status_code == 403, (role, data)
    csrf = _sign_in(client, rt, owner.email)
    assert client.post(url, data={"action": "remove-exclusion", "org": "Rival Capital"}).status_code == 403  # no CSRF
    r = client.post(url, data={"csrf_token": csrf, "action": "remove-exclusion", "org": "Nobody Inc", "kind": ""})
    assert r.status_code == 422 and "no such exclusion" in r.text
    r = client.post(
        url, data={"csrf_token": csrf, "action": "remove-exclusion", "org": "Rival Capital", "kind": "investor"}
    )
    assert r.status_code == 200 and "Exclusion removed." in r.text
    assert workforce.list_exclusions(system(rt), a.workspace_id) == []
    # Another workspace's walls page and forms: as if it did not exist.
    assert client.get(f"/workspaces/{b.workspace_id}/walls").status_code == 404
    r = client.post(
        f"/workspaces/{b.workspace_id}/walls", data={"csrf_token": csrf, "action": "add-exclusion", "org": "X"}
    )
    assert r.status_code == 404
    client.cookies.clear()


def test_the_people_page_names_workspaces(client, rt):
    side = make_side(rt, "ppl", 1)
    from factories import as_user

    person = make_user(rt, "history.ppl@example.com")
    workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    queue.next_task(as_user(rt, person.id), side.project_id)
    make_user(rt, "admin.ppl@example.com", admin=True, password=PASSWORD)
    _sign_in(client, rt, "admin.ppl@example.com")
    row = client.get("/people").text.split("history.ppl@example.com")[1].split("</tr>")[0]
    assert "Workspace ppl" in row and side.workspace_id not in row
    client.cookies.clear()
