"""The workforce dashboard over HTTP: the API and the pages, for every role, never a task's content.

Tasks, answers and a review comment carry a canary string; no role that may open the dashboard
(owner, manager, workforce manager) sees it anywhere in the API's or the pages' output.
"""

from __future__ import annotations

import pytest

from bastion.services import annotations, imports, queue, reviews, users, workspaces
from factories import make_side, make_token, make_user, system

CANARY = "CANARY-http-dash-9b2c"
SEE = ("owner", "manager", "workforce_manager")
REFUSED = ("reviewer", "annotator", "auditor")


@pytest.fixture
def side(rt):
    side = make_side(rt, "hd", n_tasks=0, settings={"overlap": 1, "quality": {"review": "all"}})
    items = [(i + 1, {"data": {"text": f"{CANARY} {i}"}, "external_id": f"{CANARY}-{i}"}) for i in range(4)]
    imports.import_tasks(system(rt), side.project_id, items)
    worker = side.ctx(rt, "annotator")
    for _ in range(2):
        task = queue.next_task(worker, side.project_id)
        annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    item = reviews.review_next(side.ctx(rt, "reviewer"), side.project_id)
    reviews.review_annotation(side.ctx(rt, "reviewer"), item["annotation"]["id"], "reject", comment=f"{CANARY} no")
    queue.next_task(worker, side.project_id)  # a lease held now
    wm = make_user(rt, "wm.hd@example.com", password="workforce password")
    workspaces.add_member(system(rt), side.workspace_id, wm.id, "workforce_manager")
    side.users["workforce_manager"] = wm.id
    side.tokens["workforce_manager"] = make_token(rt, wm.id)
    return side


def _session(rt, client, role: str) -> None:
    email = "wm.hd@example.com" if role == "workforce_manager" else f"{role}.hd@example.com"
    person = users.find_user_by_email(system(rt), email)
    secret, _ = users.create_session(rt, person)
    client.cookies.set("bastion_session", secret)


def test_roles_that_see_it_never_see_content(rt, client, side):
    ws = side.workspace_id
    for role in SEE:
        r = client.get(f"/api/v1/workspaces/{ws}/workforce", headers=side.headers(role))
        assert r.status_code == 200, (role, r.text)
        body = r.json()
        assert body["workspace_id"] == ws and CANARY not in r.text
        assert [a["user_id"] for a in body["active_now"]] == [side.users["annotator"]]
        assert body["throughput"]["total"] == 2
        everywhere = client.get("/api/v1/workforce", headers=side.headers(role))
        assert everywhere.status_code == 200 and CANARY not in everywhere.text
        assert [s["workspace_id"] for s in everywhere.json()["workspaces"]] == [ws]
        _session(rt, client, role)
        assert f'href="/workspaces/{ws}/workforce"' in client.get("/").text  # the home page links it
        for path in (f"/workspaces/{ws}/workforce", "/workforce"):
            page = client.get(path)
            assert page.status_code == 200, (role, path, page.text[:300])
            assert CANARY not in page.text and "Active now" in page.text and "Forecast" in page.text
            assert "annotator.hd@example.com" in page.text
        client.cookies.clear()


def test_other_roles_are_refused_and_other_workspaces_do_not_exist(rt, client, side):
    ws = side.workspace_id
    other = make_side(rt, "hd-other", n_tasks=1)
    for role in REFUSED:
        r = client.get(f"/api/v1/workspaces/{ws}/workforce", headers=side.headers(role))
        assert r.status_code == 403, (role, r.text)
        assert client.get("/api/v1/workforce", headers=side.headers(role)).json()["workspaces"] == []
        _session(rt, client, role)
        assert "/workforce" not in client.get("/").text
        assert client.get(f"/workspaces/{ws}/workforce").status_code == 403
        empty = client.get("/workforce")
        assert empty.status_code == 200 and "You manage people in no workspace" in empty.text
        client.cookies.clear()
    for role in SEE + REFUSED:
        r = client.get(f"/api/v1/workspaces/{other.workspace_id}/workforce", headers=side.headers(role))
        assert r.status_code == 404, (role, r.text)
        assert other.workspace_id not in client.get("/api/v1/workforce", headers=side.headers(role)).text
    missing = client.get("/api/v1/workspaces/ws_nothing/workforce", headers=side.headers("owner"))
    assert missing.status_code == 404


def test_the_earnings_column_appears_only_with_earnings(rt, client, side, monkeypatch):
    from bastion.services import dashboard

    _session(rt, client, "workforce_manager")
    assert "Earnings to date" not in client.get(f"/workspaces/{side.workspace_id}/workforce").text
    monkeypatch.setattr(
        dashboard,
        "earnings_provider",
        lambda ctx, ws: {side.users["annotator"]: {"amount": "40.00", "currency": "EUR"}},
    )
    page = client.get(f"/workspaces/{side.workspace_id}/workforce").text
    assert "Earnings to date" in page and "40.00 EUR" in page
