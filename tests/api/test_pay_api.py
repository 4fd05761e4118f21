"""Pay over the API: a manager makes, approves, locks and downloads a statement; every role is tried.

Invariants: roles without people.read get 403, another workspace's statement 404; a locked statement
answers 409 ``statement_locked`` to every change; the person paid reads their own statement only;
the CSV rows are the statement's lines.
"""

from __future__ import annotations

import csv
import io

from bastion.services import annotations, pay, queue, workspaces
from factories import make_side, make_token, make_user, system


def _setup(rt, client, tag):
    side = make_side(rt, tag, n_tasks=3)
    wfm = make_user(rt, f"wfm.{tag}@example.com").id
    workspaces.add_member(system(rt), side.workspace_id, wfm, "workforce_manager")
    side.users["workforce_manager"], side.tokens["workforce_manager"] = wfm, make_token(rt, wfm)
    owner = side.headers("owner")
    assert client.put(f"/api/v1/workspaces/{side.workspace_id}/pay/settings", headers=owner,
                      json={"currency": "EUR"}).status_code == 200  # fmt: skip
    r = client.post(f"/api/v1/workspaces/{side.workspace_id}/pay/rates", headers=side.headers("workforce_manager"),
                    json={"task_type": "classification", "per_task": 150, "effective_from": 0})  # fmt: skip
    assert r.status_code == 201, r.text
    worker = side.ctx(rt, "annotator")
    done = []
    for _ in range(2):
        task = queue.next_task(worker, side.project_id)
        done.append(annotations.submit_annotation(worker, task["id"], {"label": "pos"}, lead_time_ms=1000)["id"])
    return side, done


def test_statement_lifecycle_over_the_api(rt, client):
    side, done = _setup(rt, client, "api")
    wfm = side.headers("workforce_manager")
    r = client.post(f"/api/v1/workspaces/{side.workspace_id}/pay/statements", headers=wfm,
                    json={"user_id": side.users["annotator"], "period_start": 0, "period_end": 10**13})  # fmt: skip
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    got = client.get(f"/api/v1/pay-statements/{sid}", headers=wfm).json()
    assert [line["annotation_id"] for line in got["lines"]] == done and got["total"] == 300
    # the person paid reads their own; others without people.read are refused
    assert client.get(f"/api/v1/pay-statements/{sid}", headers=side.headers("annotator")).status_code == 200
    for role in ("reviewer", "auditor"):
        assert client.get(f"/api/v1/pay-statements/{sid}", headers=side.headers(role)).status_code == 403
        assert client.post(f"/api/v1/pay-statements/{sid}/approve", headers=side.headers(role)).status_code == 403
        listed = client.get(f"/api/v1/workspaces/{side.workspace_id}/pay/statements", headers=side.headers(role))
        assert listed.status_code == 403
    assert client.post(f"/api/v1/pay-statements/{sid}/approve", headers=side.headers("annotator")).status_code == 403
    assert client.post(f"/api/v1/pay-statements/{sid}/approve", headers=wfm).json()["status"] == "approved"
    assert client.post(f"/api/v1/pay-statements/{sid}/lock", headers=side.headers("manager")).status_code == 200
    for method, url in (
        ("post", f"/api/v1/pay-statements/{sid}/approve"),
        ("post", f"/api/v1/pay-statements/{sid}/lock"),
        ("delete", f"/api/v1/pay-statements/{sid}"),
    ):
        r = client.request(method.upper(), url, headers=side.headers("owner"))
        assert r.status_code == 409 and r.json()["error"]["code"] == "statement_locked", r.text
    r = client.get(f"/api/v1/pay-statements/{sid}/csv", headers=wfm)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["annotation_id"] for row in rows if row["kind"] == "annotation"] == done
    assert [row["amount"] for row in rows] == ["150", "150", "300"]


def test_foreign_statements_are_not_found_and_own_approval_is_refused(rt, client):
    a, _ = _setup(rt, client, "a")
    b, _ = _setup(rt, client, "b")
    sid = pay.create_statement(system(rt), a.workspace_id, a.users["annotator"], 0, 10**13)["id"]
    for role in ("owner", "manager", "workforce_manager", "annotator"):
        for method, url in (
            ("GET", f"/api/v1/pay-statements/{sid}"),
            ("GET", f"/api/v1/pay-statements/{sid}/csv"),
            ("POST", f"/api/v1/pay-statements/{sid}/approve"),
            ("POST", f"/api/v1/pay-statements/{sid}/lock"),
            ("DELETE", f"/api/v1/pay-statements/{sid}"),
        ):
            assert client.request(method, url, headers=b.headers(role)).status_code == 404, (role, url)
    own = pay.create_statement(system(rt), a.workspace_id, a.users["manager"], 0, 10**13)["id"]
    r = client.post(f"/api/v1/pay-statements/{own}/approve", headers=a.headers("manager"))
    assert r.status_code == 403 and "your own" in r.json()["error"]["message"]
    bad = client.post(f"/api/v1/workspaces/{a.workspace_id}/pay/rates", headers=a.headers("owner"),
                      json={"task_type": "classification", "per_task": -5})  # fmt: skip
    assert bad.status_code == 422 and "per_task" in bad.text


PASSWORD = "pay pages password"


def _sign_in(client, rt, email):
    from bastion.services import users

    secret, csrf = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def test_pages_list_open_approve_lock_and_download(rt, client):
    side, done = _setup(rt, client, "pg")
    boss = make_user(rt, "pay.boss@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, boss.id, "workforce_manager")
    csrf = _sign_in(client, rt, boss.email)
    page = client.get(f"/workspaces/{side.workspace_id}/pay")
    assert page.status_code == 200 and "No statements yet" in page.text
    r = client.post(f"/workspaces/{side.workspace_id}/pay", follow_redirects=False,
                    data={"csrf_token": csrf, "person": "", "period_start": "1970-01-01", "period_end": "2200-01-01"})  # fmt: skip
    assert r.status_code == 303
    listed = pay.list_statements(system(rt), side.workspace_id)
    assert [s["user_id"] for s in listed] == [side.users["annotator"]]
    sid = listed[0]["id"]
    bad = client.post(f"/workspaces/{side.workspace_id}/pay",
                      data={"csrf_token": csrf, "person": "", "period_start": "soon", "period_end": "2200-01-01"})  # fmt: skip
    assert bad.status_code == 422 and "period_start" in bad.text
    shown = client.get(f"/pay-statements/{sid}")
    assert shown.status_code == 200 and all(a in shown.text for a in done) and 'id="approve"' in shown.text
    r = client.post(f"/pay-statements/{sid}", data={"csrf_token": csrf, "action": "approve"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"/pay-statements/{sid}", data={"csrf_token": csrf, "action": "lock"}, follow_redirects=False)
    assert r.status_code == 303
    again = client.post(f"/pay-statements/{sid}", data={"csrf_token": csrf, "action": "approve"})
    assert again.status_code == 409 and "locked" in again.text
    got = client.get(f"/pay-statements/{sid}/csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [row["annotation_id"] for row in rows if row["kind"] == "annotation"] == done
    # a reviewer signed in sees no pay page and no one else's statement
    reviewer = make_user(rt, "pay.reviewer@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, reviewer.id, "reviewer")
    _sign_in(client, rt, reviewer.email)
    assert client.get(f"/workspaces/{side.workspace_id}/pay").status_code == 403
    assert client.get(f"/pay-statements/{sid}").status_code == 403
    assert client.get(f"/pay-statements/{sid}/csv").status_code == 403
